"""RedisLite: a small, durable, in-memory key-value engine.

    from engine import Store
    with Store.open("data") as store:
        store.set("greeting", b"hello")

The guarantees are in docs/COMMANDS.md (semantics) and docs/FORMAT.md (what is on disk).
"""

from engine.errors import (CorruptDataError, InvalidKeyError, InvalidValueError, RedisLiteError,
                           SnapshotError, StoreClosedError, StoreFailedError, StoreLockedError,
                           WrongTypeError)
from engine.io import IOEvent, IOLayer, OsFileSystem
from engine.recovery import Discarded, RecoveryReport
from engine.store import Store

__all__ = [
    "Store", "IOLayer", "IOEvent", "OsFileSystem", "RecoveryReport", "Discarded",
    "RedisLiteError", "WrongTypeError", "InvalidKeyError", "InvalidValueError", "StoreClosedError",
    "StoreLockedError", "StoreFailedError", "SnapshotError", "CorruptDataError",
]
