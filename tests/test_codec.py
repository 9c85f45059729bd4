"""Record and snapshot-entry encoding: exact round trips, and no damaged line decodes."""

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tornwrite.engine import codec
from tornwrite.engine.codec import LineError, decode_entry, decode_record, encode_entry, encode_record

keys = st.text(alphabet=st.characters(blacklist_categories=["Cs"]))  # no lone surrogates
values = st.binary(max_size=64) | st.text(max_size=32).map(lambda text: text.encode("utf-8"))
times = st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)

records = st.one_of(
    st.tuples(st.just("set"), st.tuples(keys, values, times)),
    st.tuples(st.just("del"), st.tuples(st.lists(keys, min_size=1).map(tuple))),
    st.tuples(st.just("rpush"), st.tuples(keys, st.booleans(), st.lists(values, min_size=1))),
    st.tuples(st.just("hset"), st.tuples(keys, st.booleans(), st.dictionaries(keys, values, min_size=1))),
    st.tuples(st.just("hdel"), st.tuples(keys, st.lists(keys, min_size=1))),
    st.tuples(st.just("expire"), st.tuples(keys, st.floats(allow_nan=False, allow_infinity=False))),
    st.tuples(st.just("persist"), st.tuples(keys)),
    st.tuples(st.just("flushall"), st.just(())),
    st.tuples(st.just("append"), st.tuples(keys, st.booleans(), values)),
)


@given(st.integers(1, 2**64 - 1), keys, st.booleans(), values)
def test_an_append_record_is_the_bytes_the_generic_json_encoder_writes(lsn, key, new, suffix):
    generic = codec._dumps(codec._ARG_ENCODERS["append"]((key, new, suffix))).encode("utf-8")
    assert encode_record(lsn, "append", (key, new, suffix)) == codec.frame(b"%d append %s" % (lsn, generic))


@given(st.integers(1, 2**64 - 1), records)
def test_record_round_trips_exactly(lsn, record):
    op, args = record
    line = encode_record(lsn, op, args)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_record(line) == (lsn, op, args)


@given(keys, st.one_of(values, st.lists(values, min_size=1), st.dictionaries(keys, values, min_size=1)), times)
def test_snapshot_entry_round_trips_exactly(key, value, expire_at):
    assert decode_entry(encode_entry(key, value, expire_at)) == (key, value, expire_at)


@given(records, st.data())
def test_any_single_byte_change_is_rejected(record, data):
    line = encode_record(7, *record)
    position = data.draw(st.integers(0, len(line) - 1))
    damaged = bytearray(line)
    damaged[position] = data.draw(st.integers(0, 255).filter(lambda b: b != line[position]))
    with pytest.raises(LineError):
        decode_record(bytes(damaged))


@given(records, st.data())
def test_every_strict_prefix_is_rejected(record, data):
    line = encode_record(7, *record)
    with pytest.raises(LineError):
        decode_record(line[: data.draw(st.integers(0, len(line) - 1))])


def _reframe(body: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(body), body)


@pytest.mark.parametrize(
    "body",
    [
        b'1 set ["k","v"]',  # wrong arity
        b'1 set ["k","\\ud800",null]',  # a value that is a lone surrogate
        b'1 set ["k",{"b64":"/x=="},null]',  # base64 with nonzero unused bits
        b'1 set ["k",{"b64":"AQI"},null]',  # base64 without its padding
        b'1 set ["k",{"b64":"AQI=","x":1},null]',  # a second member
        b'1 set ["\\ud800","v",null]',  # a lone surrogate key
        b'1 set ["k","v",NaN]',
        b'1 set ["k","v",Infinity]',
        b'1 rpush ["k",1,["v"]]',  # flag not a boolean
        b'1 rpush ["k",true,[]]',
        b'1 hset ["k",false,{}]',
        b"1 del []",
        b'1 drop ["k"]',  # unknown op
        b'x1 set ["k","v",null]',
        b'1 set {"k":"v"}',
        b'1 expire ["k",null]',
    ],
)
def test_well_checksummed_but_malformed_records_are_rejected(body):
    with pytest.raises(LineError):
        decode_record(_reframe(body))


def test_checksum_must_be_eight_lowercase_hex_digits():
    lsn = next(n for n in range(1, 100) if not encode_record(n, "flushall", ())[:8].isdigit())
    line = encode_record(lsn, "flushall", ())
    for head in (line[:8].upper(), b"+" + line[1:8], b" " + line[1:8]):
        with pytest.raises(LineError):
            decode_record(head + line[8:])
