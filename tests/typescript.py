"""The TypeScript compiler the tests use: the one `npm ci --prefix tests/ts` installs (pinned in
tests/ts/package-lock.json). A test that needs it FAILS when it is missing, never skips: CI
installs it, and a developer who has not gets told the command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TSC = ROOT / "tests" / "ts" / "node_modules" / ".bin" / "tsc"
INSTALL = "npm ci --prefix tests/ts"


def tsc_path() -> str:
    """The pinned tsc, or a test failure naming the command that installs it."""
    if not TSC.exists():
        pytest.fail(
            f"the TypeScript compiler is not installed ({TSC.relative_to(ROOT)} is missing):"
            f" run `{INSTALL}` from the repository root (README, 'Install and test')",
            pytrace=False,
        )
    return str(TSC)


def compile_to_js(tsc: str, directory: Path, names: list[str], out: Path) -> None:
    """Compile ``names`` (in ``directory``) with ``tsc --strict`` to CommonJS in ``out``, so
    node runs the result without a package.json; fails the test with tsc's diagnostics."""
    result = subprocess.run(
        [tsc, "--strict", "--target", "es2022", "--lib", "es2022,dom", "--module", "commonjs",
         "--pretty", "false",
         "--outDir", str(out), *names],
        cwd=directory, capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "NODE_OPTIONS": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
