"""The shapes of what the SDK returns as plain dicts.

Results with a fixed set of keys (merge results, tenant status, check reports, lint findings,
index listings) are ``TypedDict``s: at run time they are the same ``dict`` values as ever (so
``result["status"]`` and ``json.dumps(result)`` keep working), and a type checker knows each
key and its type. Rows are the exception: their keys are the table's columns, known only at
run time, so a row stays ``dict[str, Any]`` (see :data:`Row`).

Only names are defined here; this module imports nothing else from CinchDB, so any module may
use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from journal.events import Event

from typing_extensions import NotRequired

__all__ = [
    "AnalyticsStats",
    "BehindTenant",
    "CIBranch",
    "CIReport",
    "CIStatus",
    "CheckReport",
    "ConflictInfo",
    "DataStepRows",
    "DriftedTenant",
    "IndexInfo",
    "LintFinding",
    "MergeResult",
    "MergeStatus",
    "MigrateResult",
    "QueryRows",
    "RangeInfo",
    "RepairResult",
    "ResetResult",
    "Row",
    "SchemaDifference",
    "ShapeStats",
    "SlowStatement",
    "SyncResult",
    "TenantStats",
    "TenantStatus",
    "UnreplayableBranch",
]

#: A record as ``insert``, ``update`` and ``query`` return it: column name -> value. The
#: values are whatever the columns hold (str, int, float, bytes, None; bool for BOOLEAN
#: columns), and the keys are only known at run time, so the values are ``Any``: a union
#: would make every caller narrow a value whose type its own schema already tells it.
Row = dict[str, Any]


class QueryRows(list[Row]):
    """What ``query()`` returns: its rows, a plain list of :data:`Row`, which also knows the
    result's column names (``columns``), so a result with no rows still has them (a CSV
    header, say)."""

    def __init__(self, rows: list[Row], columns: list[str]) -> None:
        super().__init__(rows)
        self.columns = tuple(columns)


class DataStepRows(TypedDict):
    """What one data step of a migration (an INSERT, UPDATE or DELETE) changed in a branch's
    tenant files: ``total`` rows over ``tenants`` materialized tenants, ``per_tenant`` counts
    (tenant -> rows), the most in one tenant (``max``, ``max_tenant``; None when no tenant
    has a file) and the rows of the branch template (``template``: what lazy tenants read, and
    a tenant materialized later starts with; None when not recorded). ``step`` is the data
    step's position among its event's operations."""

    event_id: str
    step: int
    sql: str
    total: int
    tenants: int
    max: int
    max_tenant: str | None
    template: int | None
    per_tenant: dict[str, int]


class MigrateResult(list["Event"]):
    """What ``migrate()`` returns: the events it appended, a plain list as before, which also
    carries the row counts of its data steps (``data_steps``, one :class:`DataStepRows` per
    INSERT, UPDATE or DELETE, in script order; empty for a schema-only script)."""

    def __init__(self, events: list[Event], data_steps: list[DataStepRows]) -> None:
        super().__init__(events)
        self.data_steps = tuple(data_steps)


class IndexInfo(TypedDict):
    """One index, as ``list_indexes`` lists it."""

    name: str
    table: str
    #: Column names, or the SQL text of an expression term.
    columns: list[str]
    unique: bool
    #: The partial index's condition (SQL text); None for a full index.
    where: str | None


# -- merges ----------------------------------------------------------------------------------

#: ``success``: merged (or, with ``dry_run``, would merge); ``up_to_date``: nothing to do;
#: ``conflict``: only from a preview (``raise_on_conflict=False``).
MergeStatus = Literal["success", "up_to_date", "conflict"]


class ConflictInfo(TypedDict):
    """One merge conflict (``journal.merge.Conflict.as_dict()``)."""

    kind: str
    #: "table users", "column users.email", "view adults", ...
    object: str
    message: str
    #: The object on each side (SQL or a short phrase); None where it is absent.
    base: str | None
    ours: str | None
    theirs: str | None
    #: Ids of the events involved.
    events: tuple[str, ...]
    #: The resolutions that apply ("ours", "theirs"); empty: none does.
    sides: tuple[str, ...]


class ResolvedInfo(TypedDict):
    """A conflict resolved as a person chose (``resolve=`` / ``strategy=``)."""

    object: str
    side: str


class MergeResult(TypedDict):
    """What ``merge_branches``, ``merge_preview`` and ``can_merge`` return."""

    status: MergeStatus
    source: str
    target: str
    #: Operations applied (or, with ``dry_run``, that would be).
    changes_applied: int
    conflicts: list[ConflictInfo]
    fast_forward: bool
    #: The head after the merge; None when nothing was written.
    event_id: str | None
    #: The merge base; None when the branches share no event.
    base: str | None
    #: Renames carried through automatically, described.
    resolutions: list[str]
    #: Conflicts resolved as asked, each recorded in the merge event.
    resolved: list[ResolvedInfo]
    dry_run: bool
    can_merge: bool


# -- tenants ---------------------------------------------------------------------------------


class TenantStatus(TypedDict):
    """One tenant's standing on a branch, as ``tenant_status`` lists it."""

    name: str
    materialized: bool
    #: The last event applied to its file; None: none yet, or unknown (``needs_key``).
    cursor: str | None
    #: Events it has yet to apply; None: unknown (``needs_key``).
    behind: int | None
    #: Encrypted, and this handle does not have its key.
    needs_key: bool


