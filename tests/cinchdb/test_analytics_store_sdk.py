"""``get_analytics_stats`` and ``get_slow_queries`` on real handles with analytics on, and the
analytics file scanned byte by byte (WAL included) for the values the statements carried."""

from __future__ import annotations

import struct
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest

import cinchdb
from cinchdb._analytics_store import analytics_path
from cinchdb.errors import InvalidFieldError, InvalidTenantNameError
from cinchdb.models import Column
from cinchdb.project import read_config, write_config
from tests.stress import iterations

ROOT = Path(__file__).resolve().parents[2]

#: A query that takes tens of milliseconds: far slower than any point select beside it.
SLOW_SQL = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)"
    " SELECT COUNT(*) AS c FROM n"
)
SLOW_SHAPE = (
    "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + ? FROM n WHERE i < ?)"
    " SELECT COUNT(*) AS c FROM n"
)


def _set_config(project: Path, **changes: object) -> None:
    meta = project / ".cinchdb"
    write_config(meta, attrs.evolve(read_config(meta), **changes))


@pytest.fixture
def handles(project: Path) -> dict[str, cinchdb.CinchDB]:
    _set_config(project, slow_query_ms=15.0)
    with cinchdb.connect(project_dir=project) as admin:
        admin.create_table("items", [Column(name="n", type="INTEGER")])
        admin.create_tenant("acme")
        admin.create_tenant("zeta")
    opened = {
        t: cinchdb.connect(tenant=t, project_dir=project, analytics=True) for t in ("acme", "zeta")
    }
    yield opened
    for db in opened.values():
        db.close()


def test_stats_count_each_tenants_statements_by_shape(handles: dict[str, cinchdb.CinchDB]) -> None:
    acme, zeta = handles["acme"], handles["zeta"]
    for i in range(7):
        acme.query("SELECT n FROM items WHERE n = ?", [i])
    for i in range(3):
        zeta.query(f"SELECT n FROM items WHERE n = {i}")
    acme.query(SLOW_SQL)

    stats = acme.get_analytics_stats()
    totals = {t["tenant"]: t["calls"] for t in stats["tenants"]}
    assert totals == {"acme": 8, "zeta": 3}
    frequent = stats["most_frequent"][0]
    assert (frequent["sql"], frequent["kind"], frequent["calls"]) == (
        "SELECT n FROM items WHERE n = ?",
        "select",
        10,
    )
    slowest = stats["slowest"][0]
    assert (slowest["sql"], slowest["calls"]) == (SLOW_SHAPE, 1)
    assert slowest["p50_ms"] <= slowest["p95_ms"] <= slowest["p99_ms"]
    assert slowest["mean_ms"] == pytest.approx(slowest["total_ms"])
    assert slowest["mean_ms"] > frequent["mean_ms"]

    only_zeta = acme.get_analytics_stats(tenant="zeta")
    assert [(t["tenant"], t["calls"]) for t in only_zeta["tenants"]] == [("zeta", 3)]
    assert [s["calls"] for s in only_zeta["most_frequent"]] == [3]
    assert len(acme.get_analytics_stats(limit=1)["most_frequent"]) == 1
    recent = acme.get_analytics_stats(since=timedelta(minutes=5))
    assert sum(t["calls"] for t in recent["tenants"]) == 11
    assert recent["since"] is not None and recent["since"] < recent["until"]
    future = acme.get_analytics_stats(since=datetime.now(timezone.utc) + timedelta(hours=1))
    assert (future["slowest"], future["tenants"]) == ([], [])


def test_slow_queries_list_statements_above_the_threshold(
    handles: dict[str, cinchdb.CinchDB],
) -> None:
    acme, zeta = handles["acme"], handles["zeta"]
    before = datetime.now(timezone.utc)
    zeta.query(SLOW_SQL)
    acme.query("SELECT n FROM items WHERE n = ?", [1])
    slow = acme.get_slow_queries()
    assert len(slow) == 1
    (statement,) = slow
    assert (statement["tenant"], statement["branch"], statement["sql"], statement["kind"]) == (
        "zeta",
        "main",
        SLOW_SHAPE,
        "select",
    )
    assert statement["elapsed_ms"] >= 15
    at = datetime.fromisoformat(statement["at"])
    assert before - timedelta(seconds=1) <= at <= datetime.now(timezone.utc)
    assert acme.get_slow_queries(tenant="acme") == []
    assert acme.get_slow_queries(threshold_ms=statement["elapsed_ms"] + 1) == []
    assert acme.get_slow_queries(since=timedelta(minutes=1)) == slow


def test_arguments_it_cannot_take_are_named(handles: dict[str, cinchdb.CinchDB]) -> None:
    acme = handles["acme"]
    with pytest.raises(InvalidFieldError) as e:
        acme.get_analytics_stats(since="1h")  # type: ignore[arg-type]
    assert str(e.value) == (
        "get_analytics_stats() argument 'since': must be a datetime or a timedelta, not '1h'"
    )
    with pytest.raises(InvalidFieldError) as e:
        acme.get_slow_queries(limit=0)
    assert str(e.value) == "get_slow_queries() argument 'limit': must be a whole number >= 1, not 0"
    with pytest.raises(InvalidFieldError) as e:
        acme.get_slow_queries(threshold_ms=-1)
    assert str(e.value) == (
        "get_slow_queries() argument 'threshold_ms': must be a number of milliseconds >= 0, not -1"
    )
    with pytest.raises(InvalidTenantNameError, match=r"^Invalid tenant name '\.\./etc'"):
        acme.get_analytics_stats(tenant="../etc")


