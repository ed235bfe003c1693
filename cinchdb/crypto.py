"""Encrypted tenant files: SQLCipher through ``sqlcipher3``, with keys the user brings.

A passphrase never touches disk. It is stretched once per tenant and process with PBKDF2
(SHA-256, :data:`KDF_ITERATIONS`) and a random per-tenant salt kept in the tenant's registry
row, into a raw 256-bit key that SQLCipher uses directly (a raw key opens a file in ~0.1 ms; a
passphrase makes SQLCipher run its own KDF on every open, ~140 ms here). Beside the salt the
registry keeps a *verifier*, an HMAC of a fixed label under the raw key, so a wrong passphrase
is recognised before any file is opened or created with it. Neither reveals the key.

An encrypted tenant's file is created encrypted from its first byte: by replaying the
branch's events into a new SQLCipher file (never by copying a plain template and encrypting
it), so no plain copy of its data ever exists on disk.

Key rotation is two-phase. Before the first file is re-keyed, the tenant's row records the new
salt and verifier together with each raw key *wrapped* under the other (:func:`wrap`): so
whoever holds either passphrase can derive both keys while the rotation is unfinished, and
any later open finishes it. The wrapped keys are deleted in the transaction that makes the new
salt and verifier current; they never reveal a key to someone who holds neither passphrase.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cinchdb.errors import (
    EncryptionError,
    KeyRequiredError,
    KeyRotationError,
    NotEncryptedError,
    WrongKeyError,
)
from journal import drivers

__all__ = [
    "EncryptionError",
    "KeyRequiredError",
    "KeyRotationError",
    "NotEncryptedError",
    "WrongKeyError",
    "derive_key",
    "key_pragma",
    "new_salt",
    "open_encrypted",
    "verifier",
    "wrap",
]

KDF_ITERATIONS = 256_000
_VERIFY_LABEL = b"cinchdb tenant key check v1"
_WRAP_LABEL = b"cinchdb tenant key wrap v1 "


def new_salt() -> bytes:
    return os.urandom(16)


def derive_key(passphrase: str, salt: bytes) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise EncryptionError("An encryption key must be a non-empty string")
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, KDF_ITERATIONS, dklen=32)


def verifier(raw_key: bytes) -> str:
    return hmac.new(raw_key, _VERIFY_LABEL, hashlib.sha256).hexdigest()


def wrap(raw_key: bytes, under: bytes, salt: bytes, direction: bytes) -> bytes:
    """``raw_key`` XOR a pad that only ``under`` can make (HMAC-SHA256 of a label, the
    rotation's fresh ``salt`` and ``direction``): each pad serves one 32-byte key once, so
    this is a one-time pad. Its own inverse: ``wrap(wrap(k, u, s, d), u, s, d) == k``."""
    pad = hmac.new(under, _WRAP_LABEL + direction + salt, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(raw_key, pad, strict=True))


def key_pragma(raw_key: bytes, statement: str = "key") -> str:
    """``PRAGMA key = "x'…'"``: SQLCipher's raw-key form (no KDF on open)."""
    return f"PRAGMA {statement} = \"x'{raw_key.hex()}'\""


def open_encrypted(path: Path, raw_key: bytes, factory: Any, tenant: str) -> Any:
    """A SQLCipher connection keyed with ``raw_key``; checks the key at once (a wrong key is
    accepted by ``PRAGMA key`` and only the first read fails)."""
    sqlcipher = drivers.sqlcipher
    if sqlcipher is None:  # pragma: no cover - sqlcipher3 is a dependency
        raise EncryptionError("Encrypted tenants need the sqlcipher3 package")
    conn = sqlcipher.connect(
        os.fspath(path), isolation_level=None, check_same_thread=False, timeout=30.0,
        factory=factory,
    )  # fmt: skip
    try:
        # SQLCipher logs "ERROR CORE ..." lines to stderr on a wrong key; CinchDB reports it.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(key_pragma(raw_key))
        try:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except drivers.DatabaseError:
            raise WrongKeyError(tenant) from None
    except BaseException:
        conn.close()
        raise
    return conn
