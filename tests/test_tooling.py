"""House checks that run with the tests, so CI enforces them: lint, format, types, layering."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_and_format_are_clean():
    lint = run("ruff", "check", "journal", "cinchdb", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run("ruff", "format", "--check", "journal", "cinchdb", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_on_journal_is_clean():
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_journal_never_imports_cinchdb():
    pattern = re.compile(r"^\s*(from|import)\s+cinchdb\b", re.MULTILINE)
    offenders = [p for p in (ROOT / "journal").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_library_never_prints_or_exits():
    pattern = re.compile(r"^\s*(print\(|sys\.exit\(|input\()", re.MULTILINE)
    library = [*(ROOT / "journal").rglob("*.py"), *(ROOT / "cinchdb").rglob("*.py")]
    offenders = [p for p in library if "cli" not in p.parts and pattern.search(p.read_text())]
    assert offenders == []


def test_mypy_on_cinchdb_is_clean():
    result = run(sys.executable, "-m", "mypy", "cinchdb")
    assert result.returncode == 0, result.stdout
