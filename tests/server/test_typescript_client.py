"""The generated TypeScript client, for real: generated for the project's schema (checked by
``tsc --strict`` as it is written), compiled with a test program by ``tsc --strict``, and run
under node against a live ``cinch serve`` on 127.0.0.1. The program prints what it saw as one
JSON line; the assertions are here."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

import cinchdb
from cinchdb import api
from cinchdb.codegen._typescript_client import method_name
from cinchdb.keys import ApiKeys
from cinchdb.models import Column
from tests import typescript
from tests.server.conftest import LiveServer

PROGRAM = """\
import { AuthenticationError, CinchError, Client, Table, TableNotFoundError } from "./client.js";
import type { Users, UsersInsert, UsersUpdate } from "./models.js";
import { API_KEY, URL } from "./config.js";

function shown(value: unknown): unknown {
  return value instanceof Uint8Array ? { bytes: Array.from(value) } : value;
}

function failure(error: unknown): unknown {
  if (!(error instanceof CinchError)) return { unexpected: String(error) };
  return {
    class: error.name,
    code: error.code,
    status: error.status,
    message: error.message,
    details: error.details,
    is_cinch_error: error instanceof CinchError,
    is_table_not_found: error instanceof TableNotFoundError,
    is_authentication: error instanceof AuthenticationError,
  };
}

async function main(): Promise<void> {
  const db = new Client({ url: URL, apiKey: API_KEY });
  const users = db.tables.users;
  const seen: { [name: string]: unknown } = {};

  const ann: Users = await users.insert({
    name: "Ann", age: 30, avatar: new Uint8Array([0, 1, 255]), active: true,
  });
  const bob: Users = await users.insert({ name: "Bob" } satisfies UsersInsert);
  seen["inserted"] = { ...ann, avatar: shown(ann.avatar) };
  seen["bob"] = { age: bob.age, active: bob.active, avatar: bob.avatar };
  const got = await users.get(ann.id);
  seen["got_same"] = got !== null && got.id === ann.id && got.name === "Ann";
  seen["got_avatar"] = shown(got?.avatar);
  const first = await users.list({ limit: 1 });
  const second = first.next === null ? null : await users.list({ after: first.next, limit: 1 });
  seen["pages"] = [first.rows.map((r) => r.name), second?.rows.map((r) => r.name), second?.next];
  const every: string[] = [];
  for await (const row of users.all(1)) every.push(row.name);
  seen["all"] = every.sort();
  const change: UsersUpdate = { age: 31, active: false };
  const changed: Users = await users.update(ann.id, change);
  seen["updated"] = [changed.age, changed.active];
  seen["query"] = await db.query<{ name: string; n: number }>(
    "SELECT name, age + ? AS n FROM users WHERE age > ? ORDER BY name", [1, 18],
  );
  seen["adults"] = await db.views.adults.list();

  await db.kv.set("greeting", "hello");
  await db.kv.set("bytes", new Uint8Array([7, 8, 9]));
  await db.kv.set("doc", { a: [1, 2], b: null });
  seen["kv"] = [
    await db.kv.get("greeting"), shown(await db.kv.get("bytes")), await db.kv.get("doc"),
    await db.kv.get("missing"), await db.kv.increment("hits", 2), await db.kv.exists("greeting"),
  ];

  seen["deleted"] = await users.delete(bob.id);
  seen["after_delete"] = await users.get(bob.id);
  seen["head"] = db.head !== null && db.head.length > 0;

  try {
    await new Table<Users, UsersInsert, UsersUpdate, string>(db.api, "nope").list();
    seen["missing_table"] = "no error";
  } catch (error) {
    seen["missing_table"] = failure(error);
  }
  const feature = new Client({ url: URL, apiKey: API_KEY, branch: "feature/x" });
  seen["feature_rows"] = (await feature.tables.users.list()).rows.length;
  seen["feature_head_differs"] = feature.head !== null && feature.head !== db.head;
  try {
    const column = { name: "nick", type: "TEXT" };
    await db.api.addColumn({ table: "users", column }, { ifMatch: "0".repeat(64) });
    seen["stale_head"] = "no error";
  } catch (error) {
    seen["stale_head"] = failure(error);
  }
  try {
    await new Client({ url: URL, apiKey: "ck_nope_nope" }).tables.users.get(ann.id);
    seen["bad_key"] = "no error";
  } catch (error) {
    seen["bad_key"] = failure(error);
  }
  console.log(JSON.stringify(seen));
}

main().catch((error: unknown) => {
  console.log(JSON.stringify({ crashed: String(error) }));
  throw error;
});
"""


@pytest.fixture
def tsc() -> str:
    return typescript.tsc_path()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with ``users`` of every kind of column the client maps (BLOB and BOOLEAN
    included) and a view, for the live server to serve."""
    root = cinchdb.init(tmp_path / "project")
    with cinchdb.connect(project_dir=root) as db:
        db.create_table(
            "users",
            [
                Column(name="name", nullable=False),
                Column(name="age", type="INTEGER"),
                Column(name="avatar", type="BLOB"),
                Column(name="active", type="BOOLEAN"),
            ],
        )
        db.create_view("adults", "SELECT name FROM users WHERE age >= 18")
        # A branch whose name holds "/": the path carries it as "feature~x".
        db.create_branch("feature/x")
        db.switch_branch("feature/x")
        db.add_column("users", Column(name="extra", type="TEXT"))
    return root


