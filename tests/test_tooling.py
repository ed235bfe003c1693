"""House checks that run with the tests, so CI enforces them: lint, format, types, layering."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_and_format_are_clean():
    lint = run("ruff", "check", "journal", "cinchdb", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run("ruff", "format", "--check", "journal", "cinchdb", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_on_journal_and_cinchdb_is_clean():
    # --strict on the command line as well as in pyproject, so loosening the config cannot
    # quietly loosen the check.
    result = run(sys.executable, "-m", "mypy", "--strict", "journal", "cinchdb")
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


# -- layering: imports run one way -------------------------------------------------------------

PACKAGES = ("journal", "cinchdb")


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    is_package: bool


def _modules() -> dict[str, _Module]:
    found: dict[str, _Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            found[name] = _Module(name, path, ast.parse(path.read_text()), is_package)
    return found


def _targets(module: _Module, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The project modules an import statement loads. ``from package import name`` points at
    the submodule when ``name`` is one, so a package re-exporting its children is no cycle."""
    if isinstance(node, ast.Import):
        return {_known_prefix(alias.name, known) for alias in node.names} - {""}
    if node.level:
        base_parts = module.name.split(".")
        if not module.is_package:
            base_parts = base_parts[:-1]
        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    out = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.add(sub if sub in known else _known_prefix(base, known))
    return out - {""}


