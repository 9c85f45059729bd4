"""The engine's errors: one base class, one subclass per thing a caller can act on."""


class RedisLiteError(Exception):
    """Base of every error the engine raises on purpose."""


class WrongTypeError(RedisLiteError):
    """The key holds another kind of value; nothing was written."""


class InvalidKeyError(RedisLiteError, ValueError):
    """A key or hash field that is not a UTF-8 `str` (or UTF-8 `bytes`)."""


class InvalidValueError(RedisLiteError, ValueError):
    """A value, number or argument list the command does not accept; nothing was written."""


class InvalidArgumentError(InvalidValueError):
    """An option of `Store.open` of the wrong type or out of range; the directory was not touched."""


class ClockError(RedisLiteError):
    """The store's clock returned something other than a finite number; nothing was written."""


class ReentrantCallError(RedisLiteError):
    """A command called from inside the store's own callback (its clock, an I/O hook) on the thread
    that is running a write or a snapshot: waiting for the lock that thread holds would never end."""


class StoreClosedError(RedisLiteError):
    """The store was closed."""


class StoreLockedError(RedisLiteError):
    """Another Store, in this process or another, holds the directory."""


class StoreFailedError(RedisLiteError):
    """A WAL write or fsync failed; writes are refused until the directory is reopened.

    After a failed fsync the kernel may already have dropped the dirty pages, so retrying and
    carrying on could ack a write that is not on disk (PostgreSQL's fsync lesson of 2018).
    The op that met the error may or may not be durable; reopening decides, and it is then
    either wholly present or wholly absent.
    """


class SnapshotError(RedisLiteError):
    """A snapshot failed; the old snapshot and the WAL are still the truth and the store serves on."""


class CorruptDataError(RedisLiteError):
    """Recovery cannot proceed safely; names the file and byte offset of the damage."""

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None):
        where = f"{path}" + (f" at offset {offset}" if offset is not None else "") if path else ""
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.offset = offset
