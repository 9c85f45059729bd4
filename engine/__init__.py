"""RedisLite: a small, durable, in-memory key-value engine.

    from tornwrite.engine import Store
    with Store.open("data") as store:
        store.set("greeting", b"hello")

The guarantees are in docs/COMMANDS.md (semantics) and docs/FORMAT.md (what is on disk).
"""

from tornwrite.engine.errors import (
    ClockError,
    CorruptDataError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
    RedisLiteError,
    ReentrantCallError,
    SnapshotError,
    StoreClosedError,
    StoreFailedError,
    StoreLockedError,
    WrongTypeError,
)
from tornwrite.engine.io import IOEvent, IOLayer, OsFileSystem
from tornwrite.engine.recovery import Discarded, RecoveryReport
from tornwrite.engine.store import Store

__all__ = [
    "Store",
    "IOLayer",
    "IOEvent",
    "OsFileSystem",
    "RecoveryReport",
    "Discarded",
    "RedisLiteError",
    "WrongTypeError",
    "InvalidKeyError",
    "InvalidValueError",
    "InvalidArgumentError",
    "ClockError",
    "ReentrantCallError",
    "StoreClosedError",
    "StoreLockedError",
    "StoreFailedError",
    "SnapshotError",
    "CorruptDataError",
]
