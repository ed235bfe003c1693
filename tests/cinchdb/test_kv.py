"""The key-value store: the reference's examples with their documented results, values,
keys, TTLs, isolation, and processes incrementing one counter.

Tests on ``db.kv`` run on a local and a remote handle (tests/cinchdb/conftest.py); the ``kv``
fixture is a local store on a fake clock."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import cinchdb
from cinchdb.kv import KeysNotFoundError, KVStore

pytestmark = pytest.mark.handles("local", "remote")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def kv(db, clock):
    return KVStore(lambda write: db._files.kv_connection(db.branch, db.tenant, write), clock)


def test_reference_examples(db):
    db.kv.set("user:123", {"name": "Alice", "role": "admin"})
    assert db.kv.get("user:123") == {"name": "Alice", "role": "admin"}
    db.kv.set("session:abc", {"user_id": 123}, ttl=3600)
    count = db.kv.increment("page:views", 1)
    assert count == 1
    db.kv.mset({"config:debug": True, "config:timeout": 30,
                "config:api_url": "https://api.example.com"})  # fmt: skip
    configs = db.kv.mget(["config:debug", "config:timeout"])
    assert configs == {"config:debug": True, "config:timeout": 30}
    assert db.kv.keys("user:*") == ["user:123"]

    db.kv.set("count", 42)
    db.kv.set("enabled", True)
    db.kv.set("data", b"binary_data")
    db.kv.set("session:abc", {"user_id": 123, "ip": "192.168.1.1"}, ttl=3600)
    for key, message in [("", "Key must be a non-empty string"),
                         ("key@#$", "Invalid characters in key"),
                         ("k" * 256, "Key exceeds 255 characters")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            db.kv.set(key, "value")
    assert db.kv.get("enabled") is True
    assert db.kv.get("expired_key") is None

    db.kv.mset({"config:debug": True, "config:timeout": 30,
                "config:api_url": "https://api.example.com",
                "config:features": ["auth", "api", "webhooks"]})  # fmt: skip
    assert db.kv.mget(["config:debug", "config:timeout", "config:api_url"]) == {
        "config:debug": True,
        "config:timeout": 30,
        "config:api_url": "https://api.example.com",
    }
    db.kv.set("exists", 1)
    with pytest.raises(ValueError) as caught:
        db.kv.mget(["exists", "missing"])
    assert str(caught.value) == "Keys not found: ['missing']"

    assert db.kv.increment("views") == 1
    assert db.kv.increment("views", 5) == 6
    db.kv.set("text_key", "hello")
    with pytest.raises(ValueError):
        db.kv.increment("text_key")

    for key in list(db.kv.keys()):
        db.kv.delete(key)
    db.kv.set("user:1", {"name": "Alice"})
    db.kv.set("user:2", {"name": "Bob"})
    db.kv.set("session:abc", {"user": 1})
    assert db.kv.keys("user:*") == ["user:1", "user:2"]
    assert db.kv.keys() == ["session:abc", "user:1", "user:2"]
    assert db.kv.delete("user:1") == 1
    assert db.kv.delete("user:2", "user:3", "session:abc") == 2

    db.kv.set("important", "data")
    assert db.kv.expire("important", 86400) is True
    assert db.kv.expire("nonexistent", 60) is False
    db.kv.set("temp", "data", ttl=300)
    assert db.kv.ttl("temp") in (299, 300)
    db.kv.set("no_expiry_key", "data")
    assert db.kv.ttl("no_expiry_key") is None
    assert db.kv.setnx("lock:resource", "locked", ttl=30) is True
    assert db.kv.setnx("lock:resource", "locked_again") is False
    assert "__kv" not in [t.name for t in db.list_tables()]


@pytest.mark.local_only("float('inf') has no JSON form, so it cannot cross the wire")
def test_values_round_trip_exactly(kv):
    values = {
        "s": "héllo", "e": "", "i": -7, "big": 2**80, "f": 1.5, "inf": float("inf"),
        "t": True, "fa": False, "n": None, "y": b"\x00\xff", "l": [1, "a", None, [2.5]],
        "d": {"a": {"b": [True, False]}, "c": 1},
    }  # fmt: skip
    kv.mset(values)
    got = kv.mget(list(values))
    for key, value in values.items():
        assert got[key] == value and type(got[key]) is type(value), key
    assert kv.get("t") is True and kv.get("i") == -7 and type(kv.get("i")) is int
    for bad in [float("nan"), {1, 2}, object(), [float("nan")]]:
        with pytest.raises(ValueError):
            kv.set("bad", bad)
    assert kv.increment("big", 1) == 2**80 + 1
    assert kv.increment("f", 0.25) == 1.75
    with pytest.raises(ValueError, match="non-numeric"):
        kv.increment("t")  # a bool is not a counter


@pytest.mark.local_only("expiry is driven by a fake clock in this process")
def test_ttl_expiry_persist_and_purge(kv, clock):
    kv.set("a", 1, ttl=10)
    kv.set("b", 2)
    assert kv.ttl("a") == 10 and kv.ttl("b") is None and kv.ttl("zz") == -1
    clock.now += 9.5
    assert kv.get("a") == 1 and kv.ttl("a") == 0
    clock.now += 1
    assert kv.get("a") is None and not kv.exists("a") and kv.ttl("a") == -1
    assert kv.keys() == ["b"] and kv.count() == 1
    assert kv.expire("a", 5) is False and kv.persist("a") is False
    assert kv.setnx("a", "new") is True and kv.get("a") == "new"
    kv.set("c", 3, ttl=5)
    assert kv.persist("c") is True and kv.ttl("c") is None
    assert kv.increment("d", 1) == 1
    assert kv.expire("d", 3) is True
    assert kv.increment("d") == 2 and kv.ttl("d") == 3  # INCR keeps the TTL
    clock.now += 4
    assert kv.increment("d") == 1  # expired: starts again
    kv.set("e", 1, ttl=1)
    clock.now += 2
    assert kv.delete_expired() == 1
    for bad in [0, -1, "10", True]:
        with pytest.raises(ValueError, match="TTL"):
            kv.set("x", 1, ttl=bad)


def test_patterns_follow_redis_glob(db):
    kv = db.kv
    kv.mset({k: 1 for k in ["a", "ab", "abc", "b", "a.b", "aXb", "user:1", "user:10", "x/y"]})
    assert kv.keys("a?") == ["ab"]
    assert kv.keys("a?b") == ["a.b", "aXb"]
    assert kv.keys("a*") == ["a", "a.b", "aXb", "ab", "abc"]
    assert kv.keys("[ab]") == ["a", "b"]
    assert kv.keys("[^a]") == ["b"]
    assert kv.keys("a\\.b") == ["a.b"]
    assert kv.keys("a[.X]b") == ["a.b", "aXb"]
    assert kv.keys("x/*") == ["x/y"]
    assert kv.keys("user:?") == ["user:1"]
    assert kv.keys("user:*") == ["user:1", "user:10"]
    assert kv.count("user:*") == 2
    assert kv.keys("nothing*") == []


def test_lazy_tenants_read_empty_and_write_materializes(users, connect_handle, local):
    users.create_tenant("lazy")
    handle = connect_handle(tenant="lazy")
    assert handle.kv.get("x") is None and handle.kv.keys() == []
    assert handle.kv.delete("x") == 0 and handle.kv.ttl("x") == -1
    assert not local._files.is_materialized("main", "lazy")
    handle.kv.set("x", 1)
    assert local._files.is_materialized("main", "lazy")


def test_tenants_have_separate_stores(users, connect_handle):
    users.create_tenant("a")
    users.kv.set("shared:key", "main's")
    a = connect_handle(tenant="a")
    assert a.kv.get("shared:key") is None
    a.kv.set("shared:key", "a's")
    assert users.kv.get("shared:key") == "main's"
    with pytest.raises(ValueError):
        users.query("DELETE FROM __kv")


def test_mget_lists_every_missing_key(db):
    kv = db.kv
    kv.set("a", 1)
    with pytest.raises(KeysNotFoundError) as caught:
        kv.mget(["a", "b", "c"])
    assert caught.value.missing == ["b", "c"]


INCREMENTER = """
import sys
import cinchdb
with cinchdb.connect(project_dir=sys.argv[1]) as db:
    for _ in range(int(sys.argv[2])):
        db.kv.increment("counter")
print("ok")
"""


@pytest.mark.local_only("processes opening the project directory")
def test_four_processes_increment_one_counter(project):
    count = int(os.environ.get("CINCHDB_KV_INCREMENTS", "1000"))
    with cinchdb.connect(project_dir=project) as db:
        db.kv.set("warm", 1)  # materialize the tenant before the race
    processes = [
        subprocess.Popen([sys.executable, "-c", INCREMENTER, str(project), str(count)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    with cinchdb.connect(project_dir=project) as db:
        assert db.kv.get("counter") == 4 * count