class SyncResult(TypedDict):
    """What ``sync_tenants`` did."""

    branch: str
    #: Materialized tenants looked at.
    tenants: int
    #: Names of the tenants that applied events.
    updated: list[str]
    events_applied: int
    #: Tenants that could not be brought to the head now (their file stayed locked past every
    #: retry); each catches up the next time it is opened.
    left_behind: list[str]


# -- history ---------------------------------------------------------------------------------


class LintFinding(TypedDict):
    """Something between two refs that drops data or can fail on existing rows (``lint``)."""

    kind: str
    object: str
    message: str


class RangeInfo(TypedDict):
    """Which events a ``log`` / ``lint`` range or a ``diff`` compared, as git reads ranges.

    ``range``: as given. ``kind``: "introduced" (``A..B`` / ``A...B`` for log and lint: the
    events reachable from ``to`` and not from ``from``), "heads" (``diff A B`` or ``A..B``) or
    "merge_base" (``diff A...B``: from the merge base of A and B to B). ``from_id`` and
    ``to_id``: the events compared (None: the empty schema). ``events``: the ids judged, oldest
    first (log and lint; empty for diff). ``data_steps`` (diff only): how many data steps lie
    between the two (in events one reaches and the other does not): a schema diff shows none.
    """

    range: str
    kind: str
    from_ref: str | None
    to_ref: str
    from_id: str | None
    to_id: str | None
    events: list[str]
    data_steps: NotRequired[int]


class SchemaDifference(TypedDict):
    """One object whose definition in a tenant's file is not the journal's."""

    #: "table", "column", "index", "view" or "trigger".
    kind: str
    #: The object as a user names it: ``column users.email``, ``index users_by_email``,
    #: ``table users primary key``.
    object: str
    #: What the journal says it is (SQL words, e.g. ``TEXT NOT NULL``); None: no such object.
    journal: str | None
    #: What the file has; None: the file has no such object.
    file: str | None


class DriftedTenant(TypedDict):
    """A materialized file that disagrees with the journal (``check()["drift"]``)."""

    branch: str
    tenant: str
    problem: str
    #: What differs, object by object (empty when the file could not be compared: damaged,
    #: or at a cursor off its branch).
    differences: list[SchemaDifference]


class RepairResult(TypedDict):
    """What ``repair_tenant`` did to one tenant's file of one branch."""

    tenant: str
    branch: str
    #: What differed before the repair (empty: nothing to do, the file was left alone).
    differences: list[SchemaDifference]
    #: Rows copied into the rebuilt tables.
    rows_kept: int


class _BehindTenant(TypedDict):
    branch: str
    tenant: str
    #: Events it has yet to apply; None: unknown, its key is not at hand (``needs_key``).
    events: int | None


# A base without the optional key, rather than NotRequired: mypy checks for Python 3.10, which
# has no typing.NotRequired, and typing_extensions is not a dependency.
class BehindTenant(_BehindTenant, total=False):
    """A materialized file merely behind its branch head (``check()["behind"]``)."""

    #: Present (True) only when the file is encrypted and its key is not at hand.
    needs_key: bool


