from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from journal import (
    ColumnAdded,
    ColumnDef,
    CorruptJournalError,
    Event,
    TableCreated,
    TableDef,
)
from journal import events as events_module

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
CHANGE = TableCreated(table=TableDef(name="users", columns=(ColumnDef(name="email", type="TEXT"),)))


def make(**overrides):
    fields = {"parents": [], "database": "main", "author": "ann", "message": "m", "created_at": T0}
    fields.update(overrides)
    return Event.create(CHANGE, **fields)


def test_id_is_the_hash_of_the_canonical_body_and_round_trips_exactly():
    event = make()
    body = event.canonical_body()
    assert json.loads(body)["type"] == "TableCreated"
    assert event.id == events_module.content_id(body)
    again = Event.from_body(event.id, body)
    assert again == event
    assert again.canonical_body() == body


@pytest.mark.parametrize(
    "change",
    [
        {"parents": ["a" * 64]},
        {"author": "bob"},
        {"message": "other"},
        {"database": "other"},
        {"created_at": T0 + timedelta(microseconds=1)},
    ],
)
def test_any_difference_in_content_changes_the_id(change):
    assert make(**change).id != make().id


def test_same_content_same_id_regardless_of_timezone_spelling():
    local = T0.astimezone(timezone(timedelta(hours=5)))
    assert make(created_at=local).id == make().id
    assert make(created_at=local).created_at.tzinfo == timezone.utc


def test_a_tampered_body_is_detected():
    event = make()
    tampered = event.canonical_body().replace('"email"', '"phone"')
    with pytest.raises(CorruptJournalError, match="does not match its content"):
        Event.from_body(event.id, tampered)


def test_events_are_frozen_and_reject_unknown_fields():
    event = make()
    with pytest.raises(ValidationError):
        event.message = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        TableCreated(table=CHANGE.table, colour="red")  # type: ignore[call-arg]


def test_naive_timestamps_and_three_parents_are_refused():
    with pytest.raises(ValidationError, match="timezone-aware"):
        make(created_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="at most two parents"):
        make(parents=["a", "b", "c"])


def test_older_payload_versions_are_upcast_on_read(monkeypatch):
    # A version-0 ColumnAdded stored its column as "col"; the upcaster renames it.
    monkeypatch.setattr(events_module, "CURRENT_VERSION", 1)

    def v0_to_v1(body):
        payload = dict(body["payload"])
        payload["column"] = payload.pop("col")
        return dict(body, payload=payload, version=1)

    monkeypatch.setitem(events_module.UPCASTERS, ("ColumnAdded", 0), v0_to_v1)
    old_body = events_module.canonical_json(
        {
            "parents": [],
            "database": "main",
            "author": "",
            "message": "",
            "created_at": "2025-01-01T00:00:00.000000Z",
            "version": 0,
            "type": "ColumnAdded",
            "payload": {"table": "t", "col": {"name": "x", "type": "INTEGER"}},
        }
    )
    event = Event.from_body(events_module.content_id(old_body), old_body)
    assert isinstance(event.change, ColumnAdded)
    assert event.change.column.name == "x"


def test_a_newer_version_than_we_know_is_a_clear_error():
    body = json.loads(make().canonical_body())
    body["version"] = 99
    text = events_module.canonical_json(body)
    with pytest.raises(CorruptJournalError, match="newer than this CinchDB understands"):
        Event.from_body(events_module.content_id(text), text)


@pytest.mark.parametrize("bad", ["", " users", "sqlite_master", "__kv", "a\x00b", "x" * 129])
def test_bad_table_names_are_refused(bad):
    with pytest.raises(ValidationError):
        TableDef(name=bad, columns=(ColumnDef(name="a"),))
