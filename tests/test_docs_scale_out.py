"""docs/scale-out.md: its placement code runs as written and moves what the page says it
moves, the id check it describes is the journal's, and its links lead to pages that exist."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from journal.canonical import content_id
from journal.definitions import ColumnDef, TableDef
from journal.errors import CorruptJournalError
from journal.events import Event, TableCreated

DOC = Path(__file__).resolve().parent.parent / "docs" / "scale-out.md"
TENANTS = [f"t{i}" for i in range(4000)]


def placement() -> tuple[Callable[..., int], Callable[..., str]]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1
    namespace: dict[str, Any] = {"__name__": "scale_out"}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace["score"], namespace["owner"]


def owners(nodes: list[str]) -> dict[str, str]:
    _, owner = placement()
    return {tenant: owner(nodes, "main", tenant) for tenant in TENANTS}


def test_a_joining_node_takes_about_one_in_n_plus_one_and_nothing_else_moves():
    before = owners(["a", "b", "c"])
    after = owners(["a", "b", "c", "d"])
    moved = [tenant for tenant in TENANTS if before[tenant] != after[tenant]]
    assert all(after[tenant] == "d" for tenant in moved)
    assert 0.22 < len(moved) / len(TENANTS) < 0.28


def test_a_leaving_node_moves_only_its_tenants_spread_over_the_rest():
    before = owners(["a", "b", "c", "d"])
    after = owners(["a", "b", "c"])
    moved = [tenant for tenant in TENANTS if before[tenant] != after[tenant]]
    assert sorted(moved) == sorted(t for t in TENANTS if before[t] == "d")
    shares = [sum(after[t] == node for t in moved) / len(moved) for node in "abc"]
    assert all(0.28 < share < 0.39 for share in shares)


def test_the_owner_is_the_highest_sha256_whatever_the_node_order():
    score, owner = placement()
    assert owner(["c", "a", "b"], "main", "acme") == owner(["a", "b", "c"], "main", "acme")
    expected = int(content_id("b\0main/acme"), 16)
    assert score("b", "main", "acme") == expected


def test_an_event_is_verified_by_its_id_as_the_page_says():
    column = ColumnDef(name="body", type="TEXT")
    event = Event.create(
        TableCreated(table=TableDef(name="notes", columns=(column,))),
        parents=[],
        database="main",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    body = event.canonical_body()
    assert content_id(body) == event.id
    assert Event.from_body(event.id, body) == event
    with pytest.raises(CorruptJournalError, match="does not match its content"):
        Event.from_body(event.id, body.replace("notes", "notez"))


def test_links_lead_to_pages_that_exist():
    links = re.findall(r"\]\(([^)#]+\.md)", DOC.read_text())
    assert links
    for link in links:
        assert (DOC.parent / link).is_file(), link
    assert "(scale-out.md)" in (DOC.parent / "replication.md").read_text()
