"""Import and export (docs/data.md): the readers' typing and error places, the streamed
writers, the round trip through each format, and export memory that stays flat."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys

import pytest

import cinchdb
from cinchdb._transfer_read import sniff
from cinchdb.errors import (
    ArgumentError,
    ImportRowError,
    ReadOnlyQueryError,
    TableNotFoundError,
)
from cinchdb.models import Column
from cinchdb.transfer import reader_for
from tests.stress import iterations

COLUMNS = [
    Column(name="name", type="TEXT"),
    Column(name="n", type="INTEGER"),
    Column(name="f", type="REAL"),
    Column(name="ok", type="BOOLEAN"),
    Column(name="data", type="BLOB"),
    Column(name="amount", type="NUMERIC"),
]


@pytest.fixture
def items(db):
    """``db`` with a table ``items`` of every kind of column."""
    db.create_table("items", COLUMNS)
    return db


def read(db, fmt: str, text: str, table: str = "items") -> list[dict[str, object]]:
    definition = db.schema().table(table)
    return list(reader_for(fmt, io.StringIO(text, newline=""), definition, "in.txt"))


def problem(db, fmt: str, text: str) -> ImportRowError:
    with pytest.raises(ImportRowError) as caught:
        read(db, fmt, text)
    return caught.value


# -- reading CSV -----------------------------------------------------------------------------
def test_csv_fields_are_typed_by_their_column(items):
    text = "name,n,f,ok,data,amount\nAnn,42,1.5,true,AP8=,7\nBob,-3,2,FALSE,,2.5\n,,,0,,\n"
    assert read(items, "csv", text) == [
        {"name": "Ann", "n": 42, "f": 1.5, "ok": True, "data": b"\x00\xff", "amount": 7},
        {"name": "Bob", "n": -3, "f": 2.0, "ok": False, "data": None, "amount": 2.5},
        # An empty field is NULL in every column.
        {"name": None, "n": None, "f": None, "ok": False, "data": None, "amount": None},
    ]


def test_csv_header_names_match_columns_as_sqlite_does(items):
    assert read(items, "csv", "NAME,N\nAnn,1\n") == [{"name": "Ann", "n": 1}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name,n\nAnn,1\nBob,old\n",
            "in.txt line 3, column 'n': 'old' is not an integer; nothing was imported",
        ),
        (
            'name,n\n"two\nlines",1\nBob,1.5\n',
            "in.txt line 4, column 'n': '1.5' is not an integer; nothing was imported",
        ),
        (
            "ok\ntrue\nyes\n",
            "in.txt line 3, column 'ok': 'yes' is not a boolean (true, false, 1 or 0);"
            " nothing was imported",
        ),
        ("f\n1e3\nabc\n", "in.txt line 3, column 'f': 'abc' is not a number; nothing was imported"),
        (
            "amount\n1\nx\n",
            "in.txt line 3, column 'amount': 'x' is not a number; nothing was imported",
        ),
        (
            "data\n%%%\n",
            "in.txt line 2, column 'data': '%%%' is not base64 (a BLOB column's values);"
            " nothing was imported",
        ),
        ("name,n\nAnn\n", "in.txt line 2: has 1 fields; the header has 2; nothing was imported"),
        ("name,nope\n", "in.txt line 1: table 'items' has no column 'nope'; nothing was imported"),
        (
            "name,NAME\n",
            "in.txt line 1: the header names column 'name' twice; nothing was imported",
        ),
        ('name\n"open\n', "in.txt line 2: is not valid CSV (unexpected end of data);"
         " nothing was imported"),
    ],
)  # fmt: skip
def test_a_bad_csv_row_is_named_by_its_line_and_column(items, text, message):
    assert str(problem(items, "csv", text)) == message


def test_csv_blank_lines_are_skipped_and_lines_still_counted(items):
    error = problem(items, "csv", "n\n1\n\n2\nx\n")
    assert (error.where, error.column) == ("line 5", "n")


def test_an_empty_csv_has_no_rows(items):
    assert read(items, "csv", "") == []
    assert read(items, "csv", "name,n\n") == []


# -- reading NDJSON and JSON -----------------------------------------------------------------
def test_ndjson_values_are_json_values_and_blobs_base64(items):
    text = '{"name": "Ann", "ok": true, "data": "AP8="}\n\n  {"n": 12345678901234567890}\r\n'
    assert read(items, "ndjson", text) == [
        {"name": "Ann", "ok": True, "data": b"\x00\xff"},
        {"n": 12345678901234567890},
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"n": 1}\n{"n": 2\n', "in.txt line 2: is not valid JSON (Expecting ',' delimiter)"),
        ('{"n": 1}\n\n[1, 2]\n', "in.txt line 3: is not a JSON object"),
        ('{"n": 1}\n{"n": 2} x\n', "in.txt line 2: is not valid JSON (Extra data)"),
        (
            '{"n": 1}\n{"n": "a\tb"}\n',
            "in.txt line 2: is not valid JSON (Invalid control character at)",
        ),
        (
            '{"data": "!!"}\n',
            "in.txt line 1, column 'data': '!!' is not base64 (a BLOB column's values)",
        ),
    ],
)
def test_a_bad_ndjson_line_is_named(items, text, message):
    assert str(problem(items, "ndjson", text)) == message + "; nothing was imported"


def test_json_array_elements_are_rows(items):
    text = ' [ {"name": "Ann", "f": 0.1},\n{"ok": false, "data": ""} ] \n'
    assert read(items, "json", text) == [{"name": "Ann", "f": 0.1}, {"ok": False, "data": b""}]
    assert read(items, "json", "[]") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"n": 1}', "in.txt line 1: is not a JSON array (it starts with '{')"),
        ("", "in.txt line 1: is not a JSON array (it is empty)"),
        ('[{"n": 1}, 2]', "in.txt element [1]: is not a JSON object (found '2')"),
        ('[{"n": 1}, {"n": ]', "in.txt element [1]: is not valid JSON (Expecting value)"),
        ('[{"n": 1},]', "in.txt element [1]: is missing (a trailing ',')"),
        ('[{"n": 1} {"n": 2}]', "in.txt element [0]: is followed by '{', not ',' or ']'"),
        ('[{"n": 1}', "in.txt element [0]: is followed by the end of the input, not ',' or ']'"),
        ('[{"n": 1}] x', "in.txt element [0]: is followed by text after the ']'"),
    ],
)
def test_a_bad_json_array_is_named_by_its_element(items, text, message):
    assert str(problem(items, "json", text)) == message + "; nothing was imported"


def test_a_json_array_is_read_in_pieces_across_element_boundaries(items):
    # Over 2 MiB: the reader's window (1 MiB) ends inside elements, strings and numbers.
    rows = [{"name": "x" * (i % 300), "n": 10**15 + i} for i in range(12_000)]
    text = json.dumps(rows)
    assert len(text) > 2 << 20
    assert read(items, "json", text) == rows


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("  [ {}]", "json"), ('\n\n {"n": 1}\n', "ndjson"), ("name\nAnn\n", "csv"), ("", "csv")],
)
def test_an_input_without_a_name_is_sniffed_by_its_first_character(text, fmt):
    found, rest = sniff(io.StringIO(text))
    assert found == fmt
    assert rest.read() == text


def test_a_sniffed_input_reads_whole_rows(items):
    fmt, rest = sniff(io.StringIO('\n{"n": 1}\n{"n": 2}\n'))
    assert list(reader_for(fmt, rest, items.schema().table("items"), "s")) == [
        {"n": 1},
        {"n": 2},
    ]


def test_import_refuses_an_unknown_format_or_extension(items, tmp_path):
    path = tmp_path / "rows.txt"
    path.write_text("name\nAnn\n")
    with pytest.raises(ArgumentError, match=r"cannot tell the format of '.*rows\.txt' from its"):
        items.import_rows("items", path)
    with pytest.raises(ArgumentError, match="format must be one of csv, json, ndjson, not 'xml'"):
        items.import_rows("items", path, "xml")
    with pytest.raises(TableNotFoundError):
        items.import_rows("nope", path, "csv")


# -- export ----------------------------------------------------------------------------------
ROWS = [
    {"name": 'a,"b"\nc', "n": 2**63 - 1, "f": 0.1, "ok": True, "data": b"\x00\xff", "amount": 3},
    {"name": "ünï 雪", "n": -(2**63), "f": 1e300, "ok": False, "data": b"x", "amount": 2.5},
    {"name": None, "n": None, "f": None, "ok": None, "data": None, "amount": None},
]


@pytest.fixture
def filled(items):
    items.insert("items", ROWS)
    return items


def exported(db, fmt: str, **kwargs: object) -> str:
    out = io.StringIO(newline="")
    db.export_rows(kwargs.pop("table", "items"), out, fmt, **kwargs)
    return out.getvalue()


QUERY = "SELECT name, n, f, ok, data, amount FROM items ORDER BY rowid"


def test_export_csv_writes_what_import_reads(filled):
    assert exported(filled, "csv", table=None, query=QUERY) == (
        "name,n,f,ok,data,amount\n"
        '"a,""b""\nc",9223372036854775807,0.1,true,AP8=,3\n'
        "ünï 雪,-9223372036854775808,1e+300,false,eA==,2.5\n"
        ",,,,,\n"
    )


def test_export_ndjson_and_json(filled):
    lines = exported(filled, "ndjson", table=None, query=QUERY).splitlines()
    assert [json.loads(line) for line in lines] == [
        {**row, "data": expected}
        for row, expected in zip(ROWS, ["AP8=", "eA==", None], strict=True)
    ]
    text = exported(filled, "json", table=None, query=QUERY)
    assert text.startswith("[\n{") and text.endswith("}\n]\n")
    assert json.loads(text) == [json.loads(line) for line in lines]
    assert exported(filled, "json", table=None, query="SELECT 1 WHERE 0") == "[]\n"


def test_export_of_a_table_has_every_column_and_row(filled):
    rows = [json.loads(line) for line in exported(filled, "ndjson").splitlines()]
    assert [r["name"] for r in rows] == [r["name"] for r in ROWS]
    assert list(rows[0]) == ["id", *[c.name for c in COLUMNS], "created_at", "updated_at"]


def test_export_query_takes_params_and_refuses_writes(filled):
    text = exported(filled, "csv", table=None, query="SELECT n FROM items WHERE f < ?", params=[1])
    assert text == "n\n9223372036854775807\n"
    with pytest.raises(ReadOnlyQueryError):
        exported(filled, "csv", table=None, query="DELETE FROM items")
    with pytest.raises(ArgumentError, match="takes a table or query=, not both or neither"):
        exported(filled, "csv", query="SELECT 1")
    with pytest.raises(TableNotFoundError):
        exported(filled, "csv", table="nope")
    assert filled.query("SELECT COUNT(*) AS c FROM items") == [{"c": 3}]


def test_export_to_a_path_takes_its_format_and_leaves_no_half_file(filled, tmp_path):
    target = tmp_path / "out.ndjson"
    assert filled.export_rows("items", target) == 3
    assert len(target.read_text().splitlines()) == 3
    # A failing export leaves the earlier file as it was, and no scratch file beside it.
    with pytest.raises(sqlite3.OperationalError):
        filled.export_rows(None, target, query="SELECT nope FROM items")
    with pytest.raises(ReadOnlyQueryError):
        filled.export_rows(None, tmp_path / "new.csv", query="DELETE FROM items")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ndjson", "project"]
    assert (tmp_path / "plain").exists() is False
    assert filled.export_rows(None, tmp_path / "plain", query="SELECT 1 AS one") == 1
    assert (tmp_path / "plain").read_text() == "one\n1\n"  # no extension: CSV


def test_export_of_a_lazy_tenant_is_its_empty_tables(items):
    items.create_tenant("acme")
    with cinchdb.connect(project_dir=items.project_dir, tenant="acme") as acme:
        assert exported(acme, "csv", table=None, query="SELECT name FROM items") == "name\n"


# Exports every row of "items" in a fresh process and prints how much its peak resident memory
# grew meanwhile, past what a first small export (imports, caches) already took.
_CHILD = """
import resource, sys
import cinchdb

