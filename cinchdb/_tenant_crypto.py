"""Encrypted tenants, the part of :class:`cinchdb.tenants.TenantFiles` that holds keys.

Raw keys live in ``keys`` (memory only); the registry row holds the salt and a verifier
(see :mod:`cinchdb.crypto`). An encrypted tenant's file is built by replaying the branch into a
new SQLCipher file, never from the plain template.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cinchdb._guard import internal, open_tenant_file, write_cursor
from cinchdb._replay_plans import ReplayPlans
from cinchdb.crypto import (
    KeyRequiredError,
    NotEncryptedError,
    WrongKeyError,
    derive_key,
    key_pragma,
    new_salt,
    verifier,
)
from cinchdb.errors import TenantNotFoundError
from journal import JournalStore
from journal.replay import apply_steps

# The name under which a branch's template is cached; never a tenant's.
TEMPLATE_KEY = "__template"


class EncryptedTenants:
    """Mixed into ``TenantFiles``: unlocking, re-keying and building encrypted tenants."""

    store: JournalStore
    database: str
    keys: dict[str, bytes]
    _plans: ReplayPlans
    _open: OrderedDict[tuple[str, str], Any]

    if TYPE_CHECKING:

        def path(self, branch: str, tenant: str) -> Path: ...

        def _branches(self) -> list[str]: ...

    def crypto(self, name: str) -> tuple[bytes, str] | None:
        """(salt, verifier) of an encrypted tenant; None for a plain one."""
        row = self.store.connection.execute(
            "SELECT encrypted, salt, verifier FROM cinch_tenants WHERE database = ? AND name = ?",
            (self.database, name),
        ).fetchone()
        if row is None:
            raise TenantNotFoundError(self.database, name)
        return (bytes(row[1]), str(row[2])) if row[0] else None

    def unlock(self, name: str, passphrase: str) -> None:
        """Derive and check an encrypted tenant's key; keep the raw key in memory.

        Raises:
            WrongKeyError: the passphrase is not this tenant's; EncryptionError: the tenant is
                not encrypted.
        """
        crypto = self.crypto(name)
        if crypto is None:
            raise NotEncryptedError(name)
        salt, check = crypto
        raw_key = derive_key(passphrase, salt)
        if verifier(raw_key) != check:
            raise WrongKeyError(name)
        self.keys[name] = raw_key

    def rotate_key(self, name: str, old_passphrase: str, new_passphrase: str) -> None:
        """Re-key every file of an encrypted tenant, then record the new salt and verifier.

        Each file is rekeyed in place by SQLCipher (``PRAGMA rekey``) after its WAL is folded
        in. Not crash-safe across branches yet: a crash part-way through a tenant with files
        on several branches leaves some files under each key (each file itself is whole).
        """
        self.unlock(name, old_passphrase)
        old_key = self.keys[name]
        salt = new_salt()
        new_key = derive_key(new_passphrase, salt)
        for branch in self._branches():
            path = self.path(branch, name)
            if not path.exists():
                continue
            entry = self._open.pop((branch, name), None)
            if entry is not None:
                entry.conn.close()
            conn = open_tenant_file(path, old_key, name)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                conn.execute(key_pragma(new_key, "rekey"))
            finally:
                conn.close()
        with self.store.transaction() as registry:
            registry.execute(
                "UPDATE cinch_tenants SET salt = ?, verifier = ? WHERE database = ? AND name = ?",
                (salt, verifier(new_key), self.database, name),
            )
        self.keys[name] = new_key

    def _raw_key(self, name: str) -> bytes | None:
        """The key to open ``name``'s files with; None for a plain tenant.

        Raises:
            KeyRequiredError: the tenant is encrypted and was not unlocked here.
        """
        if name == TEMPLATE_KEY:
            return None
        if name in self.keys:
            return self.keys[name]
        if self.crypto(name) is not None:
            raise KeyRequiredError(name)
        return None

    def _locked(self, name: str) -> bool:
        return name not in self.keys and self.crypto(name) is not None

    def _materialize_encrypted(self, branch: str, path: Path, tenant: str, raw_key: bytes) -> None:
        """Build an encrypted tenant's file by replaying the branch into a new SQLCipher file:
        it is encrypted from its first byte (a plain template copy is never made)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        head = self.store.branch_head(self.database, branch)
        conn = open_tenant_file(scratch, raw_key, tenant)
        try:
            steps = self._plans.steps_of(self.store.chain(self.database, head))
            with internal(conn):
                if head is not None:
                    apply_steps(conn, steps, before_commit=write_cursor(head))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.execute("PRAGMA journal_mode = DELETE")  # no -wal left beside the scratch
        finally:
            conn.close()
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another process made it first; keep theirs
        finally:
            scratch.unlink()

    def encrypted_names(self) -> set[str]:
        rows = self.store.connection.execute(
            "SELECT name FROM cinch_tenants WHERE database = ? AND encrypted = 1", (self.database,)
        )
        return {name for (name,) in rows}
