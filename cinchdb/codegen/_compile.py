"""Whether generated files compile: Python with :func:`compile`; TypeScript with the real
compiler (``tsc --strict --noEmit``) when one is given or found, else with a syntax check of
the declarations ``models.ts`` holds (comments, ``export const``, ``export interface`` with
member lines). Node is not a dependency of the library, so the compiler is optional here; the
tests always run it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: Environment variable naming the TypeScript compiler to use (else ``tsc`` on ``PATH``).
TSC_ENV = "CINCHDB_TSC"
# Stricter than --strict alone, so code that compiles here also compiles in projects that turn
# these on; ES2022 + DOM is what the generated client uses (fetch, Headers, URLSearchParams).
TSC_FLAGS = (
    "--strict", "--noEmit", "--pretty", "false", "--target", "es2022", "--lib", "es2022,dom",
    "--module", "esnext", "--moduleResolution", "bundler", "--noUncheckedIndexedAccess",
    "--exactOptionalPropertyTypes", "--noImplicitOverride", "--isolatedModules",
    "--noFallthroughCasesInSwitch", "--noImplicitReturns",
)  # fmt: skip
TSC_TIMEOUT = 180.0
_TSC_DIAGNOSTIC = re.compile(r"(?P<file>[^()\s][^()]*)\((?P<line>\d+),\d+\): (?P<message>.*)")

_TS_CONST = re.compile(
    r'export const [A-Za-z_$][\w$]* = (?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null);'
)
_TS_INTERFACE = re.compile(r"export interface ([A-Za-z_$][\w$]*) \{")
_TS_TYPE = r"(?:string|number|boolean|Uint8Array|null)"
_TS_MEMBER = re.compile(
    r'  (?:readonly )?(?:[A-Za-z_$][\w$]*|"(?:[^"\\]|\\.)*")\??: '
    rf"{_TS_TYPE}(?: \| {_TS_TYPE})*;"
)
_TS_COMMENT = re.compile(r"\s*(?://.*|/\*\*.*\*/)")


def _python(name: str, text: str) -> list[str]:
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as e:
        return [f"{name} line {e.lineno}: {e.msg}"]
    return []


def _typescript(name: str, text: str) -> list[str]:
    lines = text.splitlines()
    interface: str | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip() or _TS_COMMENT.fullmatch(line):
            continue
        if interface is not None:
            if line == "}":
                interface = None
            elif not _TS_MEMBER.fullmatch(line):
                return [f"{name} line {number}: not a member declaration: {line.strip()!r}"]
        elif line.strip() == "}":
            return [f"{name} line {number}: unexpected '}}'"]
        elif opened := _TS_INTERFACE.fullmatch(line):
            interface = opened[1]
        elif not _TS_CONST.fullmatch(line):
            return [f"{name} line {number}: not a declaration: {line.strip()!r}"]
    if interface is not None:
        return [f"{name} line {len(lines) + 1}: interface {interface} is not closed"]
    return []


def find_tsc() -> str | None:
    """The TypeScript compiler to check generated code with: ``$CINCHDB_TSC``, else ``tsc`` on
    ``PATH``, else None (then only the declaration syntax check runs)."""
    return os.environ.get(TSC_ENV) or shutil.which("tsc")


def tsc_problems(tsc: str, files: Mapping[str, str]) -> list[str]:
    """Type-check ``files`` together with ``tsc`` (:data:`TSC_FLAGS`, ``--strict`` among them)
    in a scratch directory, one line per diagnostic naming the file and line."""
    names = sorted(name for name in files if name.endswith(".ts"))
    if not names:
        return []
    with tempfile.TemporaryDirectory(prefix="cinchdb-tsc-") as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text)
        try:
            result = subprocess.run(
                [tsc, *TSC_FLAGS, *names], cwd=scratch, capture_output=True, text=True,
                timeout=TSC_TIMEOUT, check=False,
            )  # fmt: skip
        except OSError as e:
            return [f"the TypeScript compiler {tsc!r} could not run: {e.strerror or e}"]
        except subprocess.TimeoutExpired:
            return [f"the TypeScript compiler {tsc!r} did not finish in {TSC_TIMEOUT:g} s"]
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).splitlines()
    problems = [
        f"{m['file']} line {m['line']}: {m['message']}"
        for line in output
        if (m := _TSC_DIAGNOSTIC.fullmatch(line))
    ]
    first = next((line for line in output if line.strip()), f"exit status {result.returncode}")
    return problems or [f"the TypeScript compiler {tsc!r} failed: {first.strip()}"]


def compile_problems(
    language: str, files: Mapping[str, str], *, tsc: str | None = None
) -> list[str]:
    """What keeps ``files`` (name -> content) of ``language`` from compiling, one line per
    problem naming the file and line (empty: they compile). Files other than ``.py`` / ``.ts``
    (such as ``py.typed``) have nothing to compile.

    TypeScript is type-checked with ``tsc`` (a path to the compiler; default
    :func:`find_tsc`). Without a compiler only ``models.ts`` is checked, by the syntax of the
    declarations it holds; the client's fixed code is compiled by the tests."""
    problems: list[str] = []
    if language == "typescript":
        compiler = tsc or find_tsc()
        if compiler is not None:
            return tsc_problems(compiler, files)
        if "models.ts" in files:
            problems += _typescript("models.ts", files["models.ts"])
        return problems
    for name, text in files.items():
        if language == "python" and name.endswith(".py"):
            problems += _python(name, text)
    return problems
