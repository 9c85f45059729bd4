import os

import pytest
from hypothesis import HealthCheck, settings

from tests.support import FakeClock
from tornwrite.engine import Store

# Hypothesis profiles. "ci", the default (`make test`), is derandomised and keeps no example
# database: every run tries the same examples, so what it catches it catches every time, and
# tests/test_stateful_mutants.py proves it deep enough for the state machine's planted bugs.
# "deep" is random and ten times longer, for hunting bugs nobody planted; choose it with
# `pytest --hypothesis-profile=deep` or TORNWRITE_HYPOTHESIS_PROFILE=deep.
settings.register_profile(
    "ci",
    max_examples=100,
    stateful_step_count=100,  # long programs: a crash must land between two records of one write
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=3000,
    stateful_step_count=80,
    deadline=None,
    print_blob=True,  # a failure found at random prints the blob that replays it
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("TORNWRITE_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def open_store(tmp_path, clock):
    """open_store(path=None, **options): a Store on tmp_path/data, closed after the test."""
    opened = []

    def _open(path=None, **options):
        options.setdefault("clock", clock)
        store = Store.open(path or tmp_path / "data", **options)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture(params=["os", "sim"])
def store(request, open_store):
    """A fresh Store on the real file system and, in a second run, on the simulated disk."""
    if request.param == "os":
        return open_store()
    from tornwrite.engine import IOLayer
    from tornwrite.faultinject.core.simdisk import SimDisk

    return open_store("/sim/data", io=IOLayer(SimDisk()))
