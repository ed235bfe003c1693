"""Generated code: importable in a fresh process, typed CRUD through the SDK, mypy --strict
and ruff clean, byte-identical on regeneration, and a stale check that flips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import cinchdb
from cinchdb import codegen
from cinchdb.models import Column
from tests.old_journal import append_old_events

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def typed(db, project):
    db.create_table(
        "users",
        [
            Column(name="name", type="TEXT", nullable=False),
            Column(name="age", type="INTEGER", default=0),
            Column(name="score", type="REAL"),
            Column(name="avatar", type="BLOB"),
            Column(name="balance", type="NUMERIC"),
            Column(name="active", type="BOOLEAN", default=True),
            Column(name="class", type="TEXT"),
        ],
    )
    # A name outside the names rule, as a journal made before the rule holds it.
    append_old_events(project, 'ALTER TABLE users ADD COLUMN "my col" TEXT')
    db.create_view("adults", "SELECT name, age FROM users WHERE age >= 18")
    return db


def read_all(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_python_package_is_typed_importable_and_stable(typed, project, tmp_path):
    out = tmp_path / "gen" / "app_models"
    paths = typed.generate_models("python", out)
    assert sorted(Path(p).name for p in paths) == ["__init__.py", "client.py", "models.py",
                                                   "py.typed"]  # fmt: skip
    first = read_all(out)
    assert b"branch 'main'" in first["__init__.py"] and typed.schema().hash().encode() in first[
        "__init__.py"]  # fmt: skip
    typed.generate_models("python", out)
    assert read_all(out) == first  # byte-identical
    assert typed.stale_models("python", out) == []

    script = f"""
import cinchdb
from cinchdb import codegen
from app_models import Client, UsersInsert, UsersUpdate
db = cinchdb.connect(project_dir={str(project)!r})
client = Client(db)
row = UsersInsert(name="Ann", balance=5, my_col="x", class_="c", avatar=b"\\x00")
ann = client.users.insert(row)
assert ann.age == 0 and ann.active is True and ann.balance == 5 and ann.avatar == b"\\x00"
assert client.users.get(ann.id).name == "Ann"
assert [u.my_col for u in client.users.where(name="Ann", active=True)] == ["x"]
assert client.users.update(ann.id, UsersUpdate(age=30)).age == 30
assert [a.name for a in client.adults.list()] == ["Ann"]
assert len(client.users.list(limit=5)) == 1
assert client.users.delete(ann.id) and client.users.get(ann.id) is None
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(out.parent)}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr

    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", str(out)],
        env={**os.environ, "MYPYPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout
    ruff = subprocess.run(["ruff", "check", "--isolated", str(out)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout


def test_stale_check_flips_after_a_schema_change(typed, tmp_path):
    out = tmp_path / "models"
    typed.generate_models("python", out)
    typed.generate_models("typescript", tmp_path / "ts")
    assert typed.stale_models("python", out) == []
    typed.add_column("users", Column(name="nickname"))
    assert sorted(typed.stale_models("python", out)) == ["__init__.py", "client.py", "models.py"]
    assert sorted(typed.stale_models("typescript", tmp_path / "ts")) == ["client.ts", "models.ts"]
    typed.generate_models("python", out)
    assert typed.stale_models("python", out) == []


def test_typescript_interfaces(typed, tmp_path):
    path, _client = typed.generate_models("typescript", tmp_path / "ts")
    text = Path(path).read_text()
    assert "export interface Users {" in text and "export interface UsersInsert {" in text
    assert "export interface Adults {" in text and "AdultsInsert" not in text
    assert "  readonly avatar: Uint8Array | null;" in text
    assert "  name: string;" in text and "  age?: number | null;" in text
    assert '  readonly "my col": string | null;' in text


def test_unknown_language_is_a_clear_error(typed, tmp_path):
    with pytest.raises(ValueError, match="Unknown language 'cobol'; supported: python, typescript"):
        typed.generate_models("cobol", tmp_path)


def test_generated_client_uses_the_handles_tenant_and_key(typed, project, tmp_path):
    typed.create_tenant("vault", encrypt=True, encryption_key="k")
    out = tmp_path / "gen" / "vault_models"
    typed.generate_models("python", out)
    sys.path.insert(0, str(out.parent))
    try:
        from vault_models import Client, UsersInsert  # type: ignore[import-not-found]

        with cinchdb.connect(tenant="vault", encryption_key="k", project_dir=project) as vault:
            Client(vault).users.insert(UsersInsert(name="in the vault"))
        assert Client(typed).users.list() == []  # main's tenant sees none of it
    finally:
        sys.path.remove(str(out.parent))


def test_an_empty_schema_generates_a_python_package_that_imports(db, project, tmp_path):
    out = tmp_path / "gen" / "empty_models"
    db.generate_models("python", out)
    for name in ("__init__.py", "client.py", "models.py"):
        compile((out / name).read_text(), name, "exec")  # a SyntaxError fails the test
    script = f"""
import cinchdb
from cinchdb import codegen
from empty_models import SCHEMA_HASH, Client
db = cinchdb.connect(project_dir={str(project)!r})
Client(db)
print("ok", len(SCHEMA_HASH))
"""
    env = {**os.environ, "PYTHONPATH": str(out.parent)}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0 and run.stdout.split()[0] == "ok", run.stderr
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", str(out)],
        env={**os.environ, "MYPYPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout
    ruff = subprocess.run(["ruff", "check", "--isolated", str(out)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    assert db.stale_models("python", out) == []


def test_an_empty_schema_generates_typescript_that_passes_the_syntax_check(db, tmp_path):
    path, _client = db.generate_models("typescript", tmp_path / "ts")
    assert codegen.compile_problems("typescript", {"models.ts": Path(path).read_text()}) == []
    assert db.stale_models("typescript", tmp_path / "ts") == []


@pytest.mark.parametrize(
    ("language", "files", "problems"),
    [
        ("python", {"client.py": "x = 1\nfrom .models import\n"},
         ["client.py line 2: invalid syntax"]),
        ("python", {"models.py": "class A(:\n    pass\n"},
         ["models.py line 1: invalid syntax"]),
        ("typescript", {"models.ts": "export interface A {\n  readonly a string;\n}\n"},
         ["models.ts line 2: not a member declaration: 'readonly a string;'"]),
        ("typescript", {"models.ts": "export interface A {\n  a: string;\n"},
         ["models.ts line 3: interface A is not closed"]),
        ("typescript", {"models.ts": "}\n"}, ["models.ts line 1: unexpected '}'"]),
        ("typescript", {"models.ts": "export const SCHEMA_HASH = ;\n"},
         ["models.ts line 1: not a declaration: 'export const SCHEMA_HASH = ;'"]),
        ("python", {"py.typed": ""}, []),
    ],
)  # fmt: skip
def test_compile_problems_name_the_file_and_line(language, files, problems):
    assert codegen.compile_problems(language, files) == problems


def test_codegen_check_compiles_what_it_checks(typed, tmp_path):
    """The files of a non-empty schema compile, in both languages (what ``check`` now runs)."""
    for language in ("python", "typescript"):
        files = codegen.render(typed.schema(), language, database="main", branch="main")
        assert codegen.compile_problems(language, files) == []
