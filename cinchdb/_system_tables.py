"""CinchDB's own tables inside every tenant file (user SQL may read them, never write them).

``__cinch_state`` holds the applied-event cursor; ``__kv`` is the tenant's key-value store,
kept out of the journal, of diffs and of merges. :data:`FOREIGN_TABLES` are other tools'.
"""

from __future__ import annotations

STATE_TABLE = "__cinch_state"
#: Tables other tools keep in the files they work on, which are not the user's schema: drift
#: checks, repair, introspection and adopt pass them over (and never drop them). Litestream
#: creates these two in every file it replicates (``cinch replicate``).
FOREIGN_TABLES = ("_litestream_seq", "_litestream_lock")
KV_TABLE = "__kv"

STATEMENTS = (
    f'CREATE TABLE IF NOT EXISTS "{STATE_TABLE}" (key TEXT PRIMARY KEY, value TEXT) STRICT',
    # kind: s str, i int, I int beyond 64 bits (as text), f float, b bool, n None, y bytes,
    # j JSON (lists and dicts). expires_at: unix seconds, NULL for no expiry.
    f'CREATE TABLE IF NOT EXISTS "{KV_TABLE}" ('
    " key TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, value ANY, expires_at REAL"
    ") STRICT, WITHOUT ROWID",
    f'CREATE INDEX IF NOT EXISTS "{KV_TABLE}_expires" ON "{KV_TABLE}" (expires_at)'
    " WHERE expires_at IS NOT NULL",
)
