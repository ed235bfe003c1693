"""Conflicts a person can resolve: ``merge_branches(..., resolve=..., strategy=...)``, and
``delete_branch`` refusing a branch whose events no other branch has unless ``force``."""

from __future__ import annotations

import pytest

from cinchdb.models import Column


def test_delete_branch_refuses_unmerged_work_unless_forced(users):
    users.create_branch("feature")
    users.switch_branch("feature")
    users.add_column("users", Column(name="plan", type="TEXT"))
    users.switch_branch("main")
    with pytest.raises(ValueError, match="no other branch has") as caught:
        users.delete_branch("feature")
    assert type(caught.value).__name__ == "UnmergedBranchError"
    assert [b.name for b in users.list_branches()] == ["main", "feature"]
    users.delete_branch("feature", force=True)
    assert [b.name for b in users.list_branches()] == ["main"]


def test_delete_branch_of_merged_or_untouched_branches(users):
    users.create_branch("untouched")
    users.delete_branch("untouched")
    users.create_branch("feature")
    users.switch_branch("feature")
    users.add_column("users", Column(name="plan", type="TEXT"))
    users.switch_branch("main")
    users.merge_branches("feature", "main")
    users.delete_branch("feature")
    # Work another branch has (a fork of the feature) keeps the feature deletable.
    users.create_branch("a")
    users.switch_branch("a")
    users.add_column("users", Column(name="x", type="TEXT"))
    users.create_branch("b")
    users.switch_branch("main")
    users.delete_branch("a")
    with pytest.raises(ValueError, match="Branch 'b' has 1 event"):
        users.delete_branch("b")
