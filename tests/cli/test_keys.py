"""Keys off the command line: ``--key-file``, the hidden prompt (``--key -``), the environment,
and ``cinch tenant rotate-key`` (with ``--resume``). No key ever reaches the output."""

from __future__ import annotations

import json

import pytest

import cinchdb

OLD, NEW = "old-passphrase-1", "new-passphrase-2"


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    assert OLD not in result.output and NEW not in result.output
    return result.stdout


def error(result, line: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert line in result.stderr.splitlines(), result.stderr
    assert OLD not in result.output and NEW not in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def keys(tmp_path):
    """Two key files, each ending in a newline as editors leave them."""
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    old.write_text(OLD + "\n")
    new.write_text(NEW + "\n")
    return old, new


@pytest.fixture
def vault(cinch, keys):
    ok(cinch("table", "create", "users", "name:TEXT"))
    ok(cinch("tenant", "create", "vault", "--encrypt", "--key-file", str(keys[0])))
    ok(cinch("data", "insert", "users", '{"name": "ann"}', "-t", "vault", "--key-file",
             str(keys[0])))  # fmt: skip
    return cinch


def names(cinch, *key_args: str, input: str | None = None) -> list[str]:
    out = ok(cinch("query", "SELECT name FROM users", "-t", "vault", "--json", *key_args,
                   input=input))  # fmt: skip
    return [row["name"] for row in json.loads(out[out.index("[") :])]


def test_key_file_prompt_and_environment_open_the_tenant(vault, keys, monkeypatch):
    assert names(vault, "--key-file", str(keys[0])) == ["ann"]
    assert names(vault, "--key", "-", input=OLD + "\n") == ["ann"]
    monkeypatch.setenv("CINCHDB_ENCRYPTION_KEY", OLD)
    assert names(vault) == ["ann"]
    monkeypatch.setenv("CINCHDB_ENCRYPTION_KEY", "not-it")
    assert names(vault, "--key-file", str(keys[0])) == ["ann"]  # the file wins over the env
    error(vault("query", "SELECT 1", "-t", "vault", "--key", "x", "--key-file", str(keys[0])),
          "Error: Give --key or --key-file, not both", 2)  # fmt: skip
    error(vault("query", "SELECT 1", "-t", "vault", "--key", "-", input="wrong\n"),
          "Error: Wrong encryption key for tenant 'vault'")  # fmt: skip


def test_an_empty_or_missing_key_file_is_a_usage_error(vault, tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    error(vault("query", "SELECT 1", "-t", "vault", "--key-file", str(empty)),
          f"Error: --key-file {empty} is empty", 2)  # fmt: skip
    result = vault("query", "SELECT 1", "-t", "vault", "--key-file", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_create_with_a_prompted_key_asks_twice(cinch):
    ok(cinch("table", "create", "users", "name:TEXT"))
    ok(cinch("tenant", "create", "v2", "--encrypt", "--key", "-", input=f"{OLD}\n{OLD}\n"))
    assert names  # the tenant opens with the prompted key:
    out = ok(cinch("query", "SELECT count(*) AS n FROM users", "-t", "v2", "--key", "-",
                   "--json", input=OLD + "\n"))  # fmt: skip
    assert '"n": 0' in out


def test_rotate_key_from_files_prompts_and_environment(vault, keys, monkeypatch):
    ok(vault("tenant", "rotate-key", "vault", "--key-file", str(keys[0]), "--new-key-file",
             str(keys[1])))  # fmt: skip
    error(vault("query", "SELECT 1", "-t", "vault", "--key-file", str(keys[0])),
          "Error: Wrong encryption key for tenant 'vault'")  # fmt: skip
    assert names(vault, "--key-file", str(keys[1])) == ["ann"]
    # Nothing given: both keys are prompted for, the new one twice.
    ok(vault("tenant", "rotate-key", "vault", input=f"{NEW}\n{OLD}\n{OLD}\n"))
    assert names(vault, "--key-file", str(keys[0])) == ["ann"]
    monkeypatch.setenv("CINCHDB_ENCRYPTION_KEY", OLD)
    monkeypatch.setenv("CINCHDB_NEW_ENCRYPTION_KEY", NEW)
    ok(vault("tenant", "rotate-key", "vault"))
    monkeypatch.delenv("CINCHDB_ENCRYPTION_KEY")
    monkeypatch.delenv("CINCHDB_NEW_ENCRYPTION_KEY")
    assert names(vault, "--key-file", str(keys[1])) == ["ann"]
    error(vault("tenant", "rotate-key", "vault", "--key-file", str(keys[0]), "--new-key",
                "x"), "Error: Wrong encryption key for tenant 'vault'")  # fmt: skip


def test_rotate_key_resume_finishes_an_interrupted_rotation(vault, keys, project):
    # Interrupted after step 1 (the pending key recorded, no file re-keyed yet): what a
    # SIGKILL at that point leaves (tests/cinchdb/test_key_rotation.py kills for real).
    with cinchdb.connect(project_dir=project) as db:
        db._files.encryption.begin_rotation("vault", OLD, NEW)
    out = ok(vault("tenant", "rotate-key", "vault", "--resume", "--key", "-",
                   input=OLD + "\n"))  # fmt: skip
    assert "Rotated the key of tenant 'vault' (resumed)" in out
    assert names(vault, "--key-file", str(keys[1])) == ["ann"]
    # Resuming a rotation that is already done is harmless.
    ok(vault("tenant", "rotate-key", "vault", "--resume", "--new-key-file", str(keys[1])))
    error(vault("tenant", "rotate-key", "vault", "--resume", "--key-file", str(keys[0])),
          "Error: Wrong encryption key for tenant 'vault'")  # fmt: skip
