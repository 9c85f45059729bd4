"""A user's install: the wheel built from this checkout, installed into fresh venvs outside it,
with and without extras. A plain install runs `tornwrite --help`, a `program` run and an
unrelated pytest suite (the plugin loads in every run of the venv); the campaign names the extra
it needs; the extras run it; py.typed ships. Slow (about a minute: pip, then the runs)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TARGET = """
import os

def workload(path, ack):
    for n in range(3):
        with open(os.path.join(path, "tmp"), "w") as f:
            f.write(str(n))
            f.flush()
            os.fsync(f.fileno())
        os.replace(os.path.join(path, "tmp"), os.path.join(path, "db"))
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        ack(n)

def recover(path):
    name = os.path.join(path, "db")
    return int(open(name).read()) if os.path.exists(name) else -1

def check(state, acked, in_flight=None):
    assert not acked or state >= acked[-1], f"lost save {acked[-1]}"
"""


def pip(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def install(where: Path) -> dict[str, Path]:
    """{"plain": venv, "campaign": venv}, each with the wheel built from this checkout and pytest."""
    build = pip("wheel", str(ROOT), "--no-deps", "-q", "-w", str(where / "wheel"))
    assert build.wait(timeout=300) == 0, build.communicate()[0]
    (wheel,) = (where / "wheel").glob("tornwrite-*.whl")
    made, installs = {}, []
    for name, spec in (("plain", str(wheel)), ("campaign", f"{wheel}[campaign]")):
        made[name] = where / name
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(made[name])], check=True, timeout=120)
        installs.append(pip("--python", str(made[name] / "bin" / "python"), "install", "-q", spec, "pytest"))
    for running in installs:  # both at once: pip spends most of its time waiting on the index
        assert running.wait(timeout=600) == 0, running.communicate()[0]
    return made


def run(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True)


def help_a_program_run_and_an_unrelated_suite_work(venv: Path, outside: Path) -> None:
    done = run(venv, "tornwrite", "--help", cwd=outside)
    assert done.returncode == 0 and "program" in done.stdout, done.stderr
    done = run(venv, "tornwrite", "program", "target.py", "--quiet", "--out", f"report-{venv.name}", cwd=outside)
    assert done.returncode == 0 and "every state ok:" in done.stdout, done.stdout + done.stderr
    assert (outside / f"report-{venv.name}" / "summary.md").exists()
    done = run(venv, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_unrelated.py", cwd=outside)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


def a_plain_install_names_the_extra_the_campaign_needs(venv: Path, outside: Path) -> None:
    done = run(venv, "tornwrite", "campaign", "--workload", "basic", "--out", "c", cwd=outside)
    assert done.returncode == 2 and "pip install 'tornwrite[campaign]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (outside / "c").exists()


def the_campaign_extra_runs_a_campaign_and_walkthroughs_write_nothing_unasked(venv: Path, outside: Path) -> None:
    argv = ("campaign", "--workload", "basic", "--kinds", "power", "--ops", "5", "--budget", "2", "--jobs", "1")
    done = run(venv, "tornwrite", *argv, "--out", "c", cwd=outside)
    assert done.returncode == 0 and "every state ok:" in done.stdout, done.stdout + done.stderr
    before = sorted(os.listdir(outside))
    done = run(venv, "tornwrite", "walkthrough", "wal-torn-write", cwd=outside)
    assert done.returncode == 0 and "not written: give --out DIR" in done.stdout, done.stderr
    assert sorted(os.listdir(outside)) == before


def py_typed_ships(venv: Path) -> None:
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert all((site / "tornwrite" / package / "py.typed").exists() for package in ("engine", "models", "faultinject"))


@pytest.mark.slow
def test_a_wheel_works_outside_the_checkout_with_and_without_extras(tmp_path):
    """One test, so that under xdist the wheel and the venvs are built once."""
    venvs = install(tmp_path / "install")
    outside = tmp_path / "user"
    outside.mkdir()
    (outside / "target.py").write_text(TARGET)
    (outside / "test_unrelated.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n")
    for venv in venvs.values():
        help_a_program_run_and_an_unrelated_suite_work(venv, outside)
    a_plain_install_names_the_extra_the_campaign_needs(venvs["plain"], outside)
    the_campaign_extra_runs_a_campaign_and_walkthroughs_write_nothing_unasked(venvs["campaign"], outside)
    py_typed_ships(venvs["plain"])
