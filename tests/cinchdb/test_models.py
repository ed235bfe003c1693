from __future__ import annotations

import pytest

from cinchdb.models import SQL, Column, ForeignKey, normalize_type, sql_literal


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("int", "INTEGER"), ("Integer", "INTEGER"), ("str", "TEXT"), ("TEXT", "TEXT"),
     ("float", "REAL"), ("bool", "BOOLEAN"), ("BOOLEAN", "BOOLEAN"), ("bytes", "BLOB"),
     ("decimal", "NUMERIC"), (" real ", "REAL")],
)  # fmt: skip
def test_type_aliases_are_case_insensitive(alias, canonical):
    assert normalize_type(alias) == canonical
    assert Column(name="c", type=alias).type == canonical


def test_unknown_type_names_the_accepted_ones():
    with pytest.raises(ValueError, match="Unknown column type 'MONEY'; use one of TEXT"):
        Column(name="c", type="MONEY")


@pytest.mark.parametrize(
    ("value", "literal"),
    [(0, "0"), (0.0, "0.0"), ("free", "'free'"), ("it's", "'it''s'"), (True, "1"),
     (False, "0"), (None, "NULL"), (b"\x01", "X'01'"), (SQL("datetime('now')"),
     "(datetime('now'))")],
)  # fmt: skip
def test_python_defaults_become_sql_literals(value, literal):
    assert sql_literal(value) == literal


def test_reference_readme_columns_convert_to_journal_definitions():
    title = Column(name="title", type="TEXT", nullable=False)
    price = Column(name="price", type="REAL", default=0.0)
    assert title.definition().not_null and title.definition().default is None
    assert price.definition().default == "0.0"
    owner = Column(name="owner", type="int", foreign_key=ForeignKey(table="users"))
    fk = owner.references()
    assert fk is not None and fk.ref_table == "users" and fk.ref_columns == ("id",)


@pytest.mark.parametrize("bad", [float("nan"), object(), [1]])
def test_defaults_that_cannot_be_stored_are_refused(bad):
    with pytest.raises(ValueError, match=r"(?i)default"):
        Column(name="c", default=bad)


@pytest.mark.parametrize("bad", ["", "a\x00", "x" * 200])
def test_hostile_column_names_are_refused(bad):
    with pytest.raises(ValueError):
        Column(name=bad)