#: Distinctive values, each also in the forms SQLite stores it (big-endian integers of the
#: record format, IEEE doubles).
TEXT = "Zanzibar-7731-private"
TEXT_LITERAL = "Quokka-5521-literal"
NUMBER = 918273645
NUMBER_LITERAL = 736251849
REAL = 3.1415926535
BLOB = b"\xde\xad\xbe\xef\x13\x37\xc0\xde"
KV_KEY = "session:Wombat-4410"
KV_VALUE = "Platypus-9902-token"


def _forms() -> dict[str, bytes]:
    forms = {
        value: value.encode()
        for value in (TEXT, TEXT_LITERAL, KV_KEY, KV_VALUE, str(NUMBER), str(NUMBER_LITERAL))
    }
    forms["str(REAL)"] = str(REAL).encode()
    forms["NUMBER as int32"] = struct.pack(">i", NUMBER)
    forms["NUMBER_LITERAL as int32"] = struct.pack(">i", NUMBER_LITERAL)
    forms["REAL as double"] = struct.pack(">d", REAL)
    forms["BLOB"] = BLOB
    return forms


def test_parameter_and_literal_values_never_reach_the_analytics_file(project: Path) -> None:
    with cinchdb.connect(project_dir=project) as admin:
        admin.create_table(
            "payments",
            [
                Column(name="note", type="TEXT"),
                Column(name="amount", type="INTEGER"),
                Column(name="rate", type="REAL"),
                Column(name="card", type="BLOB"),
            ],
        )
    _set_config(project, analytics=True, slow_query_ms=0.0)  # every statement also "slow"
    db = cinchdb.connect(project_dir=project)
    row = db.insert("payments", {"note": TEXT, "amount": NUMBER, "rate": REAL, "card": BLOB})
    db.update("payments", row["id"], {"note": TEXT + "!", "amount": NUMBER + 1})
    db.query("SELECT * FROM payments WHERE note = ? AND card = ?", [TEXT, BLOB])
    db.query(
        f"SELECT * FROM payments WHERE note = '{TEXT_LITERAL}' OR amount = {NUMBER_LITERAL}"
        f" OR rate = {REAL} OR card = X'{BLOB.hex()}'"
    )
    db.query("SELECT * FROM payments WHERE amount IN (?, ?, ?)", [NUMBER, NUMBER_LITERAL, 1])
    db.kv.set(KV_KEY, KV_VALUE)
    assert db.kv.get(KV_KEY) == KV_VALUE
    db.delete_where("payments", note=TEXT + "!")
    stats = db.get_analytics_stats(limit=100)
    db.close()

    assert sum(t["calls"] for t in stats["tenants"]) >= 8
    path = analytics_path(project / ".cinchdb", "main")
    files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
    content = b"".join(p.read_bytes() for p in files)
    assert b"payments" in content  # the shapes are there: the scan below looks at the right file
    found = [name for name, form in _forms().items() if form in content]
    assert found == []
    with cinchdb.connect(project_dir=project) as reader:
        everything = repr(stats) + repr(reader.get_slow_queries(limit=1000))
    assert [v for v in (TEXT, TEXT_LITERAL, KV_KEY, KV_VALUE, str(NUMBER)) if v in everything] == []


SDK_WRITER = r"""
import sys
import cinchdb

project, tenant, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with cinchdb.connect(tenant=tenant, project_dir=project, analytics=True) as db:
    for i in range(n):
        db.query("SELECT n FROM items WHERE n = ?", [i])
        db.kv.set("k", i)
"""


def test_processes_running_statements_at_once_are_all_counted(project: Path) -> None:
    n = iterations(150, 3_000)
    tenants = [f"p{i}" for i in range(3)]
    with cinchdb.connect(project_dir=project) as admin:
        admin.create_table("items", [Column(name="n", type="INTEGER")])
        for tenant in tenants:
            admin.create_tenant(tenant)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SDK_WRITER, str(project), tenant, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tenant in tenants
    ]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert (child.returncode, out, err) == (0, "", "")
    with cinchdb.connect(project_dir=project) as reader:
        stats = reader.get_analytics_stats(limit=100)
    # Each process's statements: n queries and n KV writes, written by its flusher (the last
    # batch when its handle closed).
    assert {t["tenant"]: t["calls"] for t in stats["tenants"]} == {t: 2 * n for t in tenants}
    by_kind: dict[str, int] = {}
    for shape in stats["most_frequent"]:
        by_kind[shape["kind"]] = by_kind.get(shape["kind"], 0) + shape["calls"]
    assert by_kind == {"select": 3 * n, "kv": 3 * n}