class UnreplayableBranch(TypedDict):
    """A branch whose history SQLite does not replay (``check()["unreplayable"]``): its
    ``event`` (the first that fails, or its head when a view or trigger at the head does not
    compile) was written before the commit check, or around the SDK. ``reset_branch`` moves
    the branch back before it."""

    branch: str
    event: str
    problem: str


class CheckReport(TypedDict):
    """What ``check`` returns: journal integrity, branches that replay, and tenant drift."""

    #: Ids of events whose stored content no longer matches their id.
    corrupt_events: list[str]
    #: Branches whose first-parent history does not replay in SQLite.
    unreplayable: list[UnreplayableBranch]
    drift: list[DriftedTenant]
    behind: list[BehindTenant]
    #: No corrupt event, no branch that does not replay, and no drift.
    ok: bool


class ResetResult(TypedDict):
    """What ``reset_branch`` did."""

    branch: str
    #: The branch head after the reset (None: before every event) and before it.
    head: str | None
    previous: str | None
    #: Events no longer on the branch (still in the journal, reachable by id).
    events_dropped: int


#: How a CinchDB branch of the change meets the same branch at the base revision: "new" (not
#: at the base), "unchanged", "behind" (the base moved on, the change did not), "fast_forward"
#: (only the change moved), "two_heads" (both moved: after ``git merge`` the branch has two
#: heads, merged cleanly by ``cinch merge --heads``), "conflict" (both moved, and merging the
#: two heads conflicts), "deleted" (the change deletes a branch the base has).
CIStatus = Literal["new", "unchanged", "behind", "fast_forward", "two_heads", "conflict", "deleted"]


class CIBranch(TypedDict):
    """One CinchDB branch in a ``ci_report``."""

    database: str
    branch: str
    status: CIStatus
    #: The branch's head at the base revision and in the working tree (None: no events, or
    #: no such branch there).
    base_head: str | None
    head: str | None
    #: What the change introduces on the branch (``log base..head``): event ids, oldest first.
    introduced: list[str]
    #: The same events as ``short id  summary`` lines, oldest first.
    summaries: list[str]
    findings: list[LintFinding]
    #: The conflicts of merging the two heads (status "conflict").
    conflicts: list[ConflictInfo]


class CIReport(TypedDict):
    """What ``cinchdb.ci_report`` returns: the change in the working tree against a git
    revision. ``exit_code``: 0 clean, 1 an integrity problem or lint findings, 3 a conflict."""

    base: str
    #: The commit ``base`` names.
    base_commit: str
    #: Integrity problems of the working tree's history (files that do not match their
    #: names, missing parents, branches that do not replay in SQLite); empty when intact.
    integrity: list[str]
    branches: list[CIBranch]
    ok: bool
    exit_code: int


class ShapeStats(TypedDict):
    """One query shape in ``get_analytics_stats``: the SQL with every literal and parameter
    replaced by ``?`` (never the values), summed over every process that recorded it.

    Times are milliseconds. ``p50_ms``, ``p95_ms`` and ``p99_ms`` come from a mergeable
    sketch, within its documented relative error of the exact percentiles."""

    shape_id: str
    sql: str
    #: "select", "insert", "update", "delete", "kv", "schema" or "other".
    kind: str
    calls: int
    errors: int
    #: Rows returned (queries) or changed (writes).
    rows: int
    total_ms: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


class TenantStats(TypedDict):
    """One tenant of one branch in ``get_analytics_stats``: every statement it ran."""

    tenant: str
    branch: str
    calls: int
    errors: int
    rows: int
    total_ms: float


class AnalyticsStats(TypedDict):
    """What ``get_analytics_stats`` returns. ``since`` and ``until`` are ISO 8601 UTC times
    (``since`` None: everything kept); statements are counted by the minute, so the window
    starts at the minute holding ``since``."""

    since: str | None
    until: str
    #: Highest mean time first (ties: more calls first).
    slowest: list[ShapeStats]
    #: Most calls first (ties: higher total time first).
    most_frequent: list[ShapeStats]
    #: Highest total time first (ties: more calls first).
    tenants: list[TenantStats]


class SlowStatement(TypedDict):
    """One statement that took at least ``slow_query_ms``: when it ran (ISO 8601 UTC), whose
    it was, and its normalized SQL. The parameter values are never recorded."""

    at: str
    tenant: str
    branch: str
    sql: str
    elapsed_ms: float
    kind: str
