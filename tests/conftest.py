import os

import pytest
from hypothesis import HealthCheck, settings

from tests.support import FakeClock
from tornwrite.engine import Store

# Hypothesis profiles: the default keeps `make test` quick; "deep" is the nightly-style run.
# Choose with `pytest --hypothesis-profile=deep` or REDISLITE_HYPOTHESIS_PROFILE=deep.
settings.register_profile(
    "redislite", max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=3000, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("REDISLITE_HYPOTHESIS_PROFILE", "redislite"))


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
