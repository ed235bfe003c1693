"""Whether generated files compile: Python with :func:`compile`, TypeScript with a syntax check
of the declarations CinchDB emits (comments, ``export const``, ``export interface`` with
member lines), since no TypeScript compiler is a dependency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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


def compile_problems(language: str, files: Mapping[str, str]) -> list[str]:
    """What keeps ``files`` (name -> content) of ``language`` from compiling, one line per
    file naming it and the line (empty: they compile). Files other than ``.py`` / ``.ts`` (such
    as ``py.typed``) have nothing to compile."""
    problems: list[str] = []
    for name, text in files.items():
        if language == "python" and name.endswith(".py"):
            problems += _python(name, text)
        elif language == "typescript" and name.endswith(".ts"):
            problems += _typescript(name, text)
    return problems
