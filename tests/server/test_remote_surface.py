"""The remote handle's surface: every method of a local handle, each either an API call (from
the table, cinchdb/api.py) or a clear refusal listed in docs/server.md; ``import cinchdb``
and a local ``connect`` do not load httpx."""

from __future__ import annotations

import inspect
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import cinchdb
from cinchdb import api
from cinchdb.database import CinchDB
from cinchdb.errors import (
    ArgumentError,
    HandleClosedError,
    RemoteConnectionError,
    RemoteUnsupportedError,
)
from cinchdb.kv import KVStore
from cinchdb.remote import UNSUPPORTED, RemoteCinchDB, RemoteKV

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_remote_handle_has_every_public_name_of_the_local_one():
    assert _public(CinchDB) - _public(RemoteCinchDB) == set()
    assert _public(KVStore) - _public(RemoteKV) == set()
    # Only what a remote handle adds: compare-and-swap against the head it last saw.
    assert _public(RemoteCinchDB) - _public(CinchDB) == {"expecting_head"}


def test_signatures_match_the_local_ones_for_every_api_method():
    for endpoint in api.ENDPOINTS:
        if not endpoint.sdk:
            continue
        owner, _, name = endpoint.name.rpartition(".")
        local = getattr(KVStore if owner else CinchDB, name)
        remote = getattr(RemoteKV if owner else RemoteCinchDB, name)
        assert list(inspect.signature(remote).parameters) == list(
            inspect.signature(local).parameters
        ), endpoint.name


def test_unsupported_methods_raise_naming_the_method_and_make_no_request():
    # No server at all: a request would fail with a connection error, not this one.
    db = cinchdb.connect_api("http://127.0.0.1:9", "ck_x_y")
    for name, reason in UNSUPPORTED.items():
        owner, _, method = name.rpartition(".")
        target = db.kv if owner == "kv" else db
        with pytest.raises(RemoteUnsupportedError) as caught:
            attribute = getattr(target, method)
            if callable(attribute):
                arguments = [
                    "x"
                    for p in inspect.signature(attribute).parameters.values()
                    if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
                ]
                attribute(*arguments)
        assert str(caught.value) == f"{name}() is not available on a remote handle: {reason}"
        assert isinstance(caught.value, NotImplementedError)
    db.close()
    with pytest.raises(HandleClosedError, match="is closed"):
        db.list_tables()


def test_no_unsupported_method_has_an_endpoint():
    assert not set(UNSUPPORTED) & {e.name for e in api.ENDPOINTS}


def test_the_docs_list_exactly_the_unsupported_methods():
    section = DOCS.read_text().split("## The remote SDK", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w.]+)` \| (.+) \|$", section, re.MULTILINE)
    assert dict(rows) == UNSUPPORTED


def test_connect_with_url_gives_a_remote_handle_and_checks_its_arguments(tmp_path):
    with cinchdb.connect(url="http://127.0.0.1:9", api_key="ck_x_y", tenant="acme") as db:
        assert isinstance(db, RemoteCinchDB) and db.current_tenant == "acme"
    for kwargs, message in [
        ({"url": "http://127.0.0.1:9"}, "connect() takes url= and api_key= together"),
        ({"api_key": "ck_x_y"}, "connect() takes url= and api_key= together"),
        (
            {"url": "http://127.0.0.1:9", "api_key": "ck_x_y", "project_dir": tmp_path},
            "connect() takes project_dir= or url=, not both",
        ),
    ]:
        with pytest.raises(ArgumentError) as caught:
            cinchdb.connect(**kwargs)
        assert str(caught.value) == message
    with pytest.raises(ValueError, match="Invalid branch name"):
        cinchdb.connect_api("http://127.0.0.1:9", "ck_x_y", branch="../x")


def test_import_cinchdb_and_a_local_connect_do_not_load_httpx(tmp_path):
    script = f"""
import sys
import cinchdb
cinchdb.init({str(tmp_path / "p")!r})
with cinchdb.connect(project_dir={str(tmp_path / "p")!r}) as db:
    db.list_tables()
assert "httpx" not in sys.modules and "cinchdb.remote" not in sys.modules
assert callable(cinchdb.connect_api) and "httpx" in sys.modules
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_a_server_that_cannot_be_reached_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        db = cinchdb.connect_api(f"http://127.0.0.1:{port}", "ck_x_y")
        with pytest.raises(RemoteConnectionError) as caught:
            db.list_tables()
    message = str(caught.value)
    assert message.startswith(f"Cannot reach the CinchDB server at http://127.0.0.1:{port}: ")
    assert isinstance(caught.value, ConnectionError) and "ck_x_y" not in message
