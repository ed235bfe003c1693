"""The project on disk: finding it, creating it, and its ``.cinchdb/`` layout.

::

    <project>/.cinchdb/
        .gitignore             keeps everything but history/ out of git
        history/               the schema history as add-only text, committed with the code
                               (see ``journal.textlog``)
        metadata.db            the journal (events, branches) and CinchDB's registries, a
                               local cache of history/ that the running system works from
        config.json            the active database and branch (what the CLI acts on)
        {database}-{branch}/   tenant files of one branch (see ``cinchdb.tenants``)
        tmp/                   copies being built, named by the process building them

A project is found from ``project_dir``, else ``$CINCHDB_PROJECT_DIR``, else by walking up from
the current directory, the way git finds ``.git``.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import attrs

from cinchdb._tenant_registry import prepare_registry
from cinchdb.errors import (
    JournalMissingError,
    ProjectDirectoryError,
    ProjectError,
    ProjectExistsError,
    ProjectNotFoundError,
    UnknownDatabaseError,
)
from journal.names import validate_branch_name, validate_database_name
from journal.store import JournalStore
from journal.textlog import TextHistory

CINCHDB_DIR = ".cinchdb"
METADATA_FILE = "metadata.db"
CONFIG_FILE = "config.json"
SCRATCH_DIR = "tmp"
HISTORY_DIR = "history"
GITIGNORE = ".gitignore"
#: What ``.cinchdb/.gitignore`` must hold: everything but the shared history is local state
#: (metadata.db and its -wal/-shm, tenant files, templates, config, scratch), and a file
#: being written in history/ (renamed into place when whole) is not history yet.
GITIGNORE_LINES = ("/*", f"!/{GITIGNORE}", f"!/{HISTORY_DIR}/", "*.tmp-*")
_GITIGNORE_HEADER = (
    "# Written by CinchDB: history/ is the schema history, committed with your code;\n"
    "# everything else in .cinchdb/ is local state. Lines you add are kept.\n"
)
PROJECT_DIR_ENV = "CINCHDB_PROJECT_DIR"
MAIN = "main"


@attrs.frozen
class Config:
    """What the command line acts on when no ``--database`` / ``--branch`` is given, and the
    project's analytics settings (see docs/analytics.md)."""

    active_database: str = MAIN
    active_branch: str = MAIN
    #: Whether handles record query analytics unless ``connect(analytics=...)`` says.
    analytics: bool = False
    #: A statement at least this slow is also kept, one by one, in the slow list.
    slow_query_ms: float = 100.0
    #: Analytics older than this many days are deleted when new ones are written.
    analytics_retention_days: int = 7


def find_project(project_dir: str | os.PathLike[str] | None = None) -> Path:
    """The project root (the directory holding ``.cinchdb/``).

    Raises:
        ProjectNotFoundError: with the place searched, telling the user to run ``cinch init``.
    """
    explicit = project_dir if project_dir is not None else os.environ.get(PROJECT_DIR_ENV)
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if (root / CINCHDB_DIR).is_dir():
            return root
        raise ProjectNotFoundError(str(root))
    start = Path.cwd().resolve()
    for candidate in (start, *start.parents):
        if (candidate / CINCHDB_DIR).is_dir():
            return candidate
    raise ProjectNotFoundError(str(start))


def init_project(path: str | os.PathLike[str] = ".", database: str = MAIN) -> Path:
    """Create a project in ``path`` (created if missing) with ``database`` and its main branch.

    Raises:
        ProjectExistsError: ``path`` already holds a project; nothing is changed.
    """
    validate_database_name(database)
    root = Path(path).expanduser().resolve()
    meta_dir = root / CINCHDB_DIR
    if meta_dir.exists():
        raise ProjectExistsError(str(root))
    # Build the project in a scratch directory and rename it into place, so an interrupted
    # init leaves either no project or a whole one.
    scratch = root / f"{CINCHDB_DIR}.init-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        scratch.mkdir()
    except OSError as e:
        raise ProjectDirectoryError(str(root), e.strerror or str(e)) from e
    try:
        history = TextHistory(scratch / HISTORY_DIR)
        with JournalStore(scratch / METADATA_FILE, history=history) as store:
            prepare_registry(store)
            store.create_database(database)
            store.create_branch(database, MAIN, head=None)
        write_config(scratch, Config(active_database=database, active_branch=MAIN))
        ensure_gitignore(scratch)
        os.replace(scratch, meta_dir)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return root


