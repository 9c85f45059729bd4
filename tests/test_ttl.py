"""TTL expiration correctness (a mandatory test of the design): expired keys are never
returned by any read path and count as absent for writes. Time is a fake clock."""

import threading

import pytest

from tests.support import abandon

HANG_GUARD = 60  # seconds; reached only if the reaper thread has stopped

READS_THAT_SEE_A_KEY = {
    "get": lambda s, k: s.get(k),
    "exists": lambda s, k: s.exists(k),
    "type": lambda s, k: s.type(k),
    "ttl": lambda s, k: s.ttl(k),
    "keys": lambda s, k: k in s.keys(),
    "dbsize": lambda s, k: s.dbsize(),
    "dump": lambda s, k: k in s.dump(),
}
ABSENT = {"get": None, "exists": False, "type": None, "ttl": -2, "keys": False, "dbsize": 0, "dump": False}


@pytest.mark.parametrize("read", sorted(READS_THAT_SEE_A_KEY))
def test_expired_string_is_invisible_to_every_read_path(store, clock, read):
    store.set("k", b"v", ttl=5)
    clock.advance(4.999)
    assert READS_THAT_SEE_A_KEY[read](store, "k") != ABSENT[read]
    clock.advance(0.001)  # now == expire_at: expired from that instant
    assert READS_THAT_SEE_A_KEY[read](store, "k") == ABSENT[read]


def test_expired_list_and_hash_are_invisible_to_their_reads(store, clock):
    store.rpush("l", b"a")
    store.hset("h", {"f": b"v"})
    store.expire("l", 1)
    store.expire("h", 1)
    clock.advance(1)
    assert store.lrange("l", 0, -1) == [] and store.llen("l") == 0 and store.lindex("l", 0) is None
    assert store.hgetall("h") == {} and store.hget("h", "f") is None
    assert store.hlen("h") == 0 and not store.hexists("h", "f")


def test_ttl_counts_down_and_reports_minus_one_without_ttl(store, clock):
    store.set("k", b"v", ttl=10)
    clock.advance(3)
    assert store.ttl("k") == pytest.approx(7)
    store.set("p", b"v")
    assert store.ttl("p") == -1 and store.ttl("missing") == -2


def test_set_without_ttl_clears_an_old_ttl(store, clock):
    store.set("k", b"v", ttl=5)
    store.set("k", b"w")
    clock.advance(10)
    assert store.get("k") == b"w"


def test_rpush_and_hset_keep_the_ttl(store, clock):
    store.rpush("l", b"a")
    store.hset("h", {"f": b"1"})
    store.expire("l", 5)
    store.expire("h", 5)
    store.rpush("l", b"b")
    store.hset("h", {"g": b"2"})
    assert store.ttl("l") == 5 and store.ttl("h") == 5
    clock.advance(5)
    assert not store.exists("l") and not store.exists("h")


def test_rpush_on_an_expired_string_makes_a_new_list_without_ttl(store, clock):
    store.set("k", b"old", ttl=1)
    clock.advance(1)
    assert store.rpush("k", b"new") == 1
    assert store.lrange("k", 0, -1) == [b"new"] and store.ttl("k") == -1


def test_hset_on_an_expired_list_makes_a_new_hash(store, clock):
    store.rpush("k", b"x")
    store.expire("k", 1)
    clock.advance(2)
    assert store.hset("k", {"f": b"v"}) == 1
    assert store.type("k") == "hash" and store.ttl("k") == -1


def test_writes_to_expired_keys_treat_them_as_absent(store, clock):
    store.set("k", b"v", ttl=1)
    clock.advance(1)
    assert store.delete("k") == 0
    assert store.expire("k", 10) is False
    assert store.persist("k") is False
    assert store.hdel("k", "f") == 0  # an expired string is no WrongTypeError either


def test_expire_persist_and_expire_at(store, clock):
    store.set("k", b"v")
    assert store.expire("k", 10) is True
    assert store.persist("k") is True and store.persist("k") is False
    assert store.expire_at("k", clock.now + 3) is True
    clock.advance(3)
    assert store.get("k") is None
    assert store.expire("missing", 5) is False


def test_expire_with_non_positive_seconds_expires_at_once(store):
    store.set("k", b"v")
    assert store.expire("k", 0) is True
    assert store.get("k") is None


def test_set_with_expire_at_in_the_past_is_immediately_expired(store, clock):
    store.set("k", b"v", expire_at=clock.now - 1)
    assert not store.exists("k")


def test_expiry_survives_reopen_as_absolute_time(open_store, clock, tmp_path):
    store = open_store()
    store.set("k", b"v", ttl=10)
    clock.advance(4)
    abandon(store)
    reopened = open_store()
    assert reopened.ttl("k") == pytest.approx(6)
    clock.advance(6)
    assert reopened.get("k") is None


def test_key_expired_while_crashed_stays_invisible_after_recovery(open_store, clock):
    store = open_store()
    store.rpush("l", b"a")
    store.expire("l", 5)
    store.rpush("l", b"b")
    abandon(store)
    clock.advance(60)
    reopened = open_store()
    assert reopened.dump() == {} and reopened.lrange("l", 0, -1) == []
    assert reopened.rpush("l", b"fresh") == 1


def next_reaper_pass(store) -> None:
    """Return once the reaper has made a whole pass that began after this call: events, no timing.
    HANG_GUARD seconds pass only if the reaper has stopped (a bug)."""
    finished = threading.Event()
    remove_expired = store._reaper._remove_expired

    def counted() -> None:
        remove_expired()
        finished.set()

    store._reaper._remove_expired = counted  # read afresh by the reaper on every pass
    assert finished.wait(HANG_GUARD), "the reaper made no pass"
    store._reaper._remove_expired = remove_expired


def test_reaper_removes_expired_keys_from_memory(open_store, clock):
    store = open_store(reaper_interval=0.01)
    store.set("gone", b"v", ttl=1)
    store.set("kept", b"v", ttl=100)
    store.set("plain", b"v")
    clock.advance(2)
    next_reaper_pass(store)
    assert "gone" not in store._ks.data
    assert set(store._ks.data) == {"kept", "plain"}


def test_reaper_removal_needs_no_record_and_recovery_agrees(open_store, clock, tmp_path):
    store = open_store(reaper_interval=0.01)
    store.set("k", b"v", ttl=1)
    clock.advance(2)
    next_reaper_pass(store)
    assert "k" not in store._ks.data
    store.rpush("k", b"new")  # logged as a new list: replay replaces the stale string
    state = store.dump()
    store.close()
    assert open_store().dump() == state
