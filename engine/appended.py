"""A string value that APPEND grows in place, so that an append costs what it adds.

An `Appended` is the first `len` bytes of a bytearray that only ever grows at its end, so the
bytes one names never change once it exists: to whoever holds it (a lock-free reader, the
keyspace copy a snapshot encodes outside the lock) it is as immutable as `bytes`. The writer
grows a key's value with `grown`, copying only the suffix (amortised), where `bytes + suffix`
copied the whole value on every append. Its kind is "string"; readers get `bytes`, copied on
the first read and kept until the next append (so a string read since then is held twice).
"""

from __future__ import annotations


class Appended:
    """The first `length` bytes of `buffer`, which nothing ever changes (only grows past)."""

    __slots__ = ("_buffer", "_length", "_read")

    def __init__(self, buffer: bytearray, length: int):
        self._buffer = buffer
        self._length = length
        self._read: bytes | None = None  # the bytes, once a reader asked for them

    @classmethod
    def of(cls, value: bytes) -> Appended:
        return cls(bytearray(value), len(value))

    def __len__(self) -> int:
        return self._length

    def grown(self, suffix: bytes) -> Appended:
        """This value followed by `suffix`, sharing its buffer. Writer only (one at a time)."""
        buffer = self._buffer
        if len(buffer) != self._length:
            # Grown already from this same value (a key's live value never is: its growth is the
            # buffer's end): growing on would put the other value's bytes into this one.
            buffer = buffer[: self._length]
        buffer += suffix  # in place: the bytes other values name are before this end
        return Appended(buffer, self._length + len(suffix))

    def read(self) -> bytes:
        """The value as `bytes`, copied on the first call and kept, so repeated reads are O(1).
        Any thread, no lock: the bytes it names never change (a race only copies twice)."""
        value = self._read
        if value is None:
            value = self._read = bytes(self)
        return value

    def __bytes__(self) -> bytes:
        """A fresh copy that is not kept (for a snapshot, which reads each value once)."""
        data = bytes(self._buffer)  # one C call: a writer cannot grow the buffer meanwhile
        return data if len(data) == self._length else data[: self._length]
