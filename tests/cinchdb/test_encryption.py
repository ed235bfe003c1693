"""Encrypted tenants: nothing readable on disk, keys checked, schema changes reach them when
their key is at hand, key rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

import cinchdb
from cinchdb.crypto import EncryptionError, KeyRequiredError, WrongKeyError
from cinchdb.errors import CinchError
from cinchdb.models import Column

SECRET = b"topsecret-7f3a"
KEY = "your-secret-key"


def files_under(root: Path) -> list[Path]:
    return [p for p in (root / ".cinchdb").rglob("*") if p.is_file()]


def assert_nothing_readable(root: Path, tenant: str) -> None:
    """No file of the project holds the plaintext; the tenant's files lack the SQLite header."""
    for path in files_under(root):
        data = path.read_bytes()
        assert SECRET not in data, path
        if path.name.startswith(f"{tenant}.db"):
            assert not data.startswith(b"SQLite format 3"), path


@pytest.fixture
def secure(users, project):
    users.create_tenant("secure", encrypt=True, encryption_key=KEY)
    handle = cinchdb.connect(tenant="secure", encryption_key=KEY, project_dir=project)
    handle.insert("users", {"name": SECRET.decode(), "email": "a@x"})
    handle.kv.set("kv:secret", SECRET.decode())
    yield handle
    handle.close()


def test_no_plaintext_on_disk_and_no_header(secure, project):
    assert secure.query("SELECT name FROM users") == [{"name": SECRET.decode()}]
    path = secure._files.path("main", "secure")
    assert path.exists() and Path(f"{path}-wal").exists()
    assert_nothing_readable(project, "secure")


def test_wrong_and_missing_keys_are_clear_errors(secure, project):
    with pytest.raises(WrongKeyError, match="Wrong encryption key for tenant 'secure'") as e:
        cinchdb.connect(tenant="secure", encryption_key="nope", project_dir=project)
    assert isinstance(e.value, CinchError) and "nope" not in str(e.value)
    with cinchdb.connect(tenant="secure", project_dir=project) as keyless:
        with pytest.raises(KeyRequiredError, match="is encrypted: give its key"):
            keyless.query("SELECT * FROM users")
        with pytest.raises(KeyRequiredError):
            keyless.kv.get("kv:secret")
    with pytest.raises(EncryptionError, match="together with encryption_key"):
        secure.create_tenant("half", encrypt=True)


def test_schema_change_without_the_key_waits_then_catches_up(secure, project):
    secure.close()
    with cinchdb.connect(project_dir=project) as admin:  # no key for 'secure'
        admin.add_column("users", Column(name="plan", type="TEXT", default="free"))
        status = {s["name"]: s for s in admin.tenant_status()}
        assert status["secure"]["needs_key"] and status["secure"]["behind"] is None
        assert admin.check()["behind"][0]["needs_key"]
    with cinchdb.connect(tenant="secure", encryption_key=KEY, project_dir=project) as again:
        assert again.query("SELECT name, plan FROM users") == [
            {"name": SECRET.decode(), "plan": "free"}
        ]
        assert again.tenant_status()[-1]["behind"] == 0
        assert again.kv.get("kv:secret") == SECRET.decode()
    assert_nothing_readable(project, "secure")


def test_lazy_encrypted_tenant_is_built_encrypted(users, project):
    users.add_column("users", Column(name="age2", type="INTEGER", default=0))
    users.create_tenant("lazyenc", encrypt=True, encryption_key=KEY)
    assert not users._files.is_materialized("main", "lazyenc")
    with cinchdb.connect(tenant="lazyenc", encryption_key=KEY, project_dir=project) as handle:
        handle.insert("users", {"name": SECRET.decode(), "age2": 5})
        assert handle.query("SELECT age2 FROM users") == [{"age2": 5}]
    assert_nothing_readable(project, "lazyenc")


def test_rotation_keeps_data_and_rejects_the_old_key(secure, project):
    with pytest.raises(WrongKeyError):
        secure.rotate_tenant_key("secure", "not-it", "x")
    secure.rotate_tenant_key("secure", KEY, "new-key")
    secure.close()
    with pytest.raises(WrongKeyError):
        cinchdb.connect(tenant="secure", encryption_key=KEY, project_dir=project)
    with cinchdb.connect(tenant="secure", encryption_key="new-key", project_dir=project) as h:
        assert h.query("SELECT name FROM users") == [{"name": SECRET.decode()}]
    assert_nothing_readable(project, "secure")


def test_merges_copies_and_branches_keep_encryption(secure, project):
    secure.create_branch("feature", with_data=True)
    secure.switch_branch("feature")
    assert secure.query("SELECT name FROM users") == [{"name": SECRET.decode()}]
    secure.create_index("idx_users_name", "users", ["name"])
    secure.switch_branch("main")
    secure.add_column("users", Column(name="moved_on", type="INTEGER"))
    assert secure.merge_branches("feature", "main")["status"] == "success"
    assert [i["name"] for i in secure.list_indexes()] == ["idx_users_name"]
    secure.copy_tenant("secure", "secure_copy")
    with cinchdb.connect(tenant="secure_copy", encryption_key=KEY, project_dir=project) as c:
        assert c.query("SELECT name FROM users") == [{"name": SECRET.decode()}]
    assert_nothing_readable(project, "secure")
    assert_nothing_readable(project, "secure_copy")
