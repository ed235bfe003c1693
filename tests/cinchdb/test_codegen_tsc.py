"""Generated TypeScript is checked with the real compiler (`tsc --strict`, pinned in
tests/ts/package-lock.json) when one is given, and CI installs exactly what the README says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cinchdb import codegen
from cinchdb.cli import cli
from cinchdb.models import Column
from tests import typescript

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tsc() -> str:
    return typescript.tsc_path()


@pytest.fixture
def typed(db):
    db.create_table(
        "users",
        [
            Column(name="name", type="TEXT", nullable=False),
            Column(name="age", type="INTEGER", default=0),
            Column(name="avatar", type="BLOB"),
            Column(name="active", type="BOOLEAN", default=True),
            Column(name="class", type="TEXT"),
        ],
    )
    db.create_view("adults", "SELECT name, age FROM users WHERE age >= 18")
    return db


def test_the_pinned_compiler_is_installed(tsc):
    lock = (REPO / "tests" / "ts" / "package-lock.json").read_text()
    assert '"node_modules/typescript": {\n      "version": "5.9.3"' in lock
    assert Path(tsc).exists()


def test_ci_runs_exactly_the_readmes_install_and_test_commands():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Install and test\n.*?```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    readme_commands = [line.split("#")[0].strip() for line in block[1].splitlines()]
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    ci_commands = [line.removeprefix("python -m ") for line in ci if line and line[0] not in "#cs"]
    assert [c.removeprefix("python -m ") for c in readme_commands] == ci_commands
    assert "npm ci --prefix tests/ts" in readme_commands


def test_generated_typescript_passes_tsc_strict(typed, tsc, tmp_path):
    paths = typed.generate_models("typescript", tmp_path / "ts", tsc=tsc)
    files = {Path(p).name: Path(p).read_text() for p in paths}
    assert codegen.compile_problems("typescript", files, tsc=tsc) == []
    assert typed.stale_models("typescript", tmp_path / "ts", tsc=tsc) == []


def test_an_empty_schema_passes_tsc_strict(db, tsc, tmp_path):
    files = codegen.render(db.schema(), "typescript", database="main", branch="main", tsc=tsc)
    assert codegen.compile_problems("typescript", files, tsc=tsc) == []


def test_tables_named_like_the_clients_own_names_compile(db, tsc, tmp_path):
    """Tables called ``client``, ``table``, ``row``... and a composite key: the models are a
    namespace import in client.ts, so no table name collides with the client's names."""
    for name in ("client", "table", "row", "page", "kv", "api", "cinch_error", "views"):
        db.create_table(name, [Column(name="note", type="TEXT")])
    db.migrate("CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b))")
    paths = db.generate_models("typescript", tmp_path / "ts", tsc=tsc)
    client = Path(paths[1]).read_text()
    assert "readonly pairs: Table<models.Pairs, models.PairsInsert, models.PairsUpdate," in client
    assert "readonly [string, number]>;" in client
    assert "readonly client: Table<models.Client," in client


def test_tsc_problems_name_the_file_and_line(tsc):
    files = {"models.ts": 'export const A = 1;\nexport const B: number = "x";\n'}
    assert codegen.compile_problems("typescript", files, tsc=tsc) == [
        "models.ts line 2: error TS2322: Type 'string' is not assignable to type 'number'."
    ]


def test_tsc_checks_strictly(tsc):
    files = {"client.ts": "export function f(x) { return x; }\n"}
    assert codegen.compile_problems("typescript", files, tsc=tsc) == [
        "client.ts line 1: error TS7006: Parameter 'x' implicitly has an 'any' type."
    ]


def test_a_compiler_that_cannot_run_is_named(tmp_path):
    missing = str(tmp_path / "no-tsc")
    assert codegen.compile_problems("typescript", {"models.ts": ""}, tsc=missing) == [
        f"the TypeScript compiler {missing!r} could not run: No such file or directory"
    ]


def test_codegen_check_takes_the_compiler(typed, tsc, tmp_path, monkeypatch):
    monkeypatch.chdir(typed.project_dir)
    out = tmp_path / "web"
    typed.generate_models("typescript", out, tsc=tsc)
    result = CliRunner().invoke(
        cli, ["codegen", "check", str(out), "--language", "typescript", "--tsc", tsc]
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"{out} is up to date with branch 'main'\n"


def test_the_compiler_named_in_the_environment_is_used(monkeypatch, tmp_path):
    missing = str(tmp_path / "env-tsc")
    monkeypatch.setenv(codegen.TSC_ENV, missing)
    assert codegen.compile_problems("typescript", {"models.ts": ""}) == [
        f"the TypeScript compiler {missing!r} could not run: No such file or directory"
    ]


def test_a_missing_compiler_fails_the_test_naming_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(typescript, "TSC", tmp_path / "node_modules" / ".bin" / "tsc")
    monkeypatch.setattr(typescript, "ROOT", tmp_path)
    with pytest.raises(pytest.fail.Exception) as failed:
        typescript.tsc_path()
    assert str(failed.value) == (
        "the TypeScript compiler is not installed (node_modules/.bin/tsc is missing): run"
        " `npm ci --prefix tests/ts` from the repository root (README, 'Install and test')"
    )
