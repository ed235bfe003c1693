"""``cinch adopt``: exit codes and exact messages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cinchdb

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "adopt"


def sqlite_file(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()
    return path


def chinook(directory: Path) -> Path:
    return sqlite_file(directory / "chinook.db", (FIXTURES / "chinook.sql").read_text())


def test_adopt_then_check_is_clean(cinch, project):
    chinook(project.parent)
    result = cinch("adopt", "../chinook.db", "--database", "music")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Adopted ../chinook.db as database 'music': 32 event(s), 24 row(s) in tenant 'main'\n"
    )
    check = cinch("check", "-d", "music")
    assert check.exit_code == 0, check.output
    rows = cinch("query", "-d", "music", "SELECT Name FROM Artist ORDER BY ArtistId", "--json")
    assert json.loads(rows.output) == [{"Name": "AC/DC"}, {"Name": "Accept"}]


def test_adopt_twice_is_refused(cinch, project):
    chinook(project.parent)
    assert cinch("adopt", "../chinook.db").exit_code == 0
    again = cinch("adopt", "../chinook.db")
    assert again.exit_code == 1
    assert again.output == "Error: Database 'chinook' already exists\n"


def test_dry_run_lists_the_events_and_writes_nothing(cinch, project):
    chinook(project.parent)
    result = cinch("adopt", "../chinook.db", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "# adopting ../chinook.db as database 'chinook' would make"
    assert lines[1] == "  create table Artist (2 columns)"
    assert lines[-1] == "# and copy 24 row(s) into tenant 'main'"
    assert len(lines) == 34
    assert cinchdb.connect(project_dir=project).list_databases() == ["main"]


BAD = (
    'CREATE VIRTUAL TABLE docs USING fts5(body); CREATE TABLE "my table" (id INTEGER PRIMARY KEY);'
)
VIRTUAL = (
    "table 'docs' is a virtual table (fts5), which CinchDB cannot record as a schema event:"
    " drop it before adopting and rebuild it from the adopted tables in your application"
    " (for full-text search, keep the text in an ordinary table)"
)
SPACE = (
    "table 'my table' has a name outside the name rule (' ' is not a letter, digit or '_'):"
    ' rename it first, e.g. ALTER TABLE "my table" RENAME TO my_table'
)


def test_what_cannot_be_adopted_is_one_error_line_and_exit_1(cinch, project):
    sqlite_file(project.parent / "bad.db", BAD)
    result = cinch("adopt", "../bad.db")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: Cannot adopt ../bad.db (2 problems, nothing was written): {VIRTUAL}; {SPACE}\n"
    )
    assert cinchdb.connect(project_dir=project).list_databases() == ["main"]


def test_dry_run_lists_the_problems_and_exits_1(cinch, project):
    sqlite_file(project.parent / "bad.db", BAD)
    result = cinch("adopt", "../bad.db", "--dry-run")
    assert result.exit_code == 1
    assert result.output == (
        f"# ../bad.db cannot be adopted as it is: 2 problem(s)\n  {VIRTUAL}\n  {SPACE}\n"
    )


def test_json(cinch, project):
    sqlite_file(project.parent / "bad.db", BAD)
    data = json.loads(cinch("adopt", "../bad.db", "--dry-run", "--json").output)
    assert data["dry_run"] is True and data["events"] == []
    assert [(p["kind"], p["name"]) for p in data["problems"]] == [
        ("table", "docs"),
        ("table", "my table"),
    ]
    chinook(project.parent)
    done = json.loads(cinch("adopt", "../chinook.db", "--json").output)
    assert done["database"] == "chinook" and len(done["event_ids"]) == 32
    assert done["rows"]["PlaylistTrack"] == 3


def test_a_missing_file(cinch, project):
    result = cinch("adopt", "nosuch.db")
    assert result.exit_code == 1
    assert result.output == (
        "Error: Cannot adopt nosuch.db (1 problem, nothing was written):"
        " file 'nosuch.db' does not exist: check the path\n"
    )
