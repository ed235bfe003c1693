"""The KV store behaves like a dict with TTLs: a Hypothesis state machine runs random
sequences of every operation against a model (with a fake clock), including closing and
reopening the tenant."""

from __future__ import annotations

import fnmatch
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import cinchdb
from cinchdb.kv import KVStore

KEYS = st.sampled_from(["a", "b", "c", "ab", "user:1", "user:2", "x.y"])
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
)  # fmt: skip
VALUES = st.one_of(
    JSON_SCALARS,
    st.integers(),  # beyond 64 bits too
    st.floats(allow_nan=False),
    st.binary(max_size=8),
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=3),
)
TTLS = st.one_of(st.none(), st.integers(1, 20))
PATTERNS = st.sampled_from(["*", "a*", "user:*", "?", "[ab]", "*b", "x?y", "user:?"])


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


class KVMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.root = cinchdb.init(Path(self.dir.name) / "p")
        self.now = 1_000_000.0
        self.model: dict[str, tuple[Any, float | None]] = {}
        self._open()

    def _open(self) -> None:
        self.db = cinchdb.connect(project_dir=self.root)
        db = self.db
        self.kv = KVStore(
            lambda write: db._files.kv_connection(db.branch, db.tenant, write), lambda: self.now
        )

    def live(self) -> dict[str, Any]:
        return {k: v for k, (v, exp) in self.model.items() if exp is None or exp > self.now}

    def teardown(self) -> None:
        self.db.close()
        self.dir.cleanup()

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, key, value, ttl):
        self.kv.set(key, value, ttl=ttl)
        self.model[key] = (value, None if ttl is None else self.now + ttl)

    @rule(key=KEYS)
    def get(self, key):
        expected = self.live().get(key)
        assert same(self.kv.get(key), expected)
        assert self.kv.exists(key) == (key in self.live())

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
    def delete(self, keys):
        expected = len(set(keys) & set(self.live()))
        assert self.kv.delete(*keys) == expected
        for key in keys:
            self.model.pop(key, None)

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def setnx(self, key, value, ttl):
        expected = key not in self.live()
        assert self.kv.setnx(key, value, ttl=ttl) == expected
        if expected:
            self.model[key] = (value, None if ttl is None else self.now + ttl)

    @rule(items=st.dictionaries(KEYS, VALUES, max_size=3), ttl=TTLS)
    def mset(self, items, ttl):
        self.kv.mset(items, ttl=ttl)
        for key, value in items.items():
            self.model[key] = (value, None if ttl is None else self.now + ttl)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
    def mget(self, keys):
        live = self.live()
        missing = [k for k in dict.fromkeys(keys) if k not in live]
        try:
            got = self.kv.mget(keys)
        except ValueError as error:
            assert missing and str(error) == f"Keys not found: {missing!r}"
        else:
            assert not missing
            assert all(same(got[k], live[k]) for k in keys)

    @rule(key=KEYS, amount=st.one_of(st.integers(-5, 5), st.floats(-2, 2)))
    def increment(self, key, amount):
        live = self.live()
        current = live.get(key)
        numeric = key not in live or (
            isinstance(current, int | float) and not isinstance(current, bool)
        )
        try:
            got = self.kv.increment(key, amount)
        except ValueError:
            assert not numeric
            return
        assert numeric
        expected = amount if key not in live else current + amount
        assert same(got, expected)
        keep = self.model[key][1] if key in live else None
        self.model[key] = (expected, keep)

    @rule(pattern=PATTERNS)
    def keys(self, pattern):
        expected = sorted(k for k in self.live() if fnmatch.fnmatchcase(k, pattern))
        assert self.kv.keys(pattern) == expected
        assert self.kv.count(pattern) == len(expected)

    @rule(key=KEYS, ttl=st.integers(1, 20))
    def expire(self, key, ttl):
        exists = key in self.live()
        assert self.kv.expire(key, ttl) == exists
        if exists:
            self.model[key] = (self.model[key][0], self.now + ttl)

    @rule(key=KEYS)
    def ttl(self, key):
        if key not in self.live():
            assert self.kv.ttl(key) == -1
            return
        deadline = self.model[key][1]
        got = self.kv.ttl(key)
        assert got is None if deadline is None else got == int(deadline - self.now)

    @rule(key=KEYS)
    def persist(self, key):
        had = key in self.live() and self.model[key][1] is not None
        assert self.kv.persist(key) == had
        if had:
            self.model[key] = (self.model[key][0], None)

    @rule()
    def delete_expired(self):
        expired = [k for k in self.model if k not in self.live()]
        # Runs are far shorter than PURGE_EVERY writes, so nothing was purged on the way.
        assert self.kv.delete_expired() == len(expired)
        for key in expired:
            del self.model[key]

    @rule(seconds=st.sampled_from([0.5, 1, 3, 7, 25]))
    def advance(self, seconds):
        self.now += seconds

    @rule()
    def reopen(self):
        self.db.close()
        self._open()

    @invariant()
    def everything_live_is_listed(self):
        assert self.kv.keys() == sorted(self.live())


EXAMPLES = int(os.environ.get("CINCHDB_KV_EXAMPLES", "60"))
KVMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
TestKVModel = KVMachine.TestCase