def run_program(
    tsc: str, project: Path, live_server: LiveServer, token: str, work: Path
) -> dict[str, object]:
    source = work / "src"
    with cinchdb.connect(project_dir=project, branch="main") as db:
        db.generate_models("typescript", source, tsc=tsc)
    (source / "config.ts").write_text(
        f"export const URL = {json.dumps(live_server.url)};\n"
        f"export const API_KEY = {json.dumps(token)};\n"
    )
    (source / "main.ts").write_text(PROGRAM)
    typescript.compile_to_js(tsc, source, ["main.ts"], work / "out")
    result = subprocess.run(
        ["node", str(work / "out" / "main.js")], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    seen: dict[str, object] = json.loads(result.stdout)
    return seen


def test_the_typescript_client_against_a_live_server(project, live_server, tsc, tmp_path):
    with ApiKeys(project) as keys:
        token = keys.create(name="ts").token
    seen = run_program(tsc, project, live_server, token, tmp_path)

    inserted = seen["inserted"]
    assert isinstance(inserted, dict)
    assert {k: inserted[k] for k in ("name", "age", "active")} == {
        "name": "Ann", "age": 30, "active": True
    }  # fmt: skip
    assert inserted["avatar"] == {"bytes": [0, 1, 255]}
    assert isinstance(inserted["id"], str) and inserted["created_at"]
    assert seen["bob"] == {"age": None, "active": None, "avatar": None}
    assert seen["got_same"] is True and seen["got_avatar"] == {"bytes": [0, 1, 255]}
    first, second, last_next = seen["pages"]  # type: ignore[misc]
    assert len(first) == 1 and len(second) == 1 and last_next is None  # no third page
    assert sorted(first + second) == ["Ann", "Bob"]
    assert seen["all"] == ["Ann", "Bob"]
    assert seen["updated"] == [31, False]
    assert seen["query"] == [{"name": "Ann", "n": 32}]
    assert seen["adults"] == [{"name": "Ann"}]
    assert seen["kv"] == ["hello", {"bytes": [7, 8, 9]}, {"a": [1, 2], "b": None}, None, 2, True]
    assert seen["deleted"] is True and seen["after_delete"] is None
    assert seen["head"] is True

    missing = seen["missing_table"]
    assert isinstance(missing, dict)
    assert missing["class"] == "TableNotFoundError" and missing["code"] == "table_not_found"
    assert missing["status"] == 404 and missing["message"] == "Table 'nope' does not exist"
    assert missing["is_cinch_error"] is True and missing["is_table_not_found"] is True
    assert seen["feature_rows"] == 0 and seen["feature_head_differs"] is True
    stale = seen["stale_head"]
    assert isinstance(stale, dict)
    assert (stale["class"], stale["code"], stale["status"]) == (
        "ConcurrentChangeError", "concurrent_change", 412
    )  # fmt: skip
    assert stale["is_cinch_error"] is True
    bad_key = seen["bad_key"]
    assert isinstance(bad_key, dict)
    assert (bad_key["class"], bad_key["code"], bad_key["status"]) == (
        "AuthenticationError", "authentication", 401
    )  # fmt: skip
    assert bad_key["is_authentication"] is True and bad_key["is_table_not_found"] is False

    # What the program wrote went through the server into the tenant's file.
    with cinchdb.connect(project_dir=project, branch="main") as db:
        assert "nick" not in [c.name for c in db.get_table("users").columns]
        rows = db.query("SELECT name, age, avatar, active FROM users")
        assert rows == [{"name": "Ann", "age": 31, "avatar": b"\x00\x01\xff", "active": False}]
        assert db.kv.get("bytes") == b"\x07\x08\t" and db.kv.get("hits") == 2


API_METHOD = re.compile(
    r"  (?P<name>\w+)\(.*?\): Promise<JsonValue> \{\n"
    r'    const path = this\.transport\.path\("(?P<path>[^"]+)", .*?\);\n'
    r'    return this\.transport\.call\("(?P<method>\w+)", path, (?P<query>\{.*?\}), '
    r"(?P<body>null|\{.*?\})"
)


def names(members: str) -> set[str]:
    return set(re.findall(r"(\w+): ", members))


def test_the_client_has_every_operation_of_the_served_openapi_document(
    live_server, tsc, project, tmp_path
):
    """Every operation the live server documents is a method of the generated ``Api`` with the
    same method, path, query parameters and body properties (the client and the document are
    both generated from the API table; this holds them together)."""
    with cinchdb.connect(project_dir=project, branch="main") as db:
        db.generate_models("typescript", tmp_path / "ts", tsc=tsc)
    client = (tmp_path / "ts" / "client.ts").read_text()
    methods = {m["name"]: m for m in API_METHOD.finditer(client)}
    document = httpx.get(live_server.url + "/v1/openapi.json", timeout=10).json()
    operations = [
        (path, method.upper(), operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        # The document itself, and GET /metrics: text for Prometheus, not an API call.
        if path not in ("/v1/openapi.json", "/metrics")
    ]
    assert len(operations) == len(methods) == len(api.ENDPOINTS)
    for path, method, operation in operations:
        found = methods[method_name(operation["operationId"])]
        assert (found["path"], found["method"]) == (path, method)
        query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        assert names(found["query"]) == query, operation["operationId"]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        assert names(found["body"]) == set(body.get("schema", {}).get("properties", {}))
