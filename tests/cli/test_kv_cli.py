"""``cinch kv``: the Redis-like commands, TTLs as Redis reports them, and values that are
JSON only when ``--json`` says so."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import cinchdb


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def error(result, line: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert line in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.output


def test_set_stores_the_string_unless_json_is_asked(cinch, project):
    ok(cinch("kv", "set", "n", "30"))
    ok(cinch("kv", "set", "obj", '{"a": 1}'))
    ok(cinch("kv", "set", "--json", "num", "30"))
    ok(cinch("kv", "set", "--json", "doc", '{"a": [1, true, null]}'))
    ok(cinch("kv", "set", "--json", "quoted", '"hi"'))
    with cinchdb.connect(project_dir=project) as db:
        assert db.kv.get("n") == "30" and db.kv.get("obj") == '{"a": 1}'
        assert db.kv.get("num") == 30 and db.kv.get("doc") == {"a": [1, True, None]}
        assert db.kv.get("quoted") == "hi"


def test_bad_json_is_an_error_naming_it_and_nothing_is_written(cinch, project):
    error(cinch("kv", "set", "--json", "k", "{bad"),
          "Error: Invalid value for VALUE: '{bad' is not JSON: Expecting property name enclosed"
          " in double quotes (line 1, column 2)", 2)  # fmt: skip
    error(cinch("kv", "mset", "--json", "a", "1", "b", "nope"),
          "Error: Invalid value for KEY VALUE...: the value of 'b', 'nope', is not JSON:"
          " Expecting value (line 1, column 1)", 2)  # fmt: skip
    with cinchdb.connect(project_dir=project) as db:
        assert db.kv.keys() == []


def test_get_prints_strings_raw_and_other_values_as_json(cinch):
    ok(cinch("kv", "set", "s", "hello world"))
    ok(cinch("kv", "set", "--json", "doc", '{"a": 1}'))
    ok(cinch("kv", "set", "--json", "n", "30"))
    assert ok(cinch("kv", "get", "s")) == "hello world\n"
    assert json.loads(ok(cinch("kv", "get", "doc"))) == {"a": 1}
    assert ok(cinch("kv", "get", "n")) == "30\n"
    assert json.loads(ok(cinch("kv", "get", "s", "--json"))) == "hello world"
    error(cinch("kv", "get", "nope"), "Error: Key 'nope' not found")


def test_ttl_is_minus_two_when_missing_and_minus_one_without_expiry(cinch):
    ok(cinch("kv", "set", "plain", "x"))
    ok(cinch("kv", "set", "temp", "x", "--ttl", "100"))
    assert ok(cinch("kv", "ttl", "nope")) == "-2\n"
    assert ok(cinch("kv", "ttl", "plain")) == "-1\n"
    assert int(ok(cinch("kv", "ttl", "temp"))) in (99, 100)
    assert json.loads(ok(cinch("kv", "ttl", "nope", "--json"))) == {"key": "nope", "ttl": -2}


def test_exists_expire_persist(cinch):
    ok(cinch("kv", "set", "a", "1"))
    ok(cinch("kv", "set", "b", "2"))
    assert ok(cinch("kv", "exists", "a", "b", "c")) == "2\n"
    assert json.loads(ok(cinch("kv", "exists", "a", "c", "--json"))) == {"a": True, "c": False}
    assert ok(cinch("kv", "expire", "a", "60")) == "Key 'a' expires in 60 seconds\n"
    assert int(ok(cinch("kv", "ttl", "a"))) in (59, 60)
    error(cinch("kv", "expire", "nope", "60"), "Error: Key 'nope' not found")
    error(cinch("kv", "expire", "a", "0"), "Error: TTL must be a positive number of seconds, got 0")
    assert json.loads(ok(cinch("kv", "persist", "a", "--json"))) == {"key": "a", "persisted": True}
    assert ok(cinch("kv", "ttl", "a")) == "-1\n"
    assert ok(cinch("kv", "persist", "a")) == "Key 'a' has no expiry\n"
    error(cinch("kv", "persist", "nope"), "Error: Key 'nope' not found")
    ok(cinch("kv", "expire", "b", "30", "--json"))


def test_mset_and_mget(cinch):
    assert ok(cinch("kv", "mset", "a", "x:1", "b", "2")) == "Set 2 key(s)\n"
    ok(cinch("kv", "mset", "--json", "c", "[1, 2]", "d", '"text"', "--ttl", "50"))
    assert ok(cinch("kv", "mget", "a", "b", "c")) == "a\tx:1\nb\t2\nc\t[1, 2]\n"
    assert json.loads(ok(cinch("kv", "mget", "c", "d", "--json"))) == {"c": [1, 2], "d": "text"}
    assert int(ok(cinch("kv", "ttl", "d"))) in (49, 50)
    error(cinch("kv", "mget", "a", "nope", "gone"), "Error: Keys not found: ['nope', 'gone']")
    error(
        cinch("kv", "mset", "a", "1", "b"),
        "Error: Invalid value for KEY VALUE...: give pairs of KEY VALUE (3 arguments)",
        2,
    )


def test_every_kv_command_that_prints_a_result_has_json_output(cinch):
    ok(cinch("kv", "set", "--json", "k", '"v"'))
    for args in (("get", "k"), ("ttl", "k"), ("exists", "k"),
                 ("expire", "k", "10"), ("persist", "k"), ("mget", "k"),
                 ("keys",)):  # fmt: skip
        json.loads(ok(cinch("kv", *args, "--json")))


def test_the_console_examples_in_docs_kv_run_as_written(cinch):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "kv.md").read_text()
    blocks = re.findall(r"```console\n(.*?)```", doc, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        # "$ cinch ARGS" lines, each followed by the exact output it prints.
        for command, expected in re.findall(r"^\$ cinch (.*)\n((?:[^$].*\n)*)", block, re.M):
            result = cinch(*shlex.split(command))
            assert result.exit_code == 0, (command, result.output)
            assert result.stdout == expected, command
