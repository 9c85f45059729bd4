"""The *at forms: the atomic-replace recipe and job removal, every call relative to a directory fd.

The data lives in `sub/`, opened once as a directory descriptor; openat, renameat and unlinkat
name files relative to it, and the fsync that makes their entries durable is the descriptor's
own. A trace that resolved the names against the working directory, or the target's directory,
would see other files. The broken twins leave out the fsync of the directory descriptor: the
acked save (or removal) is lost on power loss.
"""

import json
import os

from pairkit import DB, OPS, check_json, saves, target, write_new

SUB = "sub"


def at_directory(path: str) -> int:
    return os.open(os.path.join(path, SUB), os.O_RDONLY | os.O_DIRECTORY)


def setup_sub(path: str) -> None:
    os.mkdir(os.path.join(path, SUB))


def replacing(sync_dir: bool):
    def workload(path, ack):
        directory = at_directory(path)
        try:

            def save(data: bytes) -> None:
                write_new(path, DB + ".tmp", data, sync=True, dir_fd=directory)
                os.rename(DB + ".tmp", DB, src_dir_fd=directory, dst_dir_fd=directory)
                if sync_dir:
                    os.fsync(directory)

            saves(ack, save)
        finally:
            os.close(directory)

    return target(workload, setup=setup_sub, recover=recover_sub, check=check_json)


def recover_sub(path: str) -> dict:
    try:
        with open(os.path.join(path, SUB, DB), "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return {}


def removing(sync_dir: bool):
    def setup(path):
        setup_sub(path)
        for n in range(OPS):
            with open(os.path.join(path, SUB, f"job{n}"), "wb") as f:
                f.write(b"job\n")

    def workload(path, ack):
        directory = at_directory(path)
        try:
            for n in range(OPS):
                os.unlink(f"job{n}", dir_fd=directory)
                if sync_dir:
                    os.fsync(directory)
                ack(n)
        finally:
            os.close(directory)

    def recover(path):
        return sorted(int(name[3:]) for name in os.listdir(os.path.join(path, SUB)))

    def check(remaining, acked):
        back = [n for n in acked if n in remaining]
        assert not back, f"lost acked removals: {back} came back"

    return target(workload, setup=setup, recover=recover, check=check)


renameat_ok = replacing(sync_dir=True)
renameat_broken = replacing(sync_dir=False)
unlinkat_ok = removing(sync_dir=True)
unlinkat_broken = removing(sync_dir=False)
