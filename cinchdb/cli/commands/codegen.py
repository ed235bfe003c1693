"""``cinch codegen``: typed code from the schema."""

from __future__ import annotations

import click

import cinchdb
from cinchdb.cli._app import EXIT_ERROR
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done, emit_json
from cinchdb.codegen import LANGUAGES

_tsc_option = click.option(
    "--tsc",
    type=click.Path(dir_okay=False),
    default=None,
    help="TypeScript compiler to check with (default: $CINCHDB_TSC, else tsc on PATH).",
)


@click.group("codegen")
def codegen_group() -> None:
    """Typed code generated from the active branch's schema.

    \b
    Example:
      cinch codegen generate python cinchdb_models/
    """


@codegen_group.command("languages")
@json_option
def languages(as_json: bool) -> None:
    """List the languages code can be generated for.

    \b
    Example:
      cinch codegen languages
    """
    if as_json:
        emit_json(dict(LANGUAGES))
        return
    for name, what in LANGUAGES.items():
        click.echo(f"{name:<12} {what}")


@codegen_group.command("generate")
@click.argument("language", type=click.Choice(sorted(LANGUAGES)))
@click.argument("directory", type=click.Path(file_okay=False))
@_tsc_option
@target_options(tenant=False)
@json_option
@with_db
def generate(
    db: cinchdb.CinchDB, language: str, directory: str, tsc: str | None, as_json: bool
) -> None:
    """Write LANGUAGE code for the schema into DIRECTORY.

    \b
    Example:
      cinch codegen generate python cinchdb_models/
    """
    paths = db.generate_models(language, directory, tsc=tsc)
    done(f"Generated {len(paths)} {language} file(s) in {directory} (branch '{db.branch}')",
         as_json, {"language": language, "directory": directory, "branch": db.branch,
                   "files": paths})  # fmt: skip


@codegen_group.command("check")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--language", type=click.Choice(sorted(LANGUAGES)), default="python",
              show_default=True, help="The language DIRECTORY holds.")  # fmt: skip
@_tsc_option
@target_options(tenant=False)
@json_option
@with_db
def check(
    db: cinchdb.CinchDB, directory: str, language: str, tsc: str | None, as_json: bool
) -> None:
    """CI: exit 1 when DIRECTORY's generated code is stale against the schema.

    \b
    Example:
      cinch codegen check cinchdb_models/
    """
    stale = db.stale_models(language, directory, tsc=tsc)
    if as_json:
        emit_json({"stale": stale, "ok": not stale})
        if stale:
            raise SystemExit(EXIT_ERROR)
        return
    if stale:
        click.echo(f"Stale: {', '.join(stale)} (run 'cinch codegen generate {language}"
                   f" {directory}')", err=True)  # fmt: skip
        raise SystemExit(EXIT_ERROR)
    done(f"{directory} is up to date with branch '{db.branch}'")
