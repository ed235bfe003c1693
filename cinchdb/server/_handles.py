"""The server's SDK handles: one per (database, branch, tenant), kept open across requests.

A handle is thread-safe (each public call holds its lock, cinchdb/_serialized.py), so the
requests of one tenant share one. The pool is bounded (least recently used closed first)
because every handle holds open files. A handle never creates anything: a database that does
not exist is refused before a handle for it is opened (``CinchDB()`` would create it).

An encrypted tenant's key is never kept: a request that carries one gets a handle of its own,
closed after the request, so a later request without the key cannot use the unlocked files.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from cinchdb import analytics as _analytics
from cinchdb.catalog import Catalog
from cinchdb.database import CinchDB
from cinchdb.errors import DatabaseNotFoundError
from cinchdb.project import read_config
from journal.names import validate_database_name

__all__ = ["HandlePool"]

Where = tuple[str, str, str]


class HandlePool:
    """Open :class:`CinchDB` handles of one project, by (database, branch, tenant)."""

    def __init__(
        self, project_dir: str | os.PathLike[str], size: int = 256, *, analytics: bool = True
    ) -> None:
        self._catalog = Catalog.open(project_dir)
        self.root = self._catalog.root
        self._size = size
        self._analytics = analytics
        self._handles: OrderedDict[Where, CinchDB] = OrderedDict()
        # With analytics on, the pool holds a share of each database's recorder for as long
        # as it lives: its statement counts (GET /metrics) then survive the handles closing.
        self._leases: dict[str, _analytics.Lease] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            handles = list(self._handles.values())
            self._handles.clear()
            for handle in handles:
                handle.close()
            leases = list(self._leases.values())
            self._leases.clear()
            for lease in leases:
                lease.release()
            self._catalog.close()

    def statement_totals(self) -> dict[str, tuple[int, int]]:
        """Statements and errors by kind the pool's handles ran (analytics on), every
        database's added up; empty with analytics off."""
        with self._lock:
            recorders = [lease.recorder for lease in self._leases.values()]
        totals: dict[str, tuple[int, int]] = {}
        for recorder in recorders:
            for kind, (calls, errors) in recorder.kind_totals().items():
                had = totals.get(kind, (0, 0))
                totals[kind] = (had[0] + calls, had[1] + errors)
        return totals

    @contextmanager
    def handle(
        self,
        database: str,
        branch: str,
        tenant: str,
        encryption_key: str | None = None,
        *,
        private: bool = False,
    ) -> Iterator[CinchDB]:
        """A handle on (database, branch, tenant): the shared one, or with ``private`` (a
        request carrying a tenant key) one of the request's own, unlocked with
        ``encryption_key`` if given and closed after.

        Raises:
            DatabaseNotFoundError, BranchNotFoundError, TenantNotFoundError, InvalidNameError,
            WrongKeyError: as ``CinchDB()``.
        """
        if private or encryption_key is not None:
            self._require_database(database)
            own = CinchDB(
                database,
                branch,
                tenant,
                self.root,
                encryption_key=encryption_key,
                analytics=self._analytics,
            )
            try:
                yield own
            finally:
                own.close()
            return
        where = (database, branch, tenant)
        with self._lock:
            found = self._handles.get(where)
            if found is not None:
                self._handles.move_to_end(where)
        if found is None:
            found = self._open(where)
        yield found

    def __len__(self) -> int:
        """How many shared handles are open."""
        return len(self._handles)

    def databases(self) -> list[str]:
        """Every database of the project."""
        with self._lock:
            return self._catalog.store.list_databases()

    def forget(self, database: str) -> None:
        """Drop the handles of ``database`` (after a change to its branches or tenants that
        can leave a handle on something gone); they close when their calls end."""
        with self._lock:
            for where in [w for w in self._handles if w[0] == database]:
                self._closing(self._handles.pop(where))

    def _open(self, where: Where) -> CinchDB:
        self._require_database(where[0])
        opened = CinchDB(*where, project_dir=self.root, analytics=self._analytics)
        with self._lock:
            raced = self._handles.get(where)
            if raced is not None:  # another request opened it meanwhile: use that one
                opened.close()
                return raced
            self._handles[where] = opened
            while len(self._handles) > self._size:
                _, oldest = self._handles.popitem(last=False)
                self._closing(oldest)
        return opened

    def _require_database(self, database: str) -> None:
        validate_database_name(database)
        with self._lock:
            known = self._catalog.store.has_database(database)
            leased = database in self._leases
        if not known:
            raise DatabaseNotFoundError(database)
        if self._analytics and not leased:
            self._lease(database)

    def _lease(self, database: str) -> None:
        # The settings a handle would lease it with (the first lease of a process makes the
        # recorder): the project's slow_query_ms and retention.
        config = read_config(self._catalog.meta_dir)
        lease = _analytics.lease(
            self._catalog.meta_dir,
            database,
            slow_query_ms=config.slow_query_ms,
            retention_days=config.analytics_retention_days,
        )
        with self._lock:
            raced = database in self._leases
            if not raced:
                self._leases[database] = lease
        if raced:  # another request leased it meanwhile
            lease.release()

    def _closing(self, handle: CinchDB) -> None:
        # close() waits for the handle's lock, so a call in progress finishes first; a request
        # that took the handle before it left the pool then gets HandleClosedError (503).
        threading.Thread(target=_close_quietly, args=(handle,), daemon=True).start()


def _close_quietly(handle: CinchDB) -> None:
    handle.close()  # closing twice is harmless
