"""Start-up: a command imports only what it uses.

Each command runs in a fresh interpreter (a new process, as a user runs it) through
``cinchdb.cli.main``; the process then reports which of the heavy modules it imported. The
project is real: made by ``cinch init``, with a table, rows and a key. Timing is measured in
``benchmarks/bench_startup.py``, never asserted here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = (
    "sqlglot",
    "networkx",
    "pydantic",
    "rich",
    "journal.merge",
    "cinchdb.merging",
    "journal.events",
    "journal.schema",
    # cinch serve's: only `cinch serve` may load them.
    "starlette",
    "uvicorn",
    "httpx",
)

RUN = """
import json, sys
from cinchdb.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
else:
    code = 0
heavy = {heavy!r}
loaded = sorted(name for name in heavy if name in sys.modules)
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def _cinch(cwd: Path, *args: str) -> tuple[str, int, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINCHDB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(heavy=HEAVY), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, report["code"], set(report["loaded"])


@pytest.fixture(scope="module")
def real_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("startup")
    assert _cinch(root, "init", "app")[1] == 0
    app = root / "app"
    for args in (
        ("table", "create", "users", "name:TEXT", "age:INTEGER:default=3"),
        ("data", "insert", "users", '{"name": "Ada"}'),
        ("kv", "set", "greeting", "hello"),
    ):
        assert _cinch(app, *args)[1] == 0, args
    return app


def test_query_imports_no_sqlglot_networkx_pydantic_or_merge_engine(real_project: Path):
    """A tenant at its branch head, a statement that reads no table: no schema is built, so
    neither the event and definition models (pydantic) nor the fold are imported."""
    out, code, loaded = _cinch(real_project, "query", "SELECT 1")
    assert code == 0 and "1" in out
    assert loaded.isdisjoint(
        {"sqlglot", "networkx", "pydantic", "journal.merge", "cinchdb.merging"}
        | {"journal.events", "journal.schema"}
    )
    # Drawing the table is what loads rich.
    assert "rich" in loaded


def test_query_of_a_table_reads_it_without_sqlglot(real_project: Path):
    out, code, loaded = _cinch(real_project, "query", "SELECT name, age FROM users", "--json")
    assert code == 0
    assert json.loads(out) == [{"name": "Ada", "age": 3}]
    assert loaded.isdisjoint({"sqlglot", "networkx", "journal.merge", "cinchdb.merging", "rich"})


def test_data_insert_imports_no_sqlglot_networkx_or_merge_engine(real_project: Path):
    _out, code, loaded = _cinch(real_project, "data", "insert", "users", '{"name": "Bob"}')
    assert code == 0
    assert loaded.isdisjoint({"sqlglot", "networkx", "journal.merge", "cinchdb.merging"})


def test_kv_get_imports_no_sqlglot_networkx_merge_engine_rich_or_pydantic(real_project: Path):
    out, code, loaded = _cinch(real_project, "kv", "get", "greeting")
    assert code == 0 and "hello" in out
    assert loaded.isdisjoint({"sqlglot", "networkx", "journal.merge", "cinchdb.merging", "rich"})
    assert loaded.isdisjoint({"pydantic", "journal.events", "journal.schema"})


def test_a_query_on_a_tenant_behind_the_head_catches_it_up_first(tmp_path: Path):
    """A tenant file left at an older event (restored from a copy, or left behind by a crash)
    is brought to the head by the new process before the query runs: the column added since
    is there, and its BOOLEAN values come back as booleans."""
    assert _cinch(tmp_path, "init", "app")[1] == 0
    app = tmp_path / "app"
    for args in (
        ("table", "create", "users", "name:TEXT"),
        ("tenant", "create", "acme"),
        ("data", "insert", "users", '{"name": "Ada"}', "--tenant", "acme"),
    ):
        assert _cinch(app, *args)[1] == 0, args
    [tenant_file] = (app / ".cinchdb").rglob("acme.db")
    assert not tenant_file.with_name("acme.db-wal").exists()  # closed: the file is whole
    old = tmp_path / "acme-before.db"
    shutil.copyfile(tenant_file, old)
    assert _cinch(app, "column", "add", "users", "active:BOOLEAN:default=1")[1] == 0
    shutil.copyfile(old, tenant_file)  # one event behind the head now

    out, code, loaded = _cinch(app, "query", "SELECT name, active FROM users", "--json",
                               "--tenant", "acme")  # fmt: skip
    assert code == 0, out
    assert json.loads(out) == [{"name": "Ada", "active": True}]
    assert "journal.events" in loaded  # the catch-up read the event it lacked
    out, code, _ = _cinch(app, "query", "SELECT 1 AS one", "--json", "--tenant", "acme")
    assert (code, json.loads(out)) == (0, [{"one": 1}])


def test_help_imports_none_of_the_heavy_modules(real_project: Path):
    out, code, loaded = _cinch(real_project, "--help")
    assert code == 0 and "Commands:" in out and "query" in out
    assert loaded == set()


def test_a_schema_command_still_loads_what_it_needs(real_project: Path):
    """The lazy stand-ins load on use: a view (parsed by sqlglot) still works."""
    _out, code, loaded = _cinch(real_project, "view", "create", "adults", "SELECT * FROM users")
    assert code == 0
    assert "sqlglot" in loaded
