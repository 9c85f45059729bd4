"""The cp and mv script of shell_cp_mv.py without its syncs: caught by power loss.

cp does not fsync and mv does not fsync the directory: after a power loss db.json may be
the renamed temp file with none of its data (integrity), or the old file (durability).
"""

from shell_cp_mv import check, recover, save_each  # noqa: F401 (the same file and promise)

SCRIPT = """set -e
cd "$1"
printf '%s' "$2" > staging.json
cp staging.json db.json.tmp
mv db.json.tmp db.json
"""  # BROKEN: nothing is synced before the ack


def workload(path, ack):
    save_each(path, ack, SCRIPT)
