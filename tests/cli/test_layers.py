"""The CLI's layering: it renders what the SDK returns and never imports the journal; its
commands load lazily through one mechanism, and ``from cinchdb.cli import cli`` has them all."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cinchdb.cli

CLI_DIR = Path(cinchdb.cli.__file__).parent
MODULES = sorted(CLI_DIR.rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node, node.module))
    return found


def test_the_cli_never_imports_journal():
    offenders = [
        f"{path.relative_to(CLI_DIR.parent.parent)}:{node.lineno} imports {name}"
        for path in MODULES
        for node, name in _imports(ast.parse(path.read_text()))
        if name == "journal" or name.startswith("journal.")
    ]
    assert offenders == []


def test_no_import_inside_a_function_and_one_lazy_loader():
    """Lazy loading happens in one place: CinchGroup.get_command's importlib call."""
    inside: list[str] = []
    loaders: list[str] = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.name}:{function.name}"
                inside += [where for node, _ in _imports(function)]
                loaders += [
                    where
                    for node in ast.walk(function)
                    if isinstance(node, ast.Attribute) and node.attr == "import_module"
                ]
    assert inside == []
    assert loaders == ["_app.py:get_command"]


def test_importing_cli_gives_every_command():
    # A fresh interpreter: nothing else has imported a command module first.
    script = """
import click
from cinchdb.cli import cli
from cinchdb.cli._app import COMMANDS
ctx = click.Context(cli, info_name="cinch")
names = cli.list_commands(ctx)
assert names == sorted(COMMANDS), names
for name in names:
    command = cli.get_command(ctx, name)
    assert isinstance(command, click.Command) and command.name == name, name
    # cinch --help lists the table's summary without loading the module: it must be the
    # command's own.
    summary = COMMANDS[name][1]
    assert command.get_short_help_str(10**6) == summary, (name, summary)
print(len(names))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 20


def test_every_command_module_is_reachable_from_the_table():
    from_table = {entry.partition(":")[0] for entry, _ in cinchdb.cli._app.COMMANDS.values()}
    modules = {
        path.stem for path in (CLI_DIR / "commands").glob("*.py") if not path.stem.startswith("_")
    }
    assert modules == from_table


def test_help_lists_what_click_would_list_with_every_command_loaded():
    """``cinch --help`` builds its listing from COMMANDS; loading every command first (click's
    own way) gives the same text."""
    script = """
import click
from click.testing import CliRunner
from cinchdb.cli import cli
from cinchdb.cli._app import COMMANDS
runner = CliRunner()
lazy = runner.invoke(cli, ["--help"], terminal_width=%d).output
ctx = click.Context(cli, info_name="cinch")
for name in COMMANDS:
    cli.get_command(ctx, name)
loaded = runner.invoke(cli, ["--help"], terminal_width=%d).output
assert lazy == loaded, (lazy, loaded)
assert "Commands:" in lazy and all(name in lazy for name in COMMANDS)
"""
    for width in (60, 80, 120):
        done = subprocess.run(
            [sys.executable, "-c", script % (width, width)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