def require_journal(meta_dir: Path) -> None:
    """Refuse to open a project whose ``metadata.db`` is missing or empty while tenant files
    exist: SQLite would start a new, empty journal there, and every tenant's data would be
    unreachable behind it. One stat when the journal is there, as it nearly always is.

    Raises:
        JournalMissingError: naming the journal's path and how to restore it.
    """
    path = meta_dir / METADATA_FILE
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        state = "missing"
    else:
        if size > 0:
            return
        wal = Path(f"{path}-wal")
        # An empty main file whose WAL holds the data is a journal not yet checkpointed.
        if wal.exists() and wal.stat().st_size > 0:
            return
        state = "empty (0 bytes)"
    tenant_files = _count_tenant_files(meta_dir)
    if tenant_files:
        raise JournalMissingError(path, state, tenant_files)


def list_databases(project_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The project's databases, with what git brought in; nothing is created (``connect()``
    creates a database it is asked for, this only looks)."""
    meta_dir = find_project(project_dir) / CINCHDB_DIR
    require_journal(meta_dir)
    with JournalStore(meta_dir / METADATA_FILE, history=history(meta_dir)) as store:
        store.sync_history()
        return store.list_databases()


def require_database(name: str, project_dir: str | os.PathLike[str] | None = None) -> None:
    """For a caller that must not create a database by a typo (the CLI's ``-d``).

    Raises:
        UnknownDatabaseError: the project has no database ``name``; it names the close ones.
    """
    known = list_databases(project_dir)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        raise UnknownDatabaseError(name, known, close)


def _count_tenant_files(meta_dir: Path) -> int:
    """Tenant files (``{database}-{branch}/{shard}/{tenant}.db``) under ``meta_dir``; branch
    templates hold no data and do not count."""
    return sum(1 for _ in meta_dir.glob("*-*/*/*.db"))


def read_config(meta_dir: Path) -> Config:
    path = meta_dir / CONFIG_FILE
    if not path.exists():
        return Config()
    try:
        data = json.loads(path.read_text())
        return Config(
            active_database=validate_database_name(data.get("active_database", MAIN)),
            active_branch=validate_branch_name(data.get("active_branch", MAIN)),
            analytics=_setting(data, "analytics", bool, False),
            slow_query_ms=float(_setting(data, "slow_query_ms", (int, float), 100.0)),
            analytics_retention_days=_setting(data, "analytics_retention_days", int, 7),
        )
    except (ValueError, AttributeError) as e:
        raise ProjectError(f"{path} is not a valid CinchDB config: {e}") from e


def _setting(
    data: dict[str, Any], name: str, kind: type[Any] | tuple[type[Any], ...], default: Any
) -> Any:
    """A setting of config.json, checked: a file written by an older CinchDB lacks it (the
    default holds); a wrong type or a negative number is refused (ValueError)."""
    value = data.get(name, default)
    # bool is an int: a number setting must not take true/false, nor the reverse.
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {_KIND_NAMES.get(kind, 'a number')}, not {value!r}")
    if kind is not bool and value < 0:
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return value


_KIND_NAMES: dict[object, str] = {bool: "true or false", int: "a whole number"}


_ALWAYS_WRITTEN = frozenset({"active_database", "active_branch"})


def write_config(meta_dir: Path, config: Config) -> None:
    """Write atomically: a reader never sees half a file."""
    path = meta_dir / CONFIG_FILE
    scratch = path.with_suffix(f".tmp-{os.getpid()}")
    # A setting at its default is left out: the file of a project that never changed one reads
    # as it always did, and a later CinchDB's default reaches it.
    defaults = Config()
    data = {
        name: value
        for name, value in attrs.asdict(config).items()
        if name in _ALWAYS_WRITTEN or value != getattr(defaults, name)
    }
    scratch.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(scratch, path)


def branch_directory(meta_dir: Path, database: str, branch: str) -> Path:
    """Where a branch's tenant files live. Branch names may contain '/', which cannot appear
    in a directory name; '~' can never appear in a branch name, so the mapping is one-to-one,
    and database names have no '-', so "{database}-{branch}" cannot collide either."""
    validate_database_name(database)
    validate_branch_name(branch)
    return meta_dir / f"{database}-{branch.replace('/', '~')}"


def history(meta_dir: Path) -> TextHistory:
    """The project's schema history files."""
    return TextHistory(meta_dir / HISTORY_DIR)


def ensure_gitignore(meta_dir: Path) -> None:
    """Give ``.cinchdb/`` its ``.gitignore``, or add the lines it lacks to one a user edited
    (nothing of theirs is removed or reordered). One read when it is complete."""
    path = meta_dir / GITIGNORE
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = None
    present = set() if text is None else {line.strip() for line in text.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        return
    if text is None:
        text = _GITIGNORE_HEADER
    elif text and not text.endswith("\n"):
        text += "\n"
    scratch = path.with_name(f"{GITIGNORE}.tmp-{os.getpid()}")
    scratch.write_text(text + "".join(f"{line}\n" for line in missing))
    os.replace(scratch, path)