def _known_prefix(name: str, known: set[str]) -> str:
    parts = name.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module are the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_in_journal_or_cinchdb():
    modules = _modules()
    known = set(modules)
    edges = {}
    for name, m in modules.items():
        # The CLI's lazy command loading (the one import inside a function allowed, checked
        # below) runs after every module involved has finished loading: not a cycle.
        lazy = (
            {id(n) for _f, n in _function_imports(m)} if name.startswith("cinchdb.cli") else set()
        )
        nodes = [node for node in _imports(m.tree) if id(node) not in lazy]
        edges[name] = {t for node in nodes for t in _targets(m, node, known)} - {name}
    cycles = _strongly_connected(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _function_imports(module: _Module) -> list[tuple[ast.AST, ast.Import | ast.ImportFrom]]:
    out = []
    for function in ast.walk(module.tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            out += [(function, node) for node in _imports(function)]
    return out


def _project_import(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or (node.module or "").split(".")[0] in PACKAGES
    return any(alias.name.split(".")[0] in PACKAGES for alias in node.names)


def test_no_project_import_inside_a_function():
    """An import inside a function is a cycle in hiding. The CLI alone may load its command
    modules lazily (start-up time), and only through one function."""
    hidden = []
    cli_loaders = set()
    for module in _modules().values():
        for function, node in _function_imports(module):
            if not _project_import(node):
                continue
            where = f"{module.path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
            if module.name.startswith("cinchdb.cli"):
                cli_loaders.add((module.name, getattr(function, "name", "<lambda>")))
            else:
                hidden.append(where)
    assert not hidden, "imports inside functions:\n" + "\n".join(hidden)
    assert len(cli_loaders) <= 1, f"the CLI loads modules lazily in several places: {cli_loaders}"


def test_the_cli_never_imports_journal():
    """The CLI renders what the SDK returns; only the SDK talks to the journal."""
    modules = _modules()
    known = set(modules)
    offenders = [
        f"{m.path.relative_to(ROOT)}:{node.lineno}"
        for name, m in modules.items()
        if name.startswith("cinchdb.cli")
        for node in _imports(m.tree)
        if any(t.split(".")[0] == "journal" for t in _targets(m, node, known))
        or (isinstance(node, ast.Import) and any(a.name.startswith("journal") for a in node.names))
    ]
    assert not offenders, "the CLI imports journal at:\n" + "\n".join(offenders)


def test_the_layer_order_in_the_docs_is_true():
    """docs/journal.md lists journal/'s modules lowest layer first; each imports only modules
    above it, and every module is listed."""
    text = (ROOT / "docs" / "journal.md").read_text()
    section = text.split("## The layer order of `journal/`", 1)[1].split("\n## ", 1)[0]
    files = re.findall(r"^\d+\. `([\w.]+\.py)`", section, re.MULTILINE)
    listed = ["journal" if f == "__init__.py" else f"journal.{f[:-3]}" for f in files]
    modules = {n: m for n, m in _modules().items() if n.split(".")[0] == "journal"}
    assert sorted(listed) == sorted(modules), "docs/journal.md lists other modules than journal/"
    known = set(modules)
    wrong = []
    for position, name in enumerate(listed):
        above = set(listed[:position])
        for node in _imports(modules[name].tree):
            for target in _targets(modules[name], node, known) - above - {name}:
                wrong.append(f"{name} imports {target}, listed below it")
    assert not wrong, "\n".join(wrong)


# -- lazy imports: one mechanism, at listed points ---------------------------------------------

#: Every deferred import in journal/ and cinchdb/ (start-up time): (module, the module it
#: defers). Each goes through journal._lazy.lazy_module at module top level, in the ``else:`` of
#: an ``if TYPE_CHECKING:`` that imports the same module for real.
LAZY_MODULES = {
    ("cinchdb.cli._render", "rich.console"),
    ("cinchdb.cli._render", "rich.progress"),
    ("cinchdb.cli._render", "rich.table"),
    # httpx: only a remote handle (cinchdb.connect(url=...)) loads cinchdb.remote.
    ("cinchdb._connect", "cinchdb.remote"),
    ("cinchdb._guard", "ctypes"),
    ("cinchdb.database", "cinchdb._schema_build"),
    ("cinchdb.database", "cinchdb.codegen"),
    ("cinchdb.database", "cinchdb.history"),
    ("cinchdb.database", "cinchdb.merging"),
    ("cinchdb.database", "journal.parse"),
    ("journal.introspect", "journal.parse"),
    ("journal.merge_check", "journal.merge"),
    ("journal.render", "journal._tokens"),
    ("journal._dml_shape", "journal._tokens"),
    ("journal.sqlrefs", "journal._tokens"),
    ("journal.sqlrefs", "journal.parse"),
    ("journal.sqlrefs", "sqlglot"),
    ("journal.sqlrefs", "sqlglot.expressions"),
    ("journal._merge_data", "sqlglot.expressions"),
    # pydantic (the definition, event and public models) and what folds or replays events:
    # a handle on a tenant at its branch head that only queries rows or keys loads none of it.
    ("cinchdb._fleet", "journal.replay"),
    ("cinchdb._replay_plans", "journal.replay"),
    ("cinchdb._tenant_crypto", "journal.replay"),
    ("cinchdb.catalog", "cinchdb.models"),
    ("cinchdb.changes", "journal.events"),
    ("cinchdb.database", "cinchdb.models"),
    ("cinchdb.database", "journal.events"),
    ("cinchdb._tenant_sync", "journal.replay"),
    ("cinchdb._tenant_sync", "cinchdb._follow"),
    ("journal.textlog", "journal.events"),
    ("journal._check_images", "journal.merge_check"),
    ("journal._fold_cache", "journal.events"),
    ("journal._fold_cache", "journal.fold"),
    ("journal._fold_cache", "journal.schema"),
    ("journal._store_sql", "journal.events"),
    ("journal.store", "journal.events"),
}
#: Where importlib.import_module may be called: the helper itself, and the CLI's command loader.
DYNAMIC_IMPORTS = {("journal._lazy", "*"), ("cinchdb.cli._app", "get_command")}


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _type_checking_imports(block: ast.If) -> set[str]:
    names = set()
    for node in block.body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module or ""}
    return names


def test_lazy_imports_are_the_listed_ones_each_with_its_static_import():
    found = set()
    problems = []
    for module in _modules().values():
        top_level_calls = set()
        for statement in module.tree.body:
            if not (
                isinstance(statement, ast.If) and ast.unparse(statement.test) == "TYPE_CHECKING"
            ):
                continue
            static = _type_checking_imports(statement)
            for node in statement.orelse:
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and _call_name(call) == "lazy_module":
                        target = call.args[0].value  # type: ignore[attr-defined]
                        found.add((module.name, target))
                        top_level_calls.add(id(call))
                        if target not in static:
                            problems.append(f"{module.name}: {target} has no TYPE_CHECKING import")
        for node in ast.walk(module.tree):
            is_lazy = isinstance(node, ast.Call) and _call_name(node) == "lazy_module"
            if is_lazy and id(node) not in top_level_calls and module.name != "journal._lazy":
                problems.append(f"{module.name}:{node.lineno}: lazy_module outside the pattern")
        for function, node in _function_calls(module):
            dynamic = _call_name(node) in ("import_module", "__import__", "LazyLoader")
            allowed = {(module.name, function), (module.name, "*")} & DYNAMIC_IMPORTS
            if dynamic and not allowed:
                problems.append(f"{module.name}.{function}:{node.lineno}: dynamic import")
    assert not problems, "\n".join(problems)
    assert found == LAZY_MODULES


def _function_calls(module: _Module) -> list[tuple[str, ast.Call]]:
    out = []
    for function in ast.walk(module.tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out += [(function.name, n) for n in ast.walk(function) if isinstance(n, ast.Call)]
    return out


def test_package_exports_are_all_and_resolve():
    """``journal`` and ``cinchdb`` import their public names lazily from a table: the table is
    ``__all__``, the TYPE_CHECKING imports match it, and every name resolves in a fresh
    interpreter to what its module defines."""
    for package in PACKAGES:
        module = _modules()[package]
        tables = [
            node
            for node in module.tree.body
            if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "_EXPORTS"
        ]
        assert len(tables) == 1, package
        table = ast.literal_eval(tables[0].value)  # type: ignore[arg-type]
        all_names = next(
            ast.literal_eval(node.value)
            for node in module.tree.body
            if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
        )
        assert sorted(table) == sorted(all_names), package
        static = {
            alias.asname or alias.name
            for node in module.tree.body
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            for statement in node.body
            if isinstance(statement, ast.ImportFrom)
            for alias in statement.names
        }
        assert static == set(table), package
        script = f"""
import importlib, sys
import {package}
table = {package}._EXPORTS
assert not any(m.startswith("{package}.") and m != "{package}._lazy" for m in sys.modules), \\
    sorted(m for m in sys.modules if m.startswith("{package}."))
for name, where in table.items():
    module_name, _, attribute = where.partition(":")
    expected = getattr(importlib.import_module(module_name), attribute or name)
    assert getattr({package}, name) is expected, name
# A submodule of the same name as an exported function does not replace it.
importlib.import_module("journal.parse")
import journal
assert callable(journal.parse) and journal.parse.__module__ == "journal.parse"
"""
        done = run(sys.executable, "-c", script)
        assert done.returncode == 0, done.stderr
