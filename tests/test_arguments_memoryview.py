"""A released memoryview is a bad value: InvalidValueError, nothing written, and the model agrees."""

import pytest

from tornwrite.engine import InvalidValueError
from tornwrite.models.opmodel import Refusal, apply
from tornwrite.models.ops import Op


def released() -> memoryview:
    view = memoryview(b"payload")
    view.release()
    return view


WRITES = {
    "set": lambda value: Op.of("set", "k", value),
    "rpush": lambda value: Op.of("rpush", "k", b"first", value),
    "hset": lambda value: Op.of("hset", "k", {"f": b"v", "g": value}),
}


@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_released_memoryview_is_refused_as_an_invalid_value_and_writes_nothing(open_store, command):
    store = open_store()
    store.set("other", b"kept")
    before, next_lsn = store.dump(), store._next_lsn
    with pytest.raises(InvalidValueError, match="released memoryview"):
        WRITES[command](released()).apply_to(store)
    assert store.dump() == before
    assert store._next_lsn == next_lsn  # no WAL record was written


@pytest.mark.parametrize("command", sorted(WRITES))
def test_the_op_model_predicts_the_refusal_of_a_released_memoryview(command):
    state = {"other": ("string", b"kept", None)}
    new_state, result = apply(state, WRITES[command](released()), now=1000.0)
    assert result == Refusal("InvalidValueError")
    assert new_state is state


@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_live_memoryview_is_stored_as_a_bytes_copy(open_store, command):
    store = open_store()
    buffer = bytearray(b"payload")
    WRITES[command](memoryview(buffer)).apply_to(store)
    buffer[:] = b"changed"
    _, value, _ = store.dump()["k"]
    stored = value if command == "set" else value[-1] if command == "rpush" else value["g"]
    assert type(stored) is bytes and stored == b"payload"
