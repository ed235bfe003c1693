"""One handle shared by several threads: no error, nothing lost, and no thread ever lets
another's user SQL write CinchDB's system tables (the authorizer's state is per connection,
so a ``query()`` overlapping a ``kv.set`` must still be refused).

A deadlock fails the test (the threads are joined with a deadline) instead of hanging it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import cinchdb
from cinchdb.errors import CinchError
from cinchdb.models import Column
from tests.stress import iterations

THREADS = 8
CALLS = iterations(100, 500)
DEADLINE_S = iterations(60, 300)
CHILD = """
import sys
from tests.cinchdb.test_threads import scenario
scenario(sys.argv[1])
print("ok")
"""

# User SQL that tries to write system tables through query(); each must be refused, however
# the calls of other threads interleave with it.
ATTACKS = (
    "WITH x AS (SELECT 1) INSERT INTO __kv (key, kind, value) VALUES ('pwned', 's', 'x')",
    "WITH x AS (SELECT 1) UPDATE __cinch_state SET value = 'pwned' WHERE key = 'cursor'",
    "WITH x AS (SELECT 1) DELETE FROM __kv",
)


def _worker(db: cinchdb.CinchDB, number: int, tally: dict[str, int], errors: list[str]) -> None:
    me = f"t{number}"
    for i in range(CALLS):
        try:
            step = i % 10
            if step in (0, 1, 2):
                db.insert("items", {"who": me, "n": i})
                tally["inserted"] += 1
            elif step == 3:
                rows = db.query("SELECT COUNT(*) AS c FROM items WHERE who = ?", [me])
                assert rows[0]["c"] == tally["inserted"] - tally["deleted"]
            elif step == 4:
                db.kv.increment(f"counter:{me}")
                tally["increments"] += 1
            elif step == 5:
                db.kv.set(f"key:{me}", i)
                assert db.kv.get(f"key:{me}") == i
            elif step == 6:
                attack = ATTACKS[(i // 10) % len(ATTACKS)]
                try:
                    db.query(attack)
                # Refused either way: ReadOnlyQueryError, or today SQLite's "not authorized"
                # when the system-table guard denies before the read-only gate.
                except (CinchError, sqlite3.DatabaseError):
                    pass
                else:
                    errors.append(f"{me}: query() ran a write on a system table: {attack}")
            elif step == 7:
                row = db.insert("items", {"who": me, "n": -1})
                db.update("items", row["id"], {"n": -2})
                assert db.delete("items", row["id"]) == 1
            elif step == 8:
                db.kv.mset({f"m:{me}:a": i, f"m:{me}:b": i})
                assert db.kv.mget([f"m:{me}:a", f"m:{me}:b"]) == {
                    f"m:{me}:a": i,
                    f"m:{me}:b": i,
                }
            elif step == 9:
                if i == 9 + 10 * number:  # each thread changes the schema once
                    db.add_column("items", Column(name=f"extra_{me}", type="INTEGER"))
                else:
                    db.get_table("items")
        except Exception as e:  # every failure is collected, not only the first
            errors.append(f"{me} call {i}: {type(e).__name__}: {e}")


def scenario(root: str) -> None:
    """The threads on one handle; raises AssertionError on any error, loss or bypass."""
    with cinchdb.connect(project_dir=root) as db:
        db.create_table("items", [Column(name="who"), Column(name="n", type="INTEGER")])
        db.insert("items", {"who": "setup", "n": 0})
        cursor_before = db.tenant_status()[0]["cursor"]
        assert cursor_before is not None
        tallies = [{"inserted": 0, "deleted": 0, "increments": 0} for _ in range(THREADS)]
        errors: list[str] = []
        threads = [
            threading.Thread(target=_worker, args=(db, n, tallies[n], errors), daemon=True)
            for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + DEADLINE_S
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in threads if thread.is_alive()]
        assert stuck == [], f"deadlocked after {DEADLINE_S} s; errors so far: {errors[:5]}"
        assert errors == [], f"{len(errors)} errors:\n" + "\n".join(errors[:20])

        for n, tally in enumerate(tallies):
            me = f"t{n}"
            rows = db.query(
                "SELECT COUNT(*) AS c, COUNT(DISTINCT n) AS d FROM items WHERE who = ?", [me]
            )
            assert rows[0]["c"] == tally["inserted"] == rows[0]["d"]
            assert db.kv.get(f"counter:{me}") == tally["increments"]
        assert db.kv.get("pwned") is None
        assert db.kv.count() == 3 * THREADS + THREADS  # key:, m:a, m:b and counter: per thread
        columns = {column.name for column in db.get_table("items").columns}
        assert {f"extra_t{n}" for n in range(THREADS)} <= columns
        status = db.tenant_status()[0]
        assert status["behind"] == 0 and status["cursor"] != "pwned"
        assert db.check()["ok"]


def test_eight_threads_share_one_handle(project):
    # In a child process: a deadlock inside SQLite can hold the GIL, which would hang this
    # process too; a child is killed at the deadline instead, and the test fails.
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        raise AssertionError(f"deadlocked: no answer after {DEADLINE_S} s\n{err[-2000:]}") from None
    assert child.returncode == 0, err[-4000:]
    assert out.strip() == "ok"
