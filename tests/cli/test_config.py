"""``cinch config get|set|list``: the analytics settings in ``.cinchdb/config.json``."""

from __future__ import annotations

import json

import pytest

from cinchdb.cli import cli


def test_defaults(cinch):
    for key, shown in (("analytics", "off"), ("slow_query_ms", "100"),
                       ("analytics_retention_days", "7")):  # fmt: skip
        result = cinch("config", "get", key)
        assert (result.exit_code, result.output) == (0, f"{shown}\n"), key
    result = cinch("config", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "analytics": False, "slow_query_ms": 100, "analytics_retention_days": 7}  # fmt: skip


def test_set_then_get(cinch, project):
    result = cinch("config", "set", "analytics", "on")
    assert (result.exit_code, result.output) == (0, "Set analytics to on\n")
    assert cinch("config", "get", "analytics").output == "on\n"
    result = cinch("config", "set", "slow_query_ms", "250", "--json")
    assert (result.exit_code, json.loads(result.output)) == (
        0, {"key": "slow_query_ms", "value": 250})  # fmt: skip
    result = cinch("config", "set", "analytics_retention_days", "30")
    assert (result.exit_code, result.output) == (0, "Set analytics_retention_days to 30\n")
    result = cinch("config", "get", "analytics", "--json")
    assert json.loads(result.output) == {"key": "analytics", "value": True}
    # The file keeps what the other commands wrote (the active database and branch).
    on_disk = json.loads((project / ".cinchdb" / "config.json").read_text())
    assert on_disk["active_database"] == "main" and on_disk["active_branch"] == "main"
    assert (on_disk["analytics"], on_disk["slow_query_ms"]) == (True, 250)
    assert on_disk["analytics_retention_days"] == 30
    for off in ("off", "OFF", "false"):
        assert cinch("config", "set", "analytics", off).output == "Set analytics to off\n"
    assert cinch("config", "set", "analytics", "True").output == "Set analytics to on\n"
    assert cinch("config", "set", "slow_query_ms", "0").output == "Set slow_query_ms to 0\n"
    assert cinch("config", "set", "analytics_retention_days", "36500").exit_code == 0


def test_list_table(cinch):
    cinch("config", "set", "slow_query_ms", "5")
    result = cinch("config", "list")
    assert result.exit_code == 0
    lines = [line.strip("┃│ ") for line in result.output.splitlines()]
    cells = [[cell.strip() for cell in line.replace("┃", "│").split("│")] for line in lines]
    rows = [row for row in cells if len(row) == 4]
    assert rows == [
        ["key", "value", "default", "accepts"],
        ["analytics", "off", "off", "on or off"],
        ["slow_query_ms", "5", "100", "a whole number of milliseconds, 0 to 86400000"],
        ["analytics_retention_days", "7", "7", "a whole number of days, 1 to 36500"],
    ]


KEYS = "use analytics, slow_query_ms, analytics_retention_days"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "analytic"],
         f"Error: Invalid value for 'KEY': unknown config key 'analytic': {KEYS}"),
        (["set", "active_branch", "x"],
         f"Error: Invalid value for 'KEY': unknown config key 'active_branch': {KEYS}"),
        (["set", "analytics", "maybe"],
         "Error: Invalid value for VALUE: analytics is on or off, not 'maybe'"),
        (["set", "slow_query_ms", "fast"],
         "Error: Invalid value for VALUE: slow_query_ms is a whole number of milliseconds,"
         " 0 to 86400000, not 'fast'"),
        (["set", "slow_query_ms", "--", "-5"],
         "Error: Invalid value for VALUE: slow_query_ms is a whole number of milliseconds,"
         " 0 to 86400000, not '-5'"),
        (["set", "slow_query_ms", "1.5"],
         "Error: Invalid value for VALUE: slow_query_ms is a whole number of milliseconds,"
         " 0 to 86400000, not '1.5'"),
        (["set", "analytics_retention_days", "0"],
         "Error: Invalid value for VALUE: analytics_retention_days is a whole number of days,"
         " 1 to 36500, not '0'"),
        (["set", "analytics_retention_days", "36501"],
         "Error: Invalid value for VALUE: analytics_retention_days is a whole number of days,"
         " 1 to 36500, not '36501'"),
        (["set", "slow_query_ms", "1" + "0" * 400],
         "Error: Invalid value for VALUE: slow_query_ms is a whole number of milliseconds,"
         f" 0 to 86400000, not '1{'0' * 400}'"),
        (["set", "analytics_retention_days", " 3"],
         "Error: Invalid value for VALUE: analytics_retention_days is a whole number of days,"
         " 1 to 36500, not ' 3'"),
    ],
)  # fmt: skip
def test_bad_keys_and_values_change_nothing(cinch, project, args, message):
    config_file = project / ".cinchdb" / "config.json"
    before = config_file.read_bytes()
    result = cinch("config", *args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message
    assert config_file.read_bytes() == before


def test_outside_a_project(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["config", "set", "analytics", "on"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: No CinchDB project found in {tmp_path.resolve()}")
    assert not (tmp_path / ".cinchdb").exists()
