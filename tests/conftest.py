import pytest

from engine import Store
from tests.support import FakeClock


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


@pytest.fixture
def store(open_store):
    return open_store()
