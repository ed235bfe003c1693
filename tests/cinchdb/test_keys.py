"""API keys (issue 17): only a hash on disk, scopes and limits, expiry, revocation seen at once
by another process, malformed keys refused without being repeated."""

from __future__ import annotations

import hmac
import re
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cinchdb.errors import (
    AuthenticationError,
    InvalidFieldError,
    InvalidNameError,
    InvalidTenantNameError,
    KeyNotFoundError,
    PermissionDeniedError,
)
from cinchdb.keys import SCOPES, ApiKeys

TOKEN = re.compile(r"ck_([a-z2-7]{16})_([a-z2-7]{56})")
MALFORMED = "API key is malformed: a key looks like ck_<id>_<secret>"
UNKNOWN = "API key is not recognized (unknown id or wrong secret)"


@pytest.fixture
def keys(project):
    with ApiKeys(project) as opened:
        yield opened


def _stored_bytes(project: Path) -> bytes:
    meta = project / ".cinchdb"
    return b"".join(p.read_bytes() for p in meta.glob("metadata.db*"))


def test_a_key_is_ck_id_secret_and_only_its_hash_is_on_disk(keys, project):
    created = keys.create(name="ci")
    match = TOKEN.fullmatch(created.token)
    assert match is not None, "the key has the documented shape"
    key_id, secret = match.groups()
    assert created.info.id == key_id
    on_disk = _stored_bytes(project)
    assert key_id.encode() in on_disk  # the search does see what is stored
    assert secret.encode() not in on_disk
    assert created.token.encode() not in on_disk
    # Checkpointed into the main file too: still only the hash.
    with sqlite3.connect(project / ".cinchdb" / "metadata.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secret.encode() not in _stored_bytes(project)


def test_the_secret_is_in_no_listing_or_repr(keys):
    created = keys.create()
    secret = created.token.rsplit("_", 1)[1]
    shown = [repr(created), repr(created.info), repr(keys.list()), str(keys.list()[0].as_dict())]
    shown.append(repr(keys.authenticate(created.token)))
    assert not [text for text in shown if secret in text]


def test_secrets_and_ids_are_random(keys):
    tokens = [keys.create().token for _ in range(20)]
    assert len({t.split("_")[1] for t in tokens}) == 20
    assert len({t.split("_")[2] for t in tokens}) == 20


def test_no_scope_means_every_scope_and_scopes_are_kept_in_order(keys):
    assert keys.create().info.scopes == SCOPES
    assert keys.create(scopes=["kv:write", "data:read", "kv:write"]).info.scopes == (
        "data:read",
        "kv:write",
    )
    assert keys.create(scopes="schema:read").info.scopes == ("schema:read",)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (
            {"scopes": ["data:read", "data:delete"]},
            InvalidFieldError,
            "ApiKeys.create() argument 'scopes': unknown scope 'data:delete'; use one of:"
            f" {', '.join(SCOPES)}",
        ),
        (
            {"scopes": []},
            InvalidFieldError,
            "ApiKeys.create() argument 'scopes': is empty: give at least one scope, or None for"
            " every scope",
        ),
        (
            {"branches": ["feature/[ab]"]},
            InvalidFieldError,
            "ApiKeys.create() argument 'branches': branch pattern 'feature/[ab]': use a branch"
            " name's characters, with '*' and '?' as wildcards",
        ),
        (
            {"expires_in": timedelta(0)},
            InvalidFieldError,
            "ApiKeys.create() argument 'expires_in': must be a positive timedelta or None, not"
            " datetime.timedelta(0)",
        ),
        (
            {"name": "two\nlines"},
            InvalidFieldError,
            "ApiKeys.create() argument 'name': must be printable text on one line",
        ),
        (
            {"databases": ["bad-name"]},
            InvalidNameError,
            "Invalid database name 'bad-name': use letters, digits and '_', starting with a"
            " letter or digit",
        ),
        (
            {"tenants": ["../x"]},
            InvalidTenantNameError,
            None,
        ),
        (
            {"tenants": [5]},
            InvalidFieldError,
            "ApiKeys.create() argument 'tenants': 5 is not a string",
        ),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_stored(keys, arguments, error, message):
    with pytest.raises(error) as raised:
        keys.create(**arguments)
    if message is not None:
        assert str(raised.value) == message
    assert keys.list() == []


LIMITED = {
    "scopes": ["data:read", "kv:read"],
    "databases": ["main", "shop"],
    "branches": ["main", "feature/*", "release-?"],
    "tenants": ["acme", "globex"],
}


@pytest.mark.parametrize(
    ("scope", "where", "denied"),
    [
        ("data:read", {}, None),
        ("data:read", {"database": "shop", "branch": "main", "tenant": "acme"}, None),
        ("kv:read", {"branch": "feature/x"}, None),
        ("kv:read", {"branch": "feature/a/b"}, None),  # '*' crosses '/'
        ("data:read", {"branch": "release-1"}, None),
        ("data:write", {"tenant": "acme"}, ("scope", "data:write", ["data:read", "kv:read"])),
        ("keys:admin", {}, ("scope", "keys:admin", ["data:read", "kv:read"])),
        ("data:read", {"database": "other"}, ("database", "other", ["main", "shop"])),
        ("data:read", {"branch": "dev"}, ("branch", "dev", LIMITED["branches"])),
        ("data:read", {"branch": "featurex"}, ("branch", "featurex", LIMITED["branches"])),
        ("data:read", {"branch": "release-10"}, ("branch", "release-10", LIMITED["branches"])),
        ("data:read", {"branch": "Main"}, ("branch", "Main", LIMITED["branches"])),
        ("data:read", {"tenant": "initech"}, ("tenant", "initech", ["acme", "globex"])),
        # The scope is checked first, then database, branch, tenant.
        ("data:write", {"tenant": "initech"}, ("scope", "data:write", ["data:read", "kv:read"])),
        ("data:read", {"database": "x", "tenant": "y"}, ("database", "x", ["main", "shop"])),
    ],
)
def test_scopes_and_limits(keys, scope, where, denied):
    principal = keys.authenticate(keys.create(**LIMITED).token)
    assert principal.permits(scope, **where) is (denied is None)
    if denied is None:
        principal.require(scope, **where)
        return
    with pytest.raises(PermissionDeniedError) as raised:
        principal.require(scope, **where)
    error = raised.value
    assert (error.kind, error.value, error.allowed) == denied
    assert error.key_id == principal.key_id


def test_permission_messages_name_what_is_missing(keys):
    principal = keys.authenticate(keys.create(**LIMITED).token)
    messages = []
    for scope, where in [("data:write", {}), ("data:read", {"tenant": "initech"}),
                         ("data:read", {"branch": "dev"})]:  # fmt: skip
        with pytest.raises(PermissionDeniedError) as raised:
            principal.require(scope, **where)
        messages.append(str(raised.value))
    key = principal.key_id
    assert messages == [
        f"API key {key} lacks the scope 'data:write' (it has: data:read, kv:read)",
        f"API key {key} may not use tenant 'initech' (allowed: acme, globex)",
        f"API key {key} may not use branch 'dev' (allowed: main, feature/*, release-?)",
    ]


def test_a_key_without_limits_reaches_everything(keys):
    principal = keys.authenticate(keys.create().token)
    for scope in SCOPES:
        principal.require(scope, database="any", branch="feature/deep/name", tenant="t")


def test_an_unknown_scope_asked_for_is_a_bug_not_a_denial(keys):
    principal = keys.authenticate(keys.create().token)
    with pytest.raises(InvalidFieldError, match="unknown scope 'data:raed'"):
        principal.require("data:raed")


def test_an_expired_key_is_refused(keys):
    created = keys.create(expires_in=timedelta(milliseconds=400))
    assert keys.authenticate(created.token).expires_at == created.info.expires_at
    assert created.info.status() == "active"
    deadline = created.info.expires_at
    assert deadline is not None
    time.sleep(max(0.0, (deadline - datetime.now(timezone.utc)).total_seconds()) + 0.05)
    with pytest.raises(AuthenticationError) as raised:
        keys.authenticate(created.token)
    expiry = created.info.as_dict()["expires_at"]
    assert str(raised.value) == f"API key {created.info.id} expired at {expiry}"
    assert keys.list()[0].status() == "expired"


def test_an_expiry_is_kept_exactly(keys):
    before = datetime.now(timezone.utc)
    info = keys.create(expires_in=timedelta(days=30)).info
    assert info.expires_at is not None
    assert timedelta(days=30) <= info.expires_at - before < timedelta(days=30, seconds=5)
    assert keys.list()[0].expires_at == info.expires_at


def test_revoke_refuses_the_key_at_once(keys):
    created = keys.create()
    other = keys.create()
    keys.authenticate(created.token)
    info = keys.revoke(created.info.id)
    assert info.revoked_at is not None and info.status() == "revoked"
    with pytest.raises(AuthenticationError) as raised:
        keys.authenticate(created.token)
    revoked = info.as_dict()["revoked_at"]
    assert str(raised.value) == f"API key {created.info.id} was revoked at {revoked}"
    keys.authenticate(other.token)  # the other key is untouched
    # Again: nothing changes, the first time stays.
    assert keys.revoke(created.info.id).revoked_at == info.revoked_at


def test_revoke_takes_the_whole_key_too(keys):
    created = keys.create()
    assert keys.revoke(created.token).id == created.info.id


def test_revoking_an_unknown_key(keys):
    with pytest.raises(KeyNotFoundError) as raised:
        keys.revoke("aaaaaaaaaaaaaaaa")
    assert str(raised.value) == "No API key has the id 'aaaaaaaaaaaaaaaa'"
    # Something that is not an id (here a secret pasted alone) is not repeated.
    secret = keys.create().token.rsplit("_", 1)[1]
    with pytest.raises(KeyNotFoundError) as raised:
        keys.revoke(secret)
    assert str(raised.value) == (
        "No API key has that id (an id is the part after 'ck_', 16 letters and digits)"
    )
    assert raised.value.key_id is None


_CHILD = """
import sys
from cinchdb.errors import AuthenticationError
from cinchdb.keys import ApiKeys

keys = ApiKeys(sys.argv[1])
for line in sys.stdin:
    try:
        print("ok", keys.authenticate(line.strip()).key_id, flush=True)
    except AuthenticationError as e:
        print("refused", e, flush=True)
"""


def test_a_revoke_is_seen_by_another_process_at_once(keys, project):
    created = keys.create()
    # The other process keeps its ApiKeys open across the revoke, as a server worker does.
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(project)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        answers = []
        for step in range(2):
            if step == 1:
                revoked = keys.revoke(created.info.id).as_dict()["revoked_at"]
            child.stdin.write(created.token + "\n")
            child.stdin.flush()
            answers.append(child.stdout.readline().strip())
        child.stdin.close()
        assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert answers == [
        f"ok {created.info.id}",
        f"refused API key {created.info.id} was revoked at {revoked}",
    ]


def _good(keys: ApiKeys) -> str:
    return keys.create().token


def _malformed(good: str) -> list[object]:
    key_id, secret = good[3:].split("_")
    return [
        "",
        "ck_",
        "ck__",
        f"ck_{key_id}",
        f"ck_{key_id}_",
        f"ck_{key_id}{secret}",  # no second '_'
        f"ck_{key_id}__{secret[1:]}",  # '_' where the secret starts
        f"ck_{key_id[:8]}_{key_id[8:]}_{secret[:-1]}",  # '_' inside the id
        f"ck_{key_id}_{secret[:20]}_{secret[21:]}",  # '_' inside the secret
        f"ck_{key_id}_{secret}_",
        f"_ck_{key_id}_{secret[1:]}",
        f"CK_{key_id}_{secret}",
        f"ck_{key_id.upper()}_{secret}",
        f"ck_{key_id}_{secret.upper()}",
        f"ck-{key_id}_{secret}",
        f"ck_{key_id}_{secret[:-1]}1",  # '1' is not base32
        f"ck_{key_id}_{secret[:-1]}",  # a character short
        f"ck_{key_id}_{secret}a",  # one too many
        f" {good[1:]}",
        f"{good[:-1]}\n",
        f"Bearer {good}",
        "ck_" + "a" * 10_000_000,
        "x" * len(good),
        good.encode(),
        None,
        42,
    ]


def test_malformed_keys_are_refused_without_being_repeated(keys):
    good = _good(keys)
    keys.authenticate(good)
    for token in _malformed(good):
        with pytest.raises(AuthenticationError) as raised:
            keys.authenticate(token)
        assert str(raised.value) == MALFORMED, repr(token)[:80]
        assert raised.value.key_id is None


def test_an_unknown_id_or_a_wrong_secret_say_the_same(keys):
    good = _good(keys)
    key_id, secret = good[3:].split("_")
    flipped = ("b" if secret[0] == "a" else "a") + secret[1:]
    for token in [f"ck_{key_id}_{flipped}", f"ck_{'a' * 16}_{secret}"]:
        with pytest.raises(AuthenticationError) as raised:
            keys.authenticate(token)
        assert str(raised.value) == UNKNOWN
        assert raised.value.key_id is None


def test_no_message_contains_a_secret(keys):
    """Every refusal of a real key, or of one close to it, leaves its secret out."""
    created = keys.create(tenants=["acme"], scopes=["data:read"], expires_in=timedelta(hours=1))
    secret = created.token.rsplit("_", 1)[1]
    principal = keys.authenticate(created.token)
    # A token one character off: the last one changed to another letter or digit (a fixed
    # replacement would sometimes be the same character, and the token right).
    near = created.token[:-1] + ("b" if created.token.endswith("a") else "a")
    near_digit = created.token[:-1] + ("2" if created.token.endswith("1") else "1")
    messages = []
    for attempt in [
        lambda: keys.authenticate(near),
        lambda: keys.authenticate(created.token + "a"),
        lambda: keys.authenticate(created.token.replace("ck_", "ck-")),
        lambda: principal.require("data:write"),
        lambda: principal.require("data:read", tenant="other"),
        lambda: keys.revoke(secret),
        lambda: keys.revoke(near_digit),
        lambda: keys.revoke(created.token),
        lambda: keys.authenticate(created.token),
    ]:
        try:
            attempt()
        except (AuthenticationError, PermissionDeniedError, KeyNotFoundError) as e:
            messages.append(str(e))
            messages.append(repr(e.args))
    assert len(messages) == 16
    assert not [m for m in messages if secret[:12] in m]


def test_the_secret_is_compared_in_constant_time(keys, monkeypatch):
    """The stored hash is compared with hmac.compare_digest (recorded here, still doing the
    comparison), for a right and a wrong secret and an unknown id alike."""
    good = _good(keys)
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    keys.authenticate(good)
    for token in [good[:-1] + ("a" if good[-1] != "a" else "b"), f"ck_{'a' * 16}{good[19:]}"]:
        with pytest.raises(AuthenticationError):
            keys.authenticate(token)
    assert len(calls) == 3
    assert all(len(a) == len(b) == 64 for a, b in calls)


def test_threads_share_one_instance(keys):
    created = [keys.create() for _ in range(4)]
    errors: list[BaseException] = []

    def work(token: str) -> None:
        try:
            for _ in range(200):
                keys.authenticate(token).require("data:read")
        except BaseException as e:  # reported by the assert below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c.token,)) for c in created]
    for thread in threads:
        thread.start()
    revoked = keys.create()
    keys.revoke(revoked.info.id)
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with pytest.raises(AuthenticationError, match="was revoked"):
        keys.authenticate(revoked.token)


def test_keys_are_listed_oldest_first_with_their_limits(keys):
    first = keys.create(name="first", databases="main", branches=["feature/*"])
    second = keys.create(scopes=["kv:read"], tenants=["acme"])
    listed = keys.list()
    assert [k.id for k in listed] == [first.info.id, second.info.id]
    assert listed[0] == first.info
    assert listed[0].as_dict() == {
        "id": first.info.id,
        "name": "first",
        "scopes": list(SCOPES),
        "databases": ["main"],
        "branches": ["feature/*"],
        "tenants": [],
        "created_at": first.info.as_dict()["created_at"],
        "expires_at": None,
        "revoked_at": None,
        "status": "active",
    }


def test_keys_persist_and_the_table_is_versioned(project):
    with ApiKeys(project) as keys:
        token = keys.create().token
    with ApiKeys(project) as keys:
        keys.authenticate(token)
    with sqlite3.connect(project / ".cinchdb" / "metadata.db") as conn:
        row = conn.execute("SELECT version FROM cinch_meta WHERE name = 'api_keys'").fetchone()
    assert row == (1,)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=200),
        st.from_regex(r"ck_[a-z2-9_]{16}_[a-z0-9_A-Z]{50,60}", fullmatch=True),
    )
)
def test_any_text_is_refused_with_one_of_two_messages(keys, token):
    """Whatever arrives in a header: an AuthenticationError, never another exception, and the
    text itself never in the message."""
    with pytest.raises(AuthenticationError) as raised:
        keys.authenticate(token)
    assert str(raised.value) in (MALFORMED, UNKNOWN)
