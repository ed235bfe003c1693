"""``revert`` of an ``add_column``: the column is dropped without ``force`` when every
materialized tenant holds nothing but its default there (NULL without one); otherwise it is
refused, naming the tenants whose values would be lost, and nothing is written."""

from __future__ import annotations

import pytest

import cinchdb
from cinchdb.errors import RevertLosesDataError
from cinchdb.models import Column


@pytest.fixture
def fleet(users, project):
    """``users`` with rows in tenants main and acme (both materialized) and a lazy tenant."""
    users.create_tenant("acme")
    users.create_tenant("lazy")
    users.insert("users", {"name": "ann"})
    with cinchdb.connect(project_dir=project, tenant="acme") as acme:
        acme.insert("users", {"name": "bob"})
    return users


def _columns(db) -> list[str]:
    return [c.name for c in db.get_table("users").columns]


@pytest.mark.parametrize("default", ["free", 0, None])
def test_revert_of_a_column_holding_only_its_default_needs_no_force(fleet, project, default):
    fleet.add_column("users", Column(name="plan", type="TEXT", default=default))
    added = fleet.log(limit=1)[0]
    fleet.insert("users", {"name": "cy"})  # written after: takes the default too
    fleet.revert(added.id)
    assert "plan" not in _columns(fleet)
    with cinchdb.connect(project_dir=project, tenant="acme") as acme:
        assert "plan" not in _columns(acme)
        assert [r["name"] for r in acme.query("SELECT name FROM users")] == ["bob"]


@pytest.mark.parametrize("default", ["free", None])
def test_revert_is_refused_naming_the_tenants_whose_values_would_be_lost(fleet, project, default):
    fleet.add_column("users", Column(name="plan", type="TEXT", default=default))
    added = fleet.log(limit=1)[0]
    with cinchdb.connect(project_dir=project, tenant="acme") as acme:
        acme.insert("users", {"name": "dee", "plan": "pro"})
    head = fleet.branch_heads()
    with pytest.raises(RevertLosesDataError) as excinfo:
        fleet.revert(added.id)
    message = str(excinfo.value)
    assert "column 'users.plan'" in message and "tenant 'acme'" in message
    assert "'main'" not in message
    assert fleet.branch_heads() == head and "plan" in _columns(fleet)
    fleet.revert(added.id, force=True)
    assert "plan" not in _columns(fleet)


def test_an_expression_default_is_not_taken_as_nothing_to_lose(fleet):
    fleet.add_column("users", Column(name="seen", default=cinchdb.models.SQL("CURRENT_TIMESTAMP")))
    added = fleet.log(limit=1)[0]
    with pytest.raises(RevertLosesDataError, match=r"users\.seen"):
        fleet.revert(added.id)


def test_other_losses_still_need_force(fleet):
    fleet.create_table("notes", [Column(name="body")])
    created = fleet.log(limit=1)[0]
    with pytest.raises(RevertLosesDataError, match="table 'notes'"):
        fleet.revert(created.id)
