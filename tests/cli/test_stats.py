"""``cinch stats``: query analytics as tables and JSON, from real ``cinch`` processes; the README's
analytics block run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SELECT_SHAPE = "SELECT item FROM orders WHERE qty = ?"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINCHDB_")}
    env["COLUMNS"] = "200"
    return env


def run(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """``cinch ARGS`` as its own process (each one flushes its analytics as it exits)."""
    done = subprocess.run([sys.executable, "-m", "cinchdb.cli", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == code, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    run(tmp_path, "init", "shop")
    root = tmp_path / "shop"
    run(root, "table", "create", "orders", "item:TEXT", "qty:INTEGER")
    run(root, "tenant", "create", "acme")
    return root


def _shapes(document: dict[str, object], table: str) -> dict[str, dict[str, object]]:
    rows = document[table]
    assert isinstance(rows, list)
    return {row["sql"]: row for row in rows}


def test_stats_count_what_the_commands_ran(shop: Path) -> None:
    run(shop, "config", "set", "analytics", "on")
    for qty in (1, 2, 3):
        run(shop, "data", "insert", "orders", json.dumps({"item": "tea", "qty": qty}))
    run(shop, "data", "insert", "orders", '{"item": "jam", "qty": 9}', "--tenant", "acme")
    for qty in (1, 2):
        run(shop, "query", f"SELECT item FROM orders WHERE qty = {qty}")
    run(shop, "query", "select item  from orders where qty=7", "--tenant", "acme")

    document = json.loads(run(shop, "stats", "--json").stdout)
    assert set(document) == {"since", "until", "slowest", "most_frequent", "tenants"}
    frequent = _shapes(document, "most_frequent")
    select = frequent[SELECT_SHAPE]
    assert (select["kind"], select["calls"], select["errors"]) == ("select", 3, 0)
    assert select["rows"] == 2  # qty 1 and qty 2 on main; nothing on acme
    assert 0 <= select["p50_ms"] <= select["p95_ms"] <= select["p99_ms"]
    inserts = [row for row in frequent.values() if row["kind"] == "insert"]
    assert len(inserts) == 1 and "orders" in inserts[0]["sql"]
    assert (inserts[0]["calls"], inserts[0]["rows"]) == (4, 4)
    # Values never reach the analytics: neither the literals nor the inserted ones.
    assert not re.search(r"tea|jam|= [0-9]", json.dumps(document))

    tenants = {(row["tenant"], row["branch"]): row for row in document["tenants"]}
    assert set(tenants) == {("main", "main"), ("acme", "main")}
    assert (tenants["main", "main"]["calls"], tenants["acme", "main"]["calls"]) == (5, 2)
    assert sum(row["calls"] for row in frequent.values()) == sum(
        row["calls"] for row in tenants.values()
    )

    acme = json.loads(run(shop, "stats", "--tenant", "acme", "--json").stdout)
    assert [(row["tenant"], row["calls"]) for row in acme["tenants"]] == [("acme", 2)]
    assert _shapes(acme, "most_frequent")[SELECT_SHAPE]["calls"] == 1
    later = json.loads(run(shop, "stats", "--since", "2999-01-01T00:00", "--json").stdout)
    assert (later["slowest"], later["most_frequent"], later["tenants"]) == ([], [], [])
    recent = json.loads(run(shop, "stats", "--since", "1h", "--json").stdout)
    assert _shapes(recent, "most_frequent")[SELECT_SHAPE]["calls"] == 3

    table = run(shop, "stats").stdout
    for heading in ("Slowest query shapes", "Most frequent query shapes", "Tenants"):
        assert f"\n{heading}\n" in f"\n{table}"
    assert SELECT_SHAPE in table and "tea" not in table
    # The analytics file holds no value either.
    stored = b"".join(path.read_bytes() for path in (shop / ".cinchdb").glob("analytics/*"))
    assert b"orders" in stored and b"tea" not in stored and b"jam" not in stored


def test_slow_statements(shop: Path) -> None:
    run(shop, "config", "set", "analytics", "on")
    run(shop, "config", "set", "slow_query_ms", "0")  # every statement is slow enough
    run(shop, "data", "insert", "orders", '{"item": "tea", "qty": 1}', "--tenant", "acme")
    run(shop, "query", "SELECT item FROM orders WHERE qty = 987654")
    slow = json.loads(run(shop, "stats", "--slow", "--json").stdout)
    assert {(row["tenant"], row["branch"], row["kind"]) for row in slow} >= {
        ("acme", "main", "insert"), ("main", "main", "select")}  # fmt: skip
    assert SELECT_SHAPE in {row["sql"] for row in slow}
    assert set(slow[0]) == {"at", "tenant", "branch", "sql", "elapsed_ms", "kind"}
    assert "tea" not in json.dumps(slow) and "987654" not in json.dumps(slow)
    acme = json.loads(run(shop, "stats", "--slow", "--tenant", "acme", "--json").stdout)
    assert {row["tenant"] for row in acme} == {"acme"}
    assert json.loads(run(shop, "stats", "--slow", "--threshold", "1e9", "--json").stdout) == []
    assert run(shop, "stats", "--slow", "--threshold", "1e9").stdout == "(none)\n"
    table = run(shop, "stats", "--slow").stdout
    assert SELECT_SHAPE in table and "987654" not in table
    # Times to the millisecond, in UTC, as the heading row names them.
    assert re.search(r"│ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +│ main +│ main +│", table)
    header = [cell.strip() for cell in table.splitlines()[1].split("┃")[1:-1]]
    assert header == ["at", "tenant", "branch", "ms", "kind", "sql"]


def test_nothing_recorded_with_analytics_off(shop: Path) -> None:
    run(shop, "query", "SELECT item FROM orders WHERE qty = 1")
    done = run(shop, "stats")
    assert done.stdout == (
        "Slowest query shapes\n(none)\nMost frequent query shapes\n(none)\nTenants\n(none)\n"
    )
    assert done.stderr == (
        "Analytics is off for this project: turn it on with 'cinch config set analytics on'\n"
    )
    assert json.loads(run(shop, "stats", "--slow", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"],
         "Error: Invalid value for '--since': 'yesterday' is neither a duration (a whole number"
         " and s, m, h or d: 30m, 1h, 2d) nor an ISO time (2026-01-31T09:00)"),
        (["--since", "5w"],
         "Error: Invalid value for '--since': '5w' is neither a duration (a whole number"
         " and s, m, h or d: 30m, 1h, 2d) nor an ISO time (2026-01-31T09:00)"),
        (["--threshold", "5"], "Error: --threshold goes with --slow"),
        (["--slow", "--threshold", "-1"],
         "Error: Invalid value for '--threshold': -1.0 is not in the range x>=0."),
        (["--limit", "0"],
         "Error: Invalid value for '--limit' / '-n': 0 is not in the range x>=1."),
    ],
)  # fmt: skip
def test_usage_errors(cinch, args, message):
    result = cinch("stats", *args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message


def test_unknown_database(cinch):
    result = cinch("stats", "-d", "nope")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "'nope'" in result.output


def test_the_readme_block_runs(tmp_path: Path) -> None:
    (script,) = re.findall(
        r"<!-- analytics-quickstart -->\n```bash\n(.*?)^```$",
        README.read_text(),
        flags=re.DOTALL | re.MULTILINE,
    )
    shim = tmp_path / "bin" / "cinch"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cinchdb.cli "$@"\n')
    shim.chmod(0o755)
    env = _env()
    env["PATH"] = f"{shim.parent}:{env['PATH']}"
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Set analytics to on" in done.stdout
    assert "Most frequent query shapes" in done.stdout
    assert SELECT_SHAPE in done.stdout and "jam" not in done.stdout.split("Slowest", 1)[1]
