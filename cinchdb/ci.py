"""One check for a pull request: the schema change in the working tree against a git revision.

:func:`ci_report` reads two text histories (``.cinchdb/history``, see ``journal.textlog``):
the one committed at the base revision (read with ``git ls-tree`` and ``git cat-file``, no
checkout) and the one in the working tree. Each is imported into a throwaway ``metadata.db`` in
a temporary directory, and so is their union: the history files are add-only, so the union is
exactly what ``git merge`` of the change into the base makes of them. Nothing in the project is
written, committed files or local state.

For each CinchDB branch of the working tree it reports what the change introduces (``log
base..head``: the events reachable from the working tree's head and not from the base's), lint
findings on those events, and how the branch merges into the base line. When the same branch
moved on both sides, the union has two heads for it (the two-heads case); the merge planner
then runs on the two heads, on throwaway branches, without writing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from cinchdb import history as _history
from cinchdb import merging
from cinchdb._tenant_registry import prepare_registry
from cinchdb.changes import SchemaChanges
from cinchdb.errors import ProjectError
from cinchdb.project import CINCHDB_DIR, HISTORY_DIR, METADATA_FILE, find_project
from cinchdb.results import CIBranch, CIReport, CIStatus, ConflictInfo, LintFinding
from journal import JournalStore
from journal.diff import lint as lint_operations
from journal.errors import CorruptJournalError, JournalError
from journal.events import BranchesMerged, Operation
from journal.textlog import TextHistory

__all__ = ["ci_report"]

#: Exit codes of the report (the CLI's: 1 a problem, 3 a merge conflict).
EXIT_PROBLEM = 1
EXIT_CONFLICT = 3
#: The throwaway branches the two heads are merged on (the union store only).
_OURS = "ci-base-head"
_THEIRS = "ci-change-head"


def _git(cwd: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise ProjectError("cinch ci needs git, and git is not on PATH")
    return subprocess.run(
        [git, *args], cwd=cwd, input=data, capture_output=True, check=False, timeout=300
    )


def _base_commit(root: Path, base: str) -> tuple[Path, str]:
    """The work tree's top directory and the commit ``base`` names."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise ProjectError(
            f"{root} is not in a git work tree (cinch ci compares it with a git revision):"
            f" {top.stderr.decode(errors='replace').strip()}"
        )
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if commit.returncode != 0:
        raise ProjectError(
            f"git revision {base!r} does not exist in {top.stdout.decode().strip()}"
            " (fetch it first, e.g. actions/checkout with fetch-depth: 0)"
        )
    return Path(top.stdout.decode().strip()), commit.stdout.decode().strip()


