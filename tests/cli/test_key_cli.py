"""``cinch key create|list|revoke`` (issue 17): the key printed once, usage errors naming the
argument, and the key in no message."""

from __future__ import annotations

import json
import re

import pytest

from cinchdb.cli import cli
from cinchdb.errors import AuthenticationError
from cinchdb.keys import SCOPES, ApiKeys

TOKEN = re.compile(r"ck_([a-z2-7]{16})_([a-z2-7]{56})")


def _created(result) -> tuple[str, str]:
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    match = TOKEN.fullmatch(token)
    assert match is not None, result.stdout
    return token, match[1]


def test_create_prints_the_key_once_and_warns_on_stderr(cinch, project):
    token, key_id = _created(cinch("key", "create"))
    result = cinch("key", "create")
    assert result.stderr.startswith("Created API key ")
    assert result.stderr == (
        f"Created API key {result.stdout.strip()[3:19]}. It is shown only once: store it now"
        " (CinchDB keeps only its hash)\n"
    )
    with ApiKeys(project) as keys:
        principal = keys.authenticate(token)
    assert principal.key_id == key_id
    assert principal.scopes == frozenset(SCOPES)


def test_create_with_scopes_limits_and_expiry(cinch, project):
    result = cinch("key", "create", "--scope", "data:read", "--scope", "kv:read",
                   "--database", "main", "--branch", "feature/*", "--tenant", "acme",
                   "--tenant", "globex", "--expires", "12h", "--name", "reports",
                   "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert TOKEN.fullmatch(made["token"])
    assert {k: made[k] for k in ("name", "scopes", "databases", "branches", "tenants")} == {
        "name": "reports",
        "scopes": ["data:read", "kv:read"],
        "databases": ["main"],
        "branches": ["feature/*"],
        "tenants": ["acme", "globex"],
    }
    assert made["status"] == "active" and made["revoked_at"] is None
    with ApiKeys(project) as keys:
        principal = keys.authenticate(made["token"])
    assert principal.permits("kv:read", branch="feature/x", tenant="globex")
    assert not principal.permits("data:write")
    assert principal.expires_at is not None
    listed = json.loads(cinch("key", "list", "--json").stdout)
    assert listed == [{k: v for k, v in made.items() if k != "token"}]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scope", "data:delete"],
         "Error: Invalid value for '--scope': 'data:delete' is not one of 'schema:read',"
         " 'schema:write', 'data:read', 'data:write', 'kv:read', 'kv:write', 'tenants:admin',"
         " 'branches:admin', 'keys:admin', 'metrics:read'."),
        (["--expires", "30"],
         "Error: Invalid value for '--expires': '30' is not a duration: use a whole number and a"
         " unit (s, m, h or d), e.g. 30d, 12h, 90m"),
        (["--expires", "1y"],
         "Error: Invalid value for '--expires': '1y' is not a duration: use a whole number and a"
         " unit (s, m, h or d), e.g. 30d, 12h, 90m"),
        (["--expires", "0d"],
         "Error: Invalid value for '--expires': '0d' is not a duration: use a whole number and a"
         " unit (s, m, h or d), e.g. 30d, 12h, 90m"),
        (["--expires", "-5m"],
         "Error: Invalid value for '--expires': '-5m' is not a duration: use a whole number and a"
         " unit (s, m, h or d), e.g. 30d, 12h, 90m"),
        (["--expires", "99999999999d"],
         "Error: Invalid value for '--expires': '99999999999d' is too long: at most 999999 of a"
         " unit"),
    ],
)  # fmt: skip
def test_a_bad_scope_or_expiry_is_a_usage_error_naming_it(cinch, arguments, message):
    result = cinch("key", "create", *arguments)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: ")
    assert result.stderr.splitlines()[-1] == message
    assert cinch("key", "list", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--database", "my-db"],
         "Error: Invalid database name 'my-db': use letters, digits and '_', starting with a"
         " letter or digit"),
        (["--branch", "feature/[ab]"],
         "Error: ApiKeys.create() argument 'branches': branch pattern 'feature/[ab]': use a"
         " branch name's characters, with '*' and '?' as wildcards"),
    ],
)  # fmt: skip
def test_a_bad_limit_is_an_error_line(cinch, arguments, message):
    result = cinch("key", "create", *arguments)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message + "\n")


def test_list_shows_keys_without_secrets(cinch):
    token, key_id = _created(cinch("key", "create", "--scope", "kv:read", "--name", "cache"))
    result = cinch("key", "list")
    assert result.exit_code == 0
    assert token[20:] not in result.output
    line = next(line for line in result.stdout.splitlines() if key_id in line)
    cells = [cell.strip() for cell in line.strip("│ ").split("│")]
    assert cells[:6] == [key_id, "cache", "kv:read", "any", "any", "any"]
    assert cells[7:] == ["never", "active"]


def test_list_of_no_keys(cinch):
    assert cinch("key", "list").stdout == "(none)\n"
    assert json.loads(cinch("key", "list", "--json").stdout) == []


def test_revoke(cinch, project):
    token, key_id = _created(cinch("key", "create"))
    result = cinch("key", "revoke", key_id)
    assert (result.exit_code, result.stdout) == (0, f"Revoked API key {key_id}\n")
    again = json.loads(cinch("key", "revoke", key_id, "--json").stdout)
    assert again["status"] == "revoked" and again["id"] == key_id
    assert json.loads(cinch("key", "list", "--json").stdout)[0]["status"] == "revoked"
    with ApiKeys(project) as keys, pytest.raises(AuthenticationError, match="was revoked"):
        keys.authenticate(token)


def test_revoke_an_unknown_key(cinch):
    result = cinch("key", "revoke", "aaaaaaaaaaaaaaaa")
    assert (result.exit_code, result.stderr) == (
        1, "Error: No API key has the id 'aaaaaaaaaaaaaaaa'\n")  # fmt: skip


def test_a_secret_given_as_an_id_is_not_printed_back(cinch):
    token, _ = _created(cinch("key", "create"))
    secret = token.rsplit("_", 1)[1]
    result = cinch("key", "revoke", secret)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No API key has that id (an id is the part after 'ck_', 16 letters and digits)\n"
    )
    assert secret not in result.output


def test_outside_a_project(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["key", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: No CinchDB project found in {tmp_path}")
