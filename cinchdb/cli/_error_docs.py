"""Generate ``docs/errors.md``, the table of every error class, from the classes themselves.

Run ``python -m cinchdb.cli._error_docs > docs/errors.md``; a test fails when the file is stale.
"""

from __future__ import annotations

import inspect

from cinchdb import errors
from cinchdb.errors import CinchError


def error_classes() -> list[type[CinchError]]:
    """Every error ``cinchdb.errors`` exports, root first, each subtree after its parent."""
    exported = {
        cls
        for name in errors.__all__
        if inspect.isclass(cls := getattr(errors, name))
        and issubclass(cls, CinchError)
        and cls.__name__ == name  # an alias (ConflictError) is listed under its own name
    }

    def walk(cls: type[CinchError]) -> list[type[CinchError]]:
        children = sorted((c for c in exported if cls in c.__bases__), key=lambda c: c.__name__)
        return [cls] + [found for child in children for found in walk(child)]

    return walk(CinchError)


def meaning(cls: type[BaseException]) -> str:
    """The class's own docstring, first paragraph, on one line."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    return " ".join(doc.split("\n\n")[0].split())


def _builtins(cls: type[BaseException]) -> list[str]:
    return [
        base.__name__
        for base in cls.__mro__
        if base.__module__ == "builtins" and base not in (Exception, BaseException, object)
    ]


def render() -> str:
    """The whole table, in tree order."""
    lines = [
        "# Errors",
        "",
        "Generated from the classes in `cinchdb.errors` (which re-exports `journal.errors`) by",
        "`python -m cinchdb.cli._error_docs > docs/errors.md`; a test fails when this file is",
        "stale. Every error CinchDB raises is a `CinchError`, and also the builtin it",
        "semantically is, so `except ValueError` / `except LookupError` keep working. The",
        "`cinch` command line prints `Error: <message>` on stderr and exits with the class's",
        "`exit_code` (1 an error, 3 a merge conflict; 2 is click's usage error). SQLite's own",
        "errors (`cinchdb.errors.DRIVER_ERRORS`, e.g. bad SQL in `query()`) also exit 1.",
        "`ConflictError` is the reference's name for `MergeConflictError` (the same class).",
        "",
        "| Error | Parents | Builtins | Exit code | Meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cls in error_classes():
        parents = ", ".join(
            f"`{base.__name__}`" for base in cls.__bases__ if issubclass(base, CinchError)
        )
        builtins = ", ".join(f"`{name}`" for name in _builtins(cls))
        text = meaning(cls).replace("|", "\\|")
        lines.append(
            f"| `{cls.__name__}` | {parents or '-'} | {builtins or '-'} | {cls.exit_code}"
            f" | {text} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
