"""The API table (cinchdb/api.py) and errors on the wire (cinchdb/errors/)."""

from __future__ import annotations

import inspect

import pytest

from cinchdb import api, errors
from cinchdb.database import CinchDB
from cinchdb.kv import KVStore
from journal._merge_types import Conflict


def sdk_method(name: str) -> object:
    owner, _, method = name.rpartition(".")
    return getattr(KVStore if owner == "kv" else CinchDB, method)


@pytest.mark.parametrize("endpoint", api.ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_is_an_sdk_method_with_those_arguments(endpoint: api.Endpoint) -> None:
    if not endpoint.sdk:
        assert not hasattr(CinchDB, endpoint.name)
        return
    parameters = inspect.signature(sdk_method(endpoint.name)).parameters  # type: ignore[arg-type]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters.values())
    for param in endpoint.params:
        # update(table, record_or_id, data): the record travels as the path's key.
        name = "record_or_id" if (endpoint.name, param.name) == ("update", "key") else param.name
        assert name in parameters or variadic, (endpoint.name, param.name)


def test_paths_and_methods_are_unique_and_scopes_known() -> None:
    routes = [(e.method, e.path) for e in api.ENDPOINTS]
    assert len(routes) == len(set(routes))
    assert {e.scope for e in api.ENDPOINTS} <= set(api.SCOPES)
    assert all(e.path.startswith(api.BRANCH) for e in api.ENDPOINTS)
    assert api.endpoint("kv.get").tenant_scoped and not api.endpoint("list_tables").tenant_scoped


def test_a_writing_endpoint_never_needs_only_a_read_scope() -> None:
    for e in api.ENDPOINTS:
        if e.writes and e.name != "merge_branches":
            assert not e.scope.endswith(":read"), e.name


def test_branch_names_travel_with_tilde_for_slash() -> None:
    assert api.branch_to_path("feature/x") == "feature~x"
    assert api.branch_from_path("feature~x") == "feature/x"


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.TableNotFoundError, "table_not_found"),
        (errors.SQLiteRefusedError, "sqlite_refused"),
        (errors.KVValueError, "kv_value"),
        (errors.CinchError, "cinch"),
        (errors.AuthenticationError, "authentication"),
        (errors.PermissionDeniedError, "permission_denied"),
    ],
)
def test_error_codes_are_snake_case_names_and_map_back(cls: type, code: str) -> None:
    assert errors.error_code(cls) == code
    assert errors.error_class(code) is cls


def test_every_error_class_has_its_own_code() -> None:
    from cinchdb.cli._error_docs import error_classes

    codes = [errors.error_code(cls) for cls in set(error_classes())]
    assert len(codes) == len(set(codes))
    assert errors.error_class("no_such_code_ever") is errors.CinchError


def test_an_error_is_rebuilt_with_its_class_message_and_attributes() -> None:
    sent = errors.RecordNotFoundError("users", 7)
    details = errors.error_details(sent)
    got = errors.error_class(errors.error_code(type(sent))).from_wire(str(sent), details)
    assert type(got) is errors.RecordNotFoundError
    assert str(got) == str(sent)
    assert got.table == "users" and got.record_id == 7
    assert isinstance(got, LookupError)


def test_structured_details_are_json_values() -> None:
    conflict = Conflict(kind="table", object="t", message="both changed t")
    sent = errors.MergeConflictError([conflict], source="f", target="main")
    details = errors.error_details(sent)
    assert details["source"] == "f"
    assert details["conflicts"][0]["message"] == "both changed t"
