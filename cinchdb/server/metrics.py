"""``GET /metrics``: what ``cinch serve`` has done, in the Prometheus text exposition format
(version 0.0.4).

Written by hand rather than with ``prometheus_client`` (a test dependency only: the server
extra stays small): a few counters and one histogram, kept under one lock, rendered on each
scrape. Labels hold route templates (``/v1/databases/{database}/...``), methods, statuses,
statement kinds and database and branch names: never a tenant's data, a tenant name from a
path or a parameter value.

Every sample carries ``pid``: each worker of ``cinch serve --workers N`` keeps and serves its
own process's metrics (a scrape reaches whichever worker accepts it), so series of different
workers stay apart and sum with ``sum without (pid) (...)``.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterable, Mapping, Sequence

import attrs

from cinchdb import _held_files
from cinchdb.keys import Principal
from cinchdb.project import MAIN
from cinchdb.server._handles import HandlePool

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "METRICS_PATH",
    "UNMATCHED",
    "Family",
    "HttpMetrics",
    "Sample",
    "counter",
    "gauge",
    "process_families",
    "propagation",
    "render",
]

#: Where the metrics are served (docs/server.md, "Metrics"), with the scope metrics:read.
METRICS_PATH = "/metrics"
#: The media type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the latency histogram's buckets (``+Inf`` is added).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: The route label of a request no route matched (a 404, a refused path).
UNMATCHED = "(unmatched)"

Labels = tuple[tuple[str, str], ...]


@attrs.frozen
class Sample:
    """One line: the family's name plus ``suffix`` (``_total``, ``_bucket``...), labels and
    value."""

    suffix: str
    labels: Labels
    value: float


@attrs.frozen
class Family:
    """One metric: its name, ``counter``/``gauge``/``histogram``, help text and samples."""

    name: str
    type: str
    help: str
    samples: tuple[Sample, ...]


class HttpMetrics:
    """Requests by (method, route template, status) and their latency by (method, route).

    Thread-safe; :meth:`observe` is a dict update and a bisect under a lock.
    """

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._buckets = tuple(buckets)
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        # (method, route) -> [count per bucket (not cumulative, +Inf last), sum of seconds]
        self._latency: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request answered with ``status`` after ``seconds``."""
        slot = bisect.bisect_left(self._buckets, seconds)
        with self._lock:
            key = (method, route, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            found = self._latency.get((method, route))
            if found is None:
                found = ([0] * (len(self._buckets) + 1), [0.0])
                self._latency[(method, route)] = found
            found[0][slot] += 1
            found[1][0] += seconds

    def families(self) -> list[Family]:
        """The counter and the histogram, as they are now."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((k, (list(v[0]), v[1][0])) for k, v in self._latency.items())
        counter = Family(
            "cinchdb_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
            tuple(
                Sample(
                    "",
                    (("method", method), ("route", route), ("status", str(status))),
                    count,
                )
                for (method, route, status), count in requests
            ),
        )
        samples: list[Sample] = []
        for (method, route), (counts, total) in latency:
            base = (("method", method), ("route", route))
            running = 0
            for bound, count in zip((*self._buckets, float("inf")), counts, strict=True):
                running += count
                samples.append(Sample("_bucket", (*base, ("le", _number(bound))), running))
            samples.append(Sample("_sum", base, total))
            samples.append(Sample("_count", base, running))
        histogram = Family(
            "cinchdb_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its response's last byte, by method and route"
            " template.",
            tuple(samples),
        )
        return [counter, histogram]


def gauge(name: str, help: str, values: Mapping[Labels, float]) -> Family:
    """A gauge family of ``values`` by labels (in label order)."""
    return Family(
        name, "gauge", help, tuple(Sample("", labels, v) for labels, v in sorted(values.items()))
    )


def counter(name: str, help: str, values: Mapping[Labels, float]) -> Family:
    """A counter family (``name`` ends in ``_total``) of ``values`` by labels."""
    return Family(
        name, "counter", help, tuple(Sample("", labels, v) for labels, v in sorted(values.items()))
    )


def propagation(pool: HandlePool, principal: Principal) -> Family:
    """Per database and branch the key may read: how many tenants have applied the branch's
    last schema change (``updated``), are behind it (``behind``: they catch up when next
    opened) or are encrypted and locked to this server (``unknown``). Read from the tenant
    registry without catching anything up."""
    values: dict[Labels, float] = {}
    for database in pool.databases():
        if not principal.permits("metrics:read", database=database):
            continue
        with pool.handle(database, MAIN, MAIN) as db:
            branches = [branch.name for branch in db.list_branches()]
        for branch in branches:
            if not principal.permits("metrics:read", database=database, branch=branch):
                continue
            with pool.handle(database, branch, MAIN) as db:
                states = db.tenant_status()
            counts = {"updated": 0, "behind": 0, "unknown": 0}
            for state in states:
                if state["needs_key"]:
                    counts["unknown"] += 1
                elif state["behind"]:
                    counts["behind"] += 1
                else:
                    counts["updated"] += 1
            for name, count in counts.items():
                values[(("database", database), ("branch", branch), ("state", name))] = count
    return gauge(
        "cinchdb_propagation_tenants",
        "Tenants of each database and branch by their standing against the branch's last"
        " schema change: updated, behind (applied when next opened) or unknown (encrypted).",
        values,
    )


def process_families(pool: HandlePool) -> list[Family]:
    """This process's statements by kind (analytics on), open tenant files and shared SDK
    handles."""
    totals = pool.statement_totals()
    return [
        counter(
            "cinchdb_statements_total",
            "Statements the server's handles ran, by kind (from the analytics recorder).",
            {(("kind", kind),): calls for kind, (calls, _) in totals.items()},
        ),
        counter(
            "cinchdb_statement_errors_total",
            "Statements the server's handles ran that failed, by kind.",
            {(("kind", kind),): errors for kind, (_, errors) in totals.items()},
        ),
        gauge(
            "cinchdb_open_tenant_files",
            "Tenant files (and templates) this process holds open through SQLite.",
            {(): _held_files.held_count()},
        ),
        gauge(
            "cinchdb_server_open_handles",
            "SDK handles (one per database, branch and tenant) the server keeps open.",
            {(): len(pool)},
        ),
    ]


def render(families: Iterable[Family], pid: int | None = None) -> str:
    """The text exposition of ``families``, each sample labelled ``pid`` (this process's id by
    default)."""
    process = ("pid", str(os.getpid() if pid is None else pid))
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for sample in family.samples:
            labels = ",".join(
                f'{name}="{_escape_label(value)}"' for name, value in (*sample.labels, process)
            )
            lines.append(f"{family.name}{sample.suffix}{{{labels}}} {_number(sample.value)}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
