"""The three parts a ``TenantFiles`` is made of, each on its own: the registry rows, the
directory of files, and the keys of encrypted tenants."""

from __future__ import annotations

import os
import sqlite3

import pytest

from cinchdb._tenant_crypto import TEMPLATE_KEY, TenantKeys
from cinchdb._tenant_dir import TenantDirectory, tenant_path
from cinchdb._tenant_registry import (
    REGISTRY_VERSION,
    PendingKey,
    TenantRegistry,
    prepare_registry,
)
from cinchdb.crypto import (
    KeyRequiredError,
    NotEncryptedError,
    WrongKeyError,
    derive_key,
    new_salt,
    verifier,
)
from cinchdb.errors import ProjectError, TenantExistsError, TenantNotFoundError
from journal import JournalStore


@pytest.fixture
def store(tmp_path):
    with JournalStore(tmp_path / "metadata.db") as opened:
        prepare_registry(opened)
        yield opened


@pytest.fixture
def registry(store):
    return TenantRegistry(store, "db")


# -- registry ------------------------------------------------------------------------------------


def test_rows_are_added_listed_and_removed(registry):
    registry.add("b")
    registry.add("a")
    assert registry.names() == ["a", "b"] and registry.exists("a")
    assert [r.name for r in registry.records()] == ["a", "b"]
    with pytest.raises(TenantExistsError):
        registry.add("a")
    registry.remove("a")
    assert registry.names() == ["b"] and not registry.exists("a")
    with pytest.raises(TenantNotFoundError):
        registry.record("a")


def test_rows_of_another_database_are_not_seen(store, registry):
    TenantRegistry(store, "other").add("x")
    assert registry.names() == [] and not registry.exists("x")


def test_a_rename_adds_and_removes_in_one_transaction(registry):
    registry.add("old")
    registry.add("new", replacing="old")
    assert registry.names() == ["new"]


def test_work_done_while_locked_that_fails_rolls_the_row_back(registry):
    def refuse():
        raise OSError("disk full")

    with pytest.raises(OSError):
        registry.add("a", while_locked=refuse)
    assert registry.names() == []


def test_crypto_columns(registry):
    registry.add("plain")
    registry.add("secret", salt=b"s" * 16, check="v1")
    assert registry.crypto("plain") is None
    assert registry.crypto("secret") == (b"s" * 16, "v1")
    assert registry.encrypted_names() == {"secret"}
    pending = PendingKey(b"t" * 16, "v2", b"n" * 32, b"o" * 32)
    assert registry.begin_rotation("secret", "v1", pending)
    assert not registry.begin_rotation("secret", "v1", pending)  # one at a time
    assert registry.crypto("secret") == (b"s" * 16, "v1")
    assert registry.pending_key("secret") == pending
    assert not registry.finish_rotation("secret", "other")
    assert registry.finish_rotation("secret", "v2")
    assert registry.crypto("secret") == (b"t" * 16, "v2")
    assert registry.pending_key("secret") is None


def test_the_registry_tables_are_prepared_once_and_refuse_a_newer_version(store):
    statements: list[str] = []
    store.connection.set_trace_callback(statements.append)
    prepare_registry(store)
    assert statements == ["SELECT version FROM cinch_meta WHERE name = 'registry'"]
    store.connection.set_trace_callback(None)
    store.connection.execute("UPDATE cinch_meta SET version = ?", (REGISTRY_VERSION + 1,))
    with pytest.raises(ProjectError, match="newer"):
        prepare_registry(store)


# -- directory -----------------------------------------------------------------------------------


def test_paths_are_sharded_by_the_hash_of_the_name(tmp_path):
    directory = TenantDirectory(tmp_path, "db")
    path = directory.path("feature/x", "acme")
    assert path == tenant_path(tmp_path / "db-feature~x", "acme")
    assert path.parent.parent == directory.branch_dir("feature/x")
    assert directory.template_path("main") == tmp_path / "db-main" / "__template.db"


def test_copy_is_whole_and_never_replaces_a_file(tmp_path):
    directory = TenantDirectory(tmp_path, "db")
    source = sqlite3.connect(tmp_path / "source.db")
    source.execute("CREATE TABLE t (x)")
    source.execute("INSERT INTO t VALUES (1)")
    source.commit()
    target = directory.path("main", "a")
    directory.copy(source, target)
    assert sqlite3.connect(target).execute("SELECT x FROM t").fetchall() == [(1,)]
    with pytest.raises(FileExistsError):
        directory.copy(source, target)
    directory.copy(source, target, exist_ok=True)
    assert [p.name for p in target.parent.iterdir()] == ["a.db"]  # no scratch left
    source.close()


def test_remove_takes_the_side_files_first_and_listing_follows_the_files(tmp_path):
    directory = TenantDirectory(tmp_path, "db")
    for name in ("a", "b"):
        path = directory.path("main", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    wal = directory.file_name("main", "a") + "-wal"
    open(wal, "wb").close()
    assert directory.with_files("main", {"a", "b", "lazy"}) == ["a", "b"]
    assert directory.with_files("main", {"a"}) == ["a"]  # unregistered files are not listed
    directory.remove("main", "a")
    assert not os.path.exists(wal) and not directory.path("main", "a").exists()
    directory.remove_branch("main")
    assert not directory.branch_dir("main").exists()
    assert directory.with_files("main", {"b"}) == []


# -- keys ----------------------------------------------------------------------------------------


def test_keys_are_checked_against_the_verifier(registry):
    salt = new_salt()
    registry.add("secret", salt=salt, check=verifier(derive_key("right key", salt)))
    registry.add("plain")
    keys = TenantKeys(registry)
    assert keys.locked() == {"secret"}
    with pytest.raises(KeyRequiredError):
        keys.raw_key("secret")
    with pytest.raises(WrongKeyError):
        keys.unlock("secret", "wrong key")
    keys.unlock("secret", "right key")
    assert keys.raw_key("secret") == derive_key("right key", salt) and keys.locked() == set()
    assert keys.raw_key("plain") is None and keys.raw_key(TEMPLATE_KEY) is None
    with pytest.raises(NotEncryptedError):
        keys.unlock("plain", "any")


def test_rotating_a_key_records_the_new_one(registry):
    salt = new_salt()
    registry.add("secret", salt=salt, check=verifier(derive_key("old", salt)))
    keys = TenantKeys(registry)
    rotation = keys.begin_rotation("secret", "old", "new")
    # While it is unfinished, either passphrase yields both keys.
    for passphrase in ("old", "new"):
        assert TenantKeys(registry).unlock("secret", passphrase) == rotation
    keys.finish_rotation("secret", rotation)
    fresh = TenantKeys(registry)
    with pytest.raises(WrongKeyError):
        fresh.unlock("secret", "old")
    fresh.unlock("secret", "new")
    assert fresh.keys["secret"] == keys.keys["secret"]
