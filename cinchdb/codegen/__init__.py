"""Typed code generated from a branch's schema: a Python package (pydantic models and a typed
client over the SDK) and TypeScript interfaces.

Output is a pure function of the schema and the names in its header (database, branch, schema
hash): regenerating an unchanged schema gives byte-identical files, which is what
:func:`stale_files` (``cinch codegen check``) relies on.
"""

from __future__ import annotations

import os
from pathlib import Path

from cinchdb.codegen._compile import TSC_ENV, compile_problems, find_tsc
from cinchdb.codegen._model import CodeModel, build_model
from cinchdb.codegen._python import render_python
from cinchdb.codegen._typescript import render_typescript
from cinchdb.errors import CodegenCompileError, CodegenWriteError, UnknownLanguageError
from journal.schema import Schema

__all__ = [
    "LANGUAGES",
    "TSC_ENV",
    "compile_problems",
    "find_tsc",
    "generate",
    "render",
    "stale_files",
]

#: Supported languages and what each produces.
LANGUAGES = {
    "python": "a package: pydantic models per table and view, and a typed client over the SDK",
    "typescript": "interfaces per table and view, and a typed client for `cinch serve` (fetch)",
}


def render(
    schema: Schema, language: str, *, database: str, branch: str, tsc: str | None = None
) -> dict[str, str]:
    """File name -> content for ``language``, checked to compile (see :func:`compile_problems`;
    ``tsc``: the TypeScript compiler to check with), so neither ``generate`` nor
    ``stale_files`` ever passes code that does not.

    Raises:
        CodegenCompileError: naming each file and line that would not compile.
    """
    if language not in LANGUAGES:
        raise UnknownLanguageError(language, list(LANGUAGES))
    model: CodeModel = build_model(schema, database=database, branch=branch)
    files = render_python(model) if language == "python" else render_typescript(model)
    problems = compile_problems(language, files, tsc=tsc)
    if problems:
        raise CodegenCompileError(language, problems)
    return files


def generate(
    schema: Schema,
    language: str,
    directory: str | os.PathLike[str],
    *,
    database: str,
    branch: str,
    tsc: str | None = None,
) -> list[Path]:
    """Write the files for ``language`` into ``directory`` (created if missing); only files
    whose content changed are rewritten."""
    files = render(schema, language, database=database, branch=branch, tsc=tsc)
    root = Path(directory)
    written = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            path = root / name
            if not path.exists() or path.read_text() != content:
                path.write_text(content)
            written.append(path)
    except OSError as e:
        raise CodegenWriteError(str(directory), e.strerror or str(e)) from e
    return written


def stale_files(
    schema: Schema,
    language: str,
    directory: str | os.PathLike[str],
    *,
    database: str,
    branch: str,
    tsc: str | None = None,
) -> list[str]:
    """Files of ``directory`` that differ from what the schema generates now (or are missing).
    What it compares with is compiled first (:func:`render`), so files it calls current
    compile."""
    root = Path(directory)
    files = render(schema, language, database=database, branch=branch, tsc=tsc)
    return [
        name
        for name, content in files.items()
        if not (root / name).exists() or (root / name).read_text() != content
    ]
