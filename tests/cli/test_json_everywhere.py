"""Issue 16: every command that prints a result has ``--json`` (scripts and CI read one JSON
document from stdout). The walk loads every command through the COMMANDS table."""

from __future__ import annotations

import json

import click

from cinchdb.cli import cli

#: Commands without --json, each with the reason. Empty: confirmations ("Created table t")
#: are results too, and with --json they print the object they made or changed.
WITHOUT_JSON: dict[str, str] = {
    # On `kv set`, --json says how to read VALUE (JSON, not a string: issue 16's KV item),
    # so it cannot also ask for JSON output; the confirmation is the key's name.
    "kv set": "--json names VALUE's kind",
    # A server runs until stopped; it has no result to print (its URL goes to stderr).
    "serve": "a long-running server",
}


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, f"{path} {name}".strip())
        else:
            found.append((path, command))

    walk(cli, "")
    return found


def test_every_command_has_json():
    commands = _commands()
    assert len(commands) > 50  # the walk reached the groups' commands
    missing = [
        path
        for path, command in commands
        if path not in WITHOUT_JSON
        and not any("--json" in getattr(p, "opts", ()) for p in command.params)
    ]
    assert missing == []


def ok(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_confirmations_print_json(cinch, tmp_path):
    assert ok(cinch("table", "create", "users", "name:TEXT", "--json"))["name"] == "users"
    assert ok(cinch("column", "add", "users", "age:INTEGER", "--json"))["name"] == "age"
    assert ok(cinch("column", "rename", "users", "age", "years", "--json")) == {
        "table": "users", "column": "years", "renamed_from": "age"}  # fmt: skip
    assert ok(cinch("index", "create", "i", "users", "name", "--json"))["name"] == "i"
    assert ok(cinch("view", "create", "v", "SELECT name FROM users", "--json"))["name"] == "v"
    assert cinch("kv", "set", "k", "1", "--json").exit_code == 0
    assert ok(cinch("kv", "get", "k", "--json")) == 1
    assert ok(cinch("kv", "incr", "k", "--json")) == {"key": "k", "value": 2}
    assert ok(cinch("kv", "ttl", "k", "--json")) == {"key": "k", "ttl": -1}
    assert ok(cinch("kv", "delete", "k", "--json")) == {"deleted": 1}
    assert ok(cinch("branch", "switch", "main", "--json")) == {"branch": "main"}
    assert ok(cinch("diff", "main", "main", "--json"))["operations"] == []
    languages = ok(cinch("codegen", "languages", "--json"))
    assert "python" in languages
    out = tmp_path / "models"
    assert len(ok(cinch("codegen", "generate", "python", str(out), "--json"))["files"]) > 0
    assert ok(cinch("codegen", "check", str(out), "--json")) == {"stale": [], "ok": True}
    assert ok(cinch("view", "delete", "v", "--json")) == {"dropped": "v"}
    assert ok(cinch("table", "delete", "users", "--yes", "--json")) == {"dropped": "users"}
