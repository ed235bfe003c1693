"""A schema diff shows no data steps, so it says how many lie between the two refs; a revert of
a data step recorded without down SQL names the step."""

from __future__ import annotations

import pytest

from cinchdb.errors import DataStepNotReversibleError


def test_diff_counts_the_data_steps_between_two_refs_either_way(users):
    users.insert("users", {"name": "ann"})
    users.migrate("UPDATE users SET age = 1; ALTER TABLE users ADD COLUMN nick TEXT")
    users.migrate("UPDATE users SET nick = name")
    judged, operations = users.diff_range("main~3", "main")
    assert judged["data_steps"] == 2
    assert [op.type for op in operations] == ["ColumnAdded"]  # schema only
    assert users.diff_range("main", "main~3")[0]["data_steps"] == 2
    assert users.diff_range("main~1", "main~2")[0]["data_steps"] == 0
    assert users.diff_range("main", "main")[0]["data_steps"] == 0
    assert users.query("SELECT name, age, nick FROM users") == [
        {"name": "ann", "age": 1, "nick": "ann"}
    ]


def test_a_merge_does_not_count_its_source_branch_data_steps_twice(users):
    users.create_branch("feature")
    users.switch_branch("feature")
    users.migrate("INSERT INTO users (id, name) VALUES ('r1', 'ref')")
    users.switch_branch("main")
    users.migrate("ALTER TABLE users ADD COLUMN nick TEXT")
    base = users.log(limit=1)[0].id
    result = users.merge_branches("feature", "main")
    assert result["status"] == "success" and not result["fast_forward"]
    assert users.diff_range(base, "main")[0]["data_steps"] == 1
    assert users.query("SELECT name FROM users") == [{"name": "ref"}]


def test_revert_of_a_data_step_without_down_names_it_and_writes_nothing(users):
    (step,) = users.migrate("UPDATE users SET age = age + 1")
    before = len(users.log())
    with pytest.raises(DataStepNotReversibleError) as caught:
        users.revert(step.id[:10])
    assert str(caught.value) == (
        f"data step {step.id[:12]} (UPDATE users SET age = age + 1) has no down SQL;"
        " give one with migrate(sql, down=...)"
    )
    assert len(users.log()) == before