def _export_base(top: Path, commit: str, history_dir: Path, target: Path) -> None:
    """Write the history files committed at ``commit`` under ``target`` (no checkout)."""
    prefix = history_dir.resolve().relative_to(top.resolve()).as_posix()
    listing = _git(top, "ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix)
    if listing.returncode != 0:
        raise ProjectError(f"git ls-tree failed: {listing.stderr.decode(errors='replace')}")
    blobs: list[tuple[str, str]] = []
    for entry in listing.stdout.decode().split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        _mode, kind, sha = meta.split()
        if kind == "blob" and path.endswith(".json"):
            blobs.append((sha, path[len(prefix) + 1 :]))
    if not blobs:
        return
    batch = _git(top, "cat-file", "--batch", data="".join(f"{s}\n" for s, _ in blobs).encode())
    if batch.returncode != 0:
        raise ProjectError(f"git cat-file failed: {batch.stderr.decode(errors='replace')}")
    out, at = batch.stdout, 0
    for _sha, relative in blobs:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        body = out[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1  # the body is followed by a newline
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(body)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy the history files (``{database}/{events,branches}/*.json``) under ``source``."""
    for path in sorted(source.glob("*/*/*.json")):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not destination.exists():
            shutil.copyfile(path, destination)


def _open(scratch: Path, name: str, *sources: Path) -> JournalStore:
    """A throwaway store with the union of the history files under ``sources``."""
    meta_dir = scratch / name
    files = meta_dir / HISTORY_DIR
    files.mkdir(parents=True)
    for source in sources:
        _copy_tree(source, files)
    store = JournalStore(meta_dir / METADATA_FILE, history=TextHistory(files))
    try:
        prepare_registry(store)  # the tenant registry the merge planner's handle reads
        store.sync_history()
    except BaseException:
        store.close()
        raise
    return store


def _introduced(store: JournalStore, database: str, head: str | None, seen: set[str]) -> list[str]:
    """The events reachable from ``head`` and not in ``seen``, oldest first."""
    if head is None:
        return []
    ids = store.graph(database).log_order(head)
    return [event_id for event_id in reversed(ids) if event_id not in seen]


def _findings(store: JournalStore, ids: list[str], seen: set[str]) -> list[LintFinding]:
    operations: list[Operation] = []
    for event in store.events(ids):
        # A merge that only brings in what the base has introduces nothing of its own.
        if isinstance(event.change, BranchesMerged) and all(p in seen for p in event.parents[1:]):
            continue
        operations += event.operations
    return [
        {"kind": f.kind, "object": f.object, "message": f.message}
        for f in lint_operations(operations)
    ]


def _merge_heads(
    union: JournalStore, meta_dir: Path, database: str, branch: str, ours: str, theirs: str
) -> list[ConflictInfo]:
    """The conflicts of merging the change's head into the base's (none: it merges cleanly),
    planned on throwaway branches of the union store."""
    union.create_branch(database, _OURS, ours)
    union.create_branch(database, _THEIRS, theirs)
    changes = SchemaChanges(union, meta_dir, database)
    try:
        result = merging.merge(changes, _THEIRS, _OURS, dry_run=True, raise_on_conflict=False)
    finally:
        changes.close()
        union.delete_branch(database, _OURS)
        union.delete_branch(database, _THEIRS)
    # The command that resolves it is the two-heads merge of the real branch.
    planned = f"cinch merge {_THEIRS} --into {_OURS}"
    command = f"cinch merge --heads {shlex.quote(branch)}"
    return [{**c, "message": c["message"].replace(planned, command)} for c in result["conflicts"]]


def _integrity(store: JournalStore, meta_dir: Path) -> list[str]:
    problems: list[str] = []
    for database in store.list_databases():
        problems += [
            f"event {event_id[:12]} of database '{database}' does not match its id"
            for event_id in store.verify(database)
        ]
        changes = SchemaChanges(store, meta_dir, database)
        try:
            report = _history.check(changes)
        finally:
            changes.close()
        problems += [
            f"branch '{u['branch']}' of database '{database}' does not replay in SQLite at"
            f" event {u['event'][:12]}: {u['problem']}"
            for u in report["unreplayable"]
        ]
    return problems


def ci_report(project_dir: str | os.PathLike[str] | None, base: str) -> CIReport:
    """The schema change in ``project_dir``'s git working tree against git revision ``base``
    (see the module docstring). Writes nothing in the project.

    Raises:
        ProjectError: git is not on PATH, the project is not in a git work tree, or ``base``
            names no commit.
    """
    root = find_project(project_dir)
    history_dir = root / CINCHDB_DIR / HISTORY_DIR
    top, commit = _base_commit(root, base)
    with tempfile.TemporaryDirectory(prefix="cinch-ci-") as scratch_name:
        scratch = Path(scratch_name)
        base_files = scratch / "base-files"
        base_files.mkdir()
        _export_base(top, commit, history_dir, base_files)
        problems: list[str] = []
        try:
            stores = [
                _open(scratch, "base", base_files),
                _open(scratch, "change", history_dir),
                _open(scratch, "union", base_files, history_dir),
            ]
        except (CorruptJournalError, JournalError) as e:
            return {
                "base": base,
                "base_commit": commit,
                "integrity": [str(e)],
                "branches": [],
                "ok": False,
                "exit_code": EXIT_PROBLEM,
            }
        base_store, change_store, union = stores
        try:
            problems = _integrity(change_store, scratch / "change")
            branches = [
                entry
                for database in change_store.list_databases()
                for entry in _branches(base_store, change_store, union, scratch, database)
            ]
        finally:
            for store in stores:
                store.close()
    conflict = any(b["status"] == "conflict" for b in branches)
    problem = bool(problems) or any(b["findings"] for b in branches)
    exit_code = EXIT_CONFLICT if conflict else EXIT_PROBLEM if problem else 0
    return {
        "base": base,
        "base_commit": commit,
        "integrity": problems,
        "branches": branches,
        "ok": exit_code == 0,
        "exit_code": exit_code,
    }


def _branches(
    base_store: JournalStore,
    change_store: JournalStore,
    union: JournalStore,
    scratch: Path,
    database: str,
) -> list[CIBranch]:
    in_base = base_store.has_database(database)
    base_branches = {r.name: r.head for r in base_store.list_branches(database)} if in_base else {}
    base_events: set[str] = set()
    for base_head in set(base_branches.values()) - {None}:
        assert base_head is not None
        base_events |= union.graph(database).ancestors(base_head) | {base_head}
    entries: list[CIBranch] = []
    for record in change_store.list_branches(database):
        name, head = record.name, record.head
        graph = union.graph(database)
        conflicts: list[ConflictInfo] = []
        status: CIStatus
        if name not in base_branches:
            status = "new"
            seen = base_events
        else:
            base_head = base_branches[name]
            seen = set() if base_head is None else graph.ancestors(base_head) | {base_head}
            if head == base_head:
                status = "unchanged"
            elif head is None or head in seen:
                status = "behind"
            elif base_head is None or graph.is_ancestor(base_head, head):
                status = "fast_forward"
            else:
                conflicts = _merge_heads(union, scratch / "union", database, name, base_head, head)
                status = "conflict" if conflicts else "two_heads"
        introduced = _introduced(union, database, head, seen)
        events = union.events(introduced)
        entries.append(
            {
                "database": database,
                "branch": name,
                "status": status,
                "base_head": base_branches.get(name),
                "head": head,
                "introduced": introduced,
                "summaries": [f"{e.short_id}  {e.summary}" for e in events],
                "findings": _findings(union, introduced, seen),
                "conflicts": conflicts,
            }
        )
    listed = {record.name for record in change_store.list_branches(database)}
    for name, base_head in sorted(base_branches.items()):
        # A branch the change lacks and the union still has was made on the base line after
        # the change left it; only one the change's history deletes is reported.
        if name not in listed and not union.has_branch(database, name):
            entries.append(
                {
                    "database": database,
                    "branch": name,
                    "status": "deleted",
                    "base_head": base_head,
                    "head": None,
                    "introduced": [],
                    "summaries": [],
                    "findings": [],
                    "conflicts": [],
                }
            )
    return entries
