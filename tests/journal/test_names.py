"""journal.names: the rule for NEW names (NAME_RULE) beside the quoting rule every name keeps."""

from __future__ import annotations

import pytest

from journal.errors import InvalidNameError
from journal.names import (
    NAME_RULE,
    follows_name_rule,
    name_rule_problem,
    validate_identifier,
    validate_new_name,
)


@pytest.mark.parametrize(
    "name",
    ["a", "_", "_x9", "users_2", "café", "名前", "नाम", "e\u0301t\u00e9", "Ωmega", "a" * 128],
)
def test_inside_the_rule(name):
    assert follows_name_rule(name) and name_rule_problem(name) is None
    assert validate_new_name("table", name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("1abc", "it starts with a digit"),
        ("bad name", "' ' is not a letter, digit or '_'"),
        ("a-b", "'-' is not a letter, digit or '_'"),
        ('t"; DROP', "'\"' is not a letter, digit or '_'"),
        ("\u0301e", "'\u0301' is not a letter, digit or '_'"),
        ("x😀", "'😀' is not a letter, digit or '_'"),
        ("x²", "'²' is not a letter, digit or '_'"),
        ("a" * 129, "it is longer than 128 characters"),
    ],
)
def test_outside_the_rule(name, problem):
    assert not follows_name_rule(name)
    assert name_rule_problem(name) == problem


def test_a_new_name_outside_the_rule_is_an_invalid_name_error_naming_it():
    with pytest.raises(InvalidNameError) as excinfo:
        validate_new_name("column", "first name")
    assert isinstance(excinfo.value, ValueError)
    assert str(excinfo.value) == f"Invalid column name 'first name': use {NAME_RULE}"
    assert excinfo.value.kind == "column" and excinfo.value.name == "first name"


def test_old_names_still_pass_the_identifier_check():
    # What an existing journal holds is read with validate_identifier, which quotes anything
    # printable: the rule is only for new names.
    assert validate_identifier("table", "my table") == "my table"


def test_reserved_prefixes_stay_reserved_except_for_columns():
    with pytest.raises(InvalidNameError, match="reserved"):
        validate_new_name("table", "sqlite_x")
    with pytest.raises(InvalidNameError, match="reserved"):
        validate_new_name("index", "__x")
    assert validate_new_name("column", "__x") == "__x"
