"""Encoding of WAL records and snapshot entries (docs/FORMAT.md, "Lines").

Every line is ``<crc32 as 8 hex digits> <body>\\n``, the checksum taken over the body's bytes.
Bodies carry JSON. `encode_*` write format version 3, where a value is the JSON string of its
UTF-8 text, or ``{"b64": "<base64>"}`` when it is not UTF-8 or its text would be longer: text
stays readable with `less`, and no value costs more than 4 * ceil(n / 3) + 10 bytes.

`decode_*` take the version from the file's header (1: a value is the JSON string of its
Latin-1 decoding; 2: as 3, without the `append` record), accept exactly what FORMAT.md allows
in that version and raise `LineError` for anything else: a damaged line must never decode into
a plausible but different record.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import math
import re
import zlib
from base64 import b64decode, b64encode
from collections.abc import Callable
from typing import Any, cast

from tornwrite.engine.appended import Appended
from tornwrite.engine.format import FORMAT_VERSION, OP_SINCE, READ_VERSIONS, RECORD_OPS, ExpireAt, Stored, Value


class LineError(ValueError):
    """A line that is torn, fails its checksum or does not follow the format."""


def _reject_constant(name: str) -> None:
    raise LineError(f"non-finite number {name} in JSON")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _unique_names(pairs: list[tuple[str, object]]) -> dict[str, object]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise LineError("a JSON object names a field twice")
    return mapping


# The scanner alone (no whitespace skipping): bodies are written compactly, and recovery's
# speed is mostly this call.
# cast: typeshed types the scanner's context as a scanner; any JSONDecoder has the attributes it reads.
_scan = json.scanner.make_scanner(
    cast(Any, json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_names))
)


def _loads(text: str) -> object:
    try:
        value, end = _scan(text, 0)
    except (StopIteration, RecursionError):  # nothing parsable; or nesting deep enough to be hostile
        raise LineError("not JSON") from None
    if end != len(text):
        raise LineError("bytes after the JSON value")
    return value


_crc32 = zlib.crc32


def frame(body: bytes) -> bytes:
    return b"%08x %s\n" % (_crc32(body), body)


def unframe(line: bytes) -> bytes:
    """The body of one whole line (newline included) whose checksum holds."""
    body = line[9:-1]
    # Comparing against the formatted checksum also refuses uppercase, signs and spaces.
    if line[-1:] != b"\n" or line[8:9] != b" " or b"%08x" % _crc32(body) != line[:8]:
        raise LineError("not a line with a matching checksum")
    return body


# --- value helpers ------------------------------------------------------------------------

_B64 = "b64"  # the one member of a value's base64 form
_B64_FRAME = len('{"b64":""}')
_ESCAPED = re.compile(rb'[\x00-\x1f"\\]')  # bytes JSON escapes in a string: each costs 2 or 6
_json_string = json.encoder.encode_basestring  # a str as the JSON string _dumps writes (quotes included)


def _encoded(value: bytes) -> str | dict[str, str]:
    """A value in version 2: its UTF-8 text unless not UTF-8 or longer than its base64 form."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return {_B64: b64encode(value).decode("ascii")}
    if _ESCAPED.search(value) is None:
        return text  # n + 2 bytes, never more than base64's
    # Escapes are ASCII, so the text form's size is the value's plus what the escapes add.
    text_size = len(value) + len(_json_string(text)) - len(text)
    if text_size <= _B64_FRAME + 4 * ((len(value) + 2) // 3):
        return text
    return {_B64: b64encode(value).decode("ascii")}


def _want(condition: bool, what: str) -> None:
    if not condition:
        raise LineError(what)


def _key(value: object) -> str:
    if not isinstance(value, str):  # JSON yields exact types, so isinstance is an exact test here
        raise LineError("key or field is not a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LineError("key or field is not valid UTF-8") from None
    return value


def _bytes_v1(value: object) -> bytes:
    if not isinstance(value, str):
        raise LineError("value is not a string")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise LineError("value has a character above U+00FF") from None


def _bytes_v2(value: object) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise LineError("value text has a lone surrogate") from None
    if not isinstance(value, dict) or len(value) != 1 or not isinstance(value.get(_B64), str):
        raise LineError('value is neither a string nor {"b64": string}')
    text: str = value[_B64]
    try:
        data = b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise LineError("value is not base64") from None
    # Python's decoder lets nonzero unused bits through; the format allows one spelling per value.
    _want(b64encode(data).decode("ascii") == text, "value is not canonical base64")
    return data


# The value decoder of each format version the engine reads (docs/FORMAT.md, "Versions").
_VALUE_DECODERS: dict[int, Callable[[object], bytes]] = {1: _bytes_v1, 2: _bytes_v2, 3: _bytes_v2}
assert set(_VALUE_DECODERS) == set(READ_VERSIONS)


def _value_decoder(version: int) -> Callable[[object], bytes]:
    decoder = _VALUE_DECODERS.get(version)
    if decoder is None:
        raise LineError(f"unknown format version {version}")
    return decoder


def _time(value: object) -> float | int | None:
    if value is None:
        return None
    if type(value) is int or type(value) is float:  # exact types: a JSON true is no time
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer no float can hold
            finite = False
        _want(finite, "expire_at is not a finite number")
        return value
    raise LineError("expire_at is not a number")


def _values(value: object, decode: Callable[[object], bytes]) -> list[bytes]:
    if not isinstance(value, list) or not value:
        raise LineError("values are not a non-empty list")
    return [decode(v) for v in value]


def _mapping(value: object, decode: Callable[[object], bytes]) -> dict[str, bytes]:
    if not isinstance(value, dict) or not value:
        raise LineError("fields are not a non-empty object")
    return {field: decode(v) for field, v in value.items()}


# --- records --------------------------------------------------------------------------------
# In memory a record is (op, args): the args tuple below, with bytes as bytes.

_ARG_ENCODERS: dict[str, Callable[[tuple[Any, ...]], object]] = {
    "set": lambda a: [a[0], _encoded(a[1]), a[2]],
    "del": lambda a: list(a[0]),
    "rpush": lambda a: [a[0], a[1], [_encoded(v) for v in a[2]]],
    "hset": lambda a: [a[0], a[1], {f: _encoded(v) for f, v in a[2].items()}],
    "hdel": lambda a: [a[0], list(a[1])],
    "expire": lambda a: [a[0], a[1]],
    "persist": lambda a: [a[0]],
    "flushall": lambda a: [],
    "append": lambda a: [a[0], a[1], _encoded(a[2])],
}

_OPS = {op.encode(): op for op in RECORD_OPS}
_ARITY = {"rpush": 3, "hset": 3, "hdel": 2, "expire": 2, "persist": 1, "flushall": 0, "append": 3}


def _decode_args(op: str, raw: list[object], value: Callable[[object], bytes]) -> tuple[Any, ...]:
    if op == "set":  # by far the most common record: checked inline
        if len(raw) != 3 or raw[2] is not None and type(raw[2]) not in (int, float):
            raise LineError("set takes [key, value, expire_at]")
        return (_key(raw[0]), value(raw[1]), _time(raw[2]))
    if op == "del":
        _want(len(raw) > 0, "del names no key")
        return (tuple(_key(k) for k in raw),)
    _want(len(raw) == _ARITY[op], f"{op} takes {_ARITY[op]} arguments")
    if op == "append":
        _want(type(raw[1]) is bool, "append 'new' flag is not a boolean")
        return (_key(raw[0]), raw[1], value(raw[2]))
    if op in ("rpush", "hset"):
        _want(type(raw[1]) is bool, f"{op} 'new' flag is not a boolean")
        return (_key(raw[0]), raw[1], _values(raw[2], value) if op == "rpush" else _mapping(raw[2], value))
    if op == "hdel":
        fields = raw[1]
        if not isinstance(fields, list) or not fields:
            raise LineError("hdel names no field")
        return (_key(raw[0]), [_key(f) for f in fields])
    if op == "expire":
        _want(raw[1] is not None, "expire without a time")
        return (_key(raw[0]), _time(raw[1]))
    if op == "persist":
        return (_key(raw[0]),)
    return ()


def encode_record(lsn: int, op: str, args: tuple[Any, ...]) -> bytes:
    """The line of one record, in format version FORMAT_VERSION."""
    if op == "append":
        return _encode_append(lsn, *args)
    payload = _dumps(_ARG_ENCODERS[op](args)).encode("utf-8")
    return frame(b"%d %s %s" % (lsn, op.encode(), payload))


def _encode_append(lsn: int, key: str, new: bool, suffix: bytes) -> bytes:
    """`encode_record` of an append, byte for byte (tests/test_codec.py checks the two agree),
    with as few steps as it can: an append to a hot key is one small record per fsync, run on a
    processor the fsync left cold, where each step costs microseconds."""
    name, flag = _json_string(key).encode(), b"true" if new else b"false"
    if _ESCAPED.search(suffix) is None:
        try:
            suffix.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # text JSON escapes nothing in: its JSON string is its own UTF-8 bytes, quoted
            body = b'%d append [%s,%s,"%s"]' % (lsn, name, flag, suffix)
            return b"%08x %s\n" % (_crc32(body), body)  # frame(body), one call less
    value = _encoded(suffix)
    text = _json_string(value) if isinstance(value, str) else f'{{"b64":"{value[_B64]}"}}'
    return frame(b"%d append [%s,%s,%s]" % (lsn, name, flag, text.encode()))


def decode_record(line: bytes, version: int = FORMAT_VERSION) -> tuple[int, str, tuple[Any, ...]]:
    """(lsn, op, args) of one WAL line of a segment whose header says `version`; LineError if
    it is not exactly a record of that version."""
    value = _value_decoder(version)
    parts = unframe(line).split(b" ", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[0].isascii():
        raise LineError("record is not <LSN> <op> <arguments>")
    op = _OPS.get(parts[1])
    if op is None or version < OP_SINCE.get(op, 0):
        raise LineError(f"unknown record op {parts[1]!r} in format version {version}")
    try:
        raw = _loads(parts[2].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LineError(f"arguments are not JSON: {exc}") from None
    if type(raw) is not list:
        raise LineError("arguments are not a JSON array")
    return int(parts[0]), op, _decode_args(op, raw, value)


# --- snapshot entries -------------------------------------------------------------------------
# In memory an entry is key -> (value, expire_at); the kind follows from the value's type.


def encode_entry(key: str, value: Stored, expire_at: ExpireAt) -> bytes:
    """The line of one snapshot entry, in format version FORMAT_VERSION."""
    encoded: object
    if isinstance(value, Appended):
        value = bytes(value)  # not kept: a snapshot reads each value once
    if isinstance(value, bytes):
        kind, encoded = "string", _encoded(value)
    elif isinstance(value, list):
        kind, encoded = "list", [_encoded(v) for v in value]
    else:
        kind, encoded = "hash", {f: _encoded(v) for f, v in value.items()}
    return frame(_dumps([key, kind, encoded, expire_at]).encode("utf-8"))


def decode_entry(line: bytes, version: int = FORMAT_VERSION) -> tuple[str, Value, ExpireAt]:
    """(key, value, expire_at) of one snapshot entry line of a file whose header says `version`."""
    decode = _value_decoder(version)
    body = unframe(line)
    try:
        raw = _loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LineError(f"entry is not JSON: {exc}") from None
    if not isinstance(raw, list) or len(raw) != 4:
        raise LineError("entry is not [key, kind, value, expire_at]")
    key, kind, encoded, expire_at = raw
    value: Value
    if kind == "string":
        value = decode(encoded)
    elif kind == "list":
        value = _values(encoded, decode)
    elif kind == "hash":
        value = _mapping(encoded, decode)
    else:
        raise LineError(f"unknown kind {kind!r}")
    return _key(key), value, _time(expire_at)
