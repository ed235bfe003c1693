"""Every error the SDK raises is a CinchError of the one class that means it (issue 12, defect 4).

Each case asserts the exact class, that it is a ``CinchError`` and that it is the builtin it
semantically is, so ``except ValueError`` (the reference's documented cases) keeps working.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import traceback
from collections.abc import Callable
from typing import Any

import pytest

import cinchdb
import journal
from cinchdb import errors
from cinchdb.cli._error_docs import error_classes, meaning
from cinchdb.models import Column


def raised(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def assert_error(error: BaseException, name: str, *builtins: type[BaseException]) -> None:
    expected = getattr(errors, name)
    assert type(error) is expected, f"{type(error).__module__}.{type(error).__name__}: {error}"
    assert isinstance(error, errors.CinchError)
    for builtin in builtins:
        assert isinstance(error, builtin), builtin


MISSING_TABLE = {
    "get_table": lambda db: db.get_table("ghosts"),
    "insert": lambda db: db.insert("ghosts", {"name": "x"}),
    "insert_many": lambda db: db.insert("ghosts", [{"name": "x"}, {"name": "y"}]),
    "update": lambda db: db.update("ghosts", "1", {"name": "x"}),
    "update_where": lambda db: db.update_where("ghosts", {"name": "x"}, name="y"),
    "delete": lambda db: db.delete("ghosts", "1"),
    "delete_where": lambda db: db.delete_where("ghosts", name="y"),
    "query": lambda db: db.query("SELECT * FROM ghosts"),
    "drop_table": lambda db: db.drop_table("ghosts"),
    "rename_table": lambda db: db.rename_table("ghosts", "spirits"),
    "add_column": lambda db: db.add_column("ghosts", Column(name="x", type="TEXT")),
    "drop_column": lambda db: db.drop_column("ghosts", "name"),
    "list_indexes": lambda db: db.list_indexes("ghosts"),
    "create_index": lambda db: db.create_index("idx", "ghosts", ["name"]),
}


@pytest.mark.parametrize("call", MISSING_TABLE.values(), ids=MISSING_TABLE.keys())
def test_a_missing_table_is_table_not_found_on_every_path(users, call):
    error = raised(lambda: call(users))
    assert_error(error, "TableNotFoundError", ValueError, LookupError)
    assert str(error) == "Table 'ghosts' does not exist"
    assert error.table == "ghosts"


MISSING_COLUMN = {
    "insert": lambda db: db.insert("users", {"name": "x", "nope": 1}),
    "update": lambda db: db.update("users", "1", {"nope": 1}),
    "filter": lambda db: db.delete_where("users", nope=1),
    "drop_column": lambda db: db.drop_column("users", "nope"),
    "rename_column": lambda db: db.rename_column("users", "nope", "yes"),
}


@pytest.mark.parametrize("call", MISSING_COLUMN.values(), ids=MISSING_COLUMN.keys())
def test_a_missing_column_is_column_not_found_on_every_path(users, call):
    error = raised(lambda: call(users))
    assert_error(error, "ColumnNotFoundError", ValueError, LookupError)
    assert str(error) == "Column 'nope' does not exist in table 'users'"
    assert (error.table, error.column) == ("users", "nope")


def test_merging_a_branch_into_itself_is_up_to_date_not_an_error(users):
    users.create_branch("feature")
    assert users.merge_branches("feature", "feature")["status"] == "up_to_date"


AFTER_CLOSE = {
    "get_table": lambda db: db.get_table("users"),
    "insert": lambda db: db.insert("users", {"name": "x"}),
    "query": lambda db: db.query("SELECT 1"),
    "create_table": lambda db: db.create_table("t", [Column(name="x", type="TEXT")]),
    "list_branches": lambda db: db.list_branches(),
    "kv": lambda db: db.kv.get("k"),
}


@pytest.mark.parametrize("call", AFTER_CLOSE.values(), ids=AFTER_CLOSE.keys())
def test_a_closed_handle_refuses_every_call(project, call):
    db = cinchdb.connect(project_dir=project)
    db.create_table("users", [Column(name="name", type="TEXT")])
    db.close()
    error = raised(lambda: call(db))
    assert_error(error, "HandleClosedError", ValueError)
    assert "closed" in str(error)
    db.close()  # closing twice is harmless
    assert "main" in repr(db)


REFUSED = {
    "insert_no_rows": (lambda db: db.insert("users"), "ArgumentError"),
    "insert_not_dicts": (lambda db: db.insert("users", "x", "y"), "ArgumentError"),
    "update_without_id": (lambda db: db.update("users", {"name": "x"}), "KeyColumnError"),
    "update_without_data": (lambda db: db.update("users", "1"), "ArgumentError"),
    "row_names_a_column_twice": (
        lambda db: db.insert("users", {"name": "x", "NAME": "y"}),
        "DuplicateColumnError",
    ),
    "update_names_a_column_twice": (
        lambda db: db.update("users", "1", {"age": 1, "AGE": 2}),
        "DuplicateColumnError",
    ),
    "delete_main_branch": (lambda db: db.delete_branch("main"), "ProtectedError"),
    "delete_own_branch": (
        lambda db: (db.create_branch("f"), db.switch_branch("f"), db.delete_branch("f")),
        "ProtectedError",
    ),
    "delete_main_tenant": (lambda db: db.delete_tenant("main"), "ProtectedError"),
    "rename_main_tenant": (lambda db: db.rename_tenant("main", "other"), "ProtectedError"),
    "delete_own_database": (lambda db: db.delete_database("main"), "ProtectedError"),
}


@pytest.mark.parametrize("call, name", REFUSED.values(), ids=REFUSED.keys())
def test_refusals_are_cinch_errors_that_are_value_errors(users, call, name):
    assert_error(raised(lambda: call(users)), name, ValueError)


def test_the_reference_messages_hold(users):
    with pytest.raises(ValueError, match="The main branch cannot be deleted"):
        users.delete_branch("main")
    with pytest.raises(ValueError, match=r"^Record with ID '999' not found$"):
        users.update("users", "999", {"name": "x"})
    with pytest.raises(ValueError, match=r"^Table 'users' does not exist$"):
        users.drop_table("users") or users.get_table("users")


def _every_error_class() -> set[type[BaseException]]:
    """Every CinchError subclass defined anywhere in journal/ or cinchdb/ (all modules loaded)."""
    for package in (journal, cinchdb):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    found: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [errors.CinchError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_every_error_lives_in_its_packages_errors_module_and_is_exported():
    exported = {getattr(errors, name) for name in errors.__all__}
    for cls in _every_error_class():
        assert cls.__module__ in ("journal.errors", "cinchdb.errors"), cls
        assert cls in exported, f"{cls.__name__} is missing from cinchdb.errors.__all__"


def test_every_error_is_named_and_pickled_at_its_public_place():
    """The classes are defined in private modules of cinchdb/errors/, one per subtree; a
    traceback, a pickle and the docs still name each one ``cinchdb.errors.<Name>``."""
    for name in errors.__all__:
        value = getattr(errors, name)
        if not inspect.isclass(value) or value.__module__ == "journal.errors":
            continue
        assert f"{value.__module__}.{value.__qualname__}" == f"cinchdb.errors.{name}"
        assert pickle.loads(pickle.dumps(value)) is value
    error = errors.ArgumentError("insert_many", "needs at least one row")
    assert traceback.format_exception_only(error) == [
        "cinchdb.errors.ArgumentError: insert_many() needs at least one row\n"
    ]


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_states_its_meaning_and_exit_code(cls):
    assert meaning(cls), f"{cls.__name__} needs a docstring saying what it means"
    assert cls.exit_code == (3 if issubclass(cls, errors.MergeConflictError) else 1)


def test_conflict_error_is_the_merge_conflict_class_and_exits_3():
    assert errors.ConflictError is errors.MergeConflictError
    assert errors.MergeConflictError([]).exit_code == 3


def test_file_errors_are_cinch_errors_that_are_os_errors(users, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    error = raised(lambda: users.generate_models("python", a_file / "out"))
    assert_error(error, "CodegenWriteError", OSError)
    error = raised(lambda: cinchdb.init(a_file / "project"))
    assert_error(error, "ProjectDirectoryError", OSError)


def test_a_repeated_column_in_create_table_is_object_exists(db):
    columns = [Column(name="name", type="TEXT"), Column(name="NAME", type="TEXT")]
    error = raised(lambda: db.create_table("users", columns))
    assert_error(error, "ObjectExistsError", ValueError)
    assert str(error) == "Column 'NAME' already exists in table 'users'"


def test_an_unknown_codegen_language_is_unknown_language(users, tmp_path):
    error = raised(lambda: users.generate_models("cobol", tmp_path))
    assert_error(error, "UnknownLanguageError", ValueError, LookupError)