class Sink:
    size = 0
    def write(self, text):
        self.size += len(text)

db = cinchdb.connect(project_dir=sys.argv[1])
db.export_rows(None, Sink(), "ndjson", query="SELECT * FROM items LIMIT 2000")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for fmt in ("csv", "json", "ndjson"):
    sink = Sink()
    count = db.export_rows("items", sink, fmt)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(fmt, count, sink.size, grown * 1024)
"""


def test_export_streams_in_constant_memory(items):
    """Export holds one chunk of rows at a time: the exporting process's peak memory grows by
    far less than the rows it writes (fetchall would hold them all)."""
    count = iterations(100_000, 1_000_000)
    rows = ({"name": "x" * 300, "n": i, "f": i / 7, "ok": i % 2 == 0} for i in range(count))
    assert items.insert_many("items", rows) == count
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(items.project_dir)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        fmt, written, size, grown = line.split()
        assert int(written) == count
        assert int(size) > 300 * count  # the data written: over 30 MB in CI
        assert int(grown) < 16 << 20, (
            f"{fmt}: peak memory grew {int(grown) / 2**20:.1f} MiB exporting {count:,} rows"
        )
    assert len(done.stdout.splitlines()) == 3


# -- import ----------------------------------------------------------------------------------
def rows_of(db, table: str = "items") -> list[dict[str, object]]:
    return db.query(f"SELECT * FROM {table} ORDER BY rowid")


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_round_trip_export_then_import_gives_the_same_rows(filled, tmp_path, fmt):
    """Every kind of value: NULLs, booleans, unicode, text with commas, quotes and newlines,
    blobs, the largest and smallest 64-bit integers, floats; ids and timestamps kept."""
    target = tmp_path / f"items.{fmt}"
    assert filled.export_rows("items", target) == 3
    filled.create_table("copy", COLUMNS)
    assert filled.import_rows("copy", target) == 3
    assert rows_of(filled, "copy") == rows_of(filled)
    assert [{k: r[k] for k in ROWS[0]} for r in rows_of(filled, "copy")] == ROWS


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_round_trip_keeps_empty_text_and_empty_blobs_in_json(items, fmt):
    items.insert("items", [{"name": "", "data": b""}])
    out = io.StringIO()
    items.export_rows("items", out, fmt)
    items.create_table("copy", COLUMNS)
    out.seek(0)
    items.import_rows("copy", out, fmt)
    assert rows_of(items, "copy") == rows_of(items)


def test_csv_cannot_tell_empty_text_from_null(items):
    # Documented in docs/data.md: an empty CSV field is NULL.
    items.insert("items", [{"name": "", "data": b""}])
    out = io.StringIO(newline="")
    items.export_rows("items", out, "csv")
    items.create_table("copy", COLUMNS)
    out.seek(0)
    items.import_rows("copy", out, "csv")
    assert [(r["name"], r["data"]) for r in rows_of(items, "copy")] == [(None, None)]


def test_a_bad_row_imports_nothing_and_names_its_line(items, tmp_path):
    path = tmp_path / "items.ndjson"
    lines = [json.dumps({"name": f"r{i}", "n": i}) for i in range(5000)]
    lines[4321] = json.dumps({"name": "bad", "n": "old"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRowError) as caught:
        items.import_rows("items", path)
    assert str(caught.value) == (
        f"{path} line 4322: Column 'n' of table 'items' is INTEGER: it takes whole numbers"
        " (int), not 'old' (str); nothing was imported"
    )
    assert (caught.value.row_index, caught.value.column) == (4321, "n")
    assert rows_of(items) == []


def test_a_constraint_failure_names_the_line_of_the_row(db, tmp_path):
    db.create_table("users", [Column(name="email", type="TEXT", unique=True)])
    path = tmp_path / "users.csv"
    path.write_text('email\na@x\n"b\n@x"\na@x\n')
    with pytest.raises(ImportRowError, match=r"users\.csv line 5: Constraint failed .*UNIQUE"):
        db.import_rows("users", path)
    assert rows_of(db, "users") == []


def test_an_unknown_json_key_names_its_element(items):
    with pytest.raises(ImportRowError) as caught:
        items.import_rows("items", io.StringIO('[{"n": 1}, {"nope": 2}]'), "json")
    assert caught.value.where == "element [1]"
    assert "nope" in str(caught.value)
    assert rows_of(items) == []


def test_import_reports_progress_by_bytes(items, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(20_000)))
    seen: list[tuple[int, int]] = []
    assert items.import_rows("items", path, progress=lambda d, t: seen.append((d, t))) == 20_000
    size = path.stat().st_size
    assert len(seen) >= 2 and seen[-1] == (size, size)
    assert all(0 < done <= total == size for done, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_an_unnamed_stream_is_sniffed(items):
    assert items.import_rows("items", io.StringIO('\n{"n": 1}\n{"n": 2}\n')) == 2
    assert items.import_rows("items", io.StringIO('[{"n": 3}]')) == 1
    assert items.import_rows("items", io.StringIO("n\n4\n", newline="")) == 1
    assert [r["n"] for r in rows_of(items)] == [1, 2, 3, 4]


def test_a_table_with_its_own_key_round_trips(db, tmp_path):
    db.migrate("CREATE TABLE pairs (a INTEGER NOT NULL, b TEXT NOT NULL, v REAL,"
               " PRIMARY KEY (a, b))")  # fmt: skip
    db.import_rows("pairs", io.StringIO("a,b,v\n1,x,0.5\n1,y,\n", newline=""), "csv")
    target = tmp_path / "pairs.json"
    db.export_rows("pairs", target)
    assert json.loads(target.read_text()) == [
        {"a": 1, "b": "x", "v": 0.5},
        {"a": 1, "b": "y", "v": None},
    ]


def test_a_file_that_is_not_utf8_is_an_error_naming_where(items, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\nAnn\nJos\u00e9\n".encode("latin-1"))
    with pytest.raises(ImportRowError) as caught:
        items.import_rows("items", path)
    assert str(caught.value) == (
        f"{path} in its first rows: is not UTF-8 text (byte 0xe9); save the file as UTF-8;"
        " nothing was imported"
    )
    assert rows_of(items) == []
