"""The API key table in ``metadata.db`` and the key (token) format; :mod:`cinchdb.keys` is the
public side.

A key is ``ck_<id>_<secret>``: ``id`` is 10 random bytes and ``secret`` 35 random bytes, both in
lowercase base32 (``a-z``, ``2-7``: URL-safe, no ``_``, so the two ``_`` of a key are where
they must be), 16 and 56 characters. Only a hash of the secret is stored (:func:`secret_hash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3

from cinchdb.errors import ProjectError
from journal.store import JournalStore

TOKEN_PREFIX = "ck_"
ID_BYTES = 10
SECRET_BYTES = 35  # 280 bits: comfortably over the 256 a secret needs
ID_LENGTH = ID_BYTES * 8 // 5
SECRET_LENGTH = SECRET_BYTES * 8 // 5
TOKEN_LENGTH = len(TOKEN_PREFIX) + ID_LENGTH + 1 + SECRET_LENGTH
_TOKEN = re.compile(rf"ck_([a-z2-7]{{{ID_LENGTH}}})_([a-z2-7]{{{SECRET_LENGTH}}})")
_ID = re.compile(rf"[a-z2-7]{{{ID_LENGTH}}}")

#: Version of the key table, kept in ``cinch_meta`` under ``api_keys`` (beside the tenant
#: registry's ``registry``). 1: ``cinch_api_keys``.
KEYS_VERSION = 1
_META = "api_keys"
_META_TABLE = "CREATE TABLE IF NOT EXISTS cinch_meta (name TEXT PRIMARY KEY, version INTEGER)"
# Lists (scopes, limits) are JSON arrays; times are ISO-8601 UTC text of one fixed width
# (``cinchdb._rows.utc_now``), so they compare as text.
_KEYS_TABLE = """
    CREATE TABLE IF NOT EXISTS cinch_api_keys (
        id TEXT PRIMARY KEY,
        name TEXT,
        secret_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        databases TEXT NOT NULL,
        branches TEXT NOT NULL,
        tenants TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT
    )
"""
#: The columns a :class:`cinchdb.keys.KeyInfo` is built from, in its order (never the hash).
INFO_COLUMNS = "id, name, scopes, databases, branches, tenants, created_at, expires_at, revoked_at"


def prepare_key_table(store: JournalStore) -> None:
    """Create the key table once per project: opening an up-to-date project costs one read.

    Raises:
        ProjectError: the project was made by a newer CinchDB.
    """
    if _version(store.connection) == KEYS_VERSION:
        return
    with store.transaction() as conn:
        # Re-read under the write lock: another process may have just created it.
        version = _version(conn)
        if version > KEYS_VERSION:
            raise ProjectError(
                f"{store.path} has API key table version {version}, newer than this CinchDB"
                f" understands ({KEYS_VERSION}); upgrade CinchDB"
            )
        if version == KEYS_VERSION:
            return
        conn.execute(_KEYS_TABLE)
        conn.execute(_META_TABLE)
        conn.execute(
            "INSERT OR REPLACE INTO cinch_meta (name, version) VALUES (?, ?)", (_META, KEYS_VERSION)
        )


def _version(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT version FROM cinch_meta WHERE name = ?", (_META,)).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
        return 0
    return 0 if row is None else int(row[0])


def _random_text(size: int) -> str:
    return base64.b32encode(secrets.token_bytes(size)).decode("ascii").lower()


def new_key() -> tuple[str, str, str]:
    """A fresh (id, secret, token)."""
    key_id, secret = _random_text(ID_BYTES), _random_text(SECRET_BYTES)
    return key_id, secret, f"{TOKEN_PREFIX}{key_id}_{secret}"


def parse_token(token: object) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key; None for anything else. The length is checked before
    the pattern, so a huge header costs nothing."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    match = _TOKEN.fullmatch(token)
    return None if match is None else (match[1], match[2])


def is_key_id(text: object) -> bool:
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def secret_hash(key_id: str, secret: str) -> str:
    """What is stored in place of the secret.

    One SHA-256 is the right hash here, where a password would need a slow one (scrypt,
    argon2): slow hashes protect low-entropy secrets that an attacker who stole metadata.db
    could guess; 280 random bits cannot be guessed at any speed, and a slow hash would add
    tens of milliseconds to every request. The id is hashed in, so a stolen hash is bound to
    its row and cannot be copied to another key's.
    """
    return hashlib.sha256(f"{key_id}:{secret}".encode("ascii")).hexdigest()


#: Compared against when the id is unknown, so an unknown id and a wrong secret take the same
#: work (ids are not secret, but the two answers should look alike).
UNKNOWN_HASH = secret_hash("0" * ID_LENGTH, "0" * SECRET_LENGTH)


def hash_matches(stored: str, key_id: str, secret: str) -> bool:
    """Constant-time comparison: how long it takes says nothing about how much matched."""
    return hmac.compare_digest(stored.encode("ascii"), secret_hash(key_id, secret).encode("ascii"))
