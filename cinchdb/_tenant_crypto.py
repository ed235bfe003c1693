"""Encrypted tenants: the keys a process holds, and the file work that needs them.

Raw keys live in :class:`TenantKeys` (memory only); the registry row holds the salt and a
verifier (see :mod:`cinchdb.crypto`). An encrypted tenant's file is built by replaying the
branch into a new SQLCipher file (:func:`build_encrypted_file`), never from the plain template.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cinchdb._guard import internal, open_tenant_file, write_cursor
from cinchdb._tenant_registry import TenantRegistry
from cinchdb.crypto import (
    KeyRequiredError,
    NotEncryptedError,
    WrongKeyError,
    derive_key,
    key_pragma,
    new_salt,
    verifier,
)
from journal.replay import Step, apply_steps

# The name under which a branch's template is cached; never a tenant's.
TEMPLATE_KEY = "__template"


class TenantKeys:
    """The raw keys of the encrypted tenants unlocked in this process, checked against
    ``registry``'s verifiers. A part of :class:`cinchdb.tenants.TenantFiles`."""

    def __init__(self, registry: TenantRegistry) -> None:
        self.registry = registry
        #: tenant -> raw key (memory only).
        self.keys: dict[str, bytes] = {}

    def unlock(self, name: str, passphrase: str) -> None:
        """Derive and check an encrypted tenant's key; keep the raw key in memory.

        Raises:
            WrongKeyError: the passphrase is not this tenant's; EncryptionError: the tenant is
                not encrypted.
        """
        crypto = self.registry.crypto(name)
        if crypto is None:
            raise NotEncryptedError(name)
        salt, check = crypto
        raw_key = derive_key(passphrase, salt)
        if verifier(raw_key) != check:
            raise WrongKeyError(name)
        self.keys[name] = raw_key

    def raw_key(self, name: str) -> bytes | None:
        """The key to open ``name``'s files with; None for a plain tenant (or the template).

        Raises:
            KeyRequiredError: the tenant is encrypted and was not unlocked here.
        """
        if name == TEMPLATE_KEY:
            return None
        if name in self.keys:
            return self.keys[name]
        if self.registry.crypto(name) is not None:
            raise KeyRequiredError(name)
        return None

    def locked(self) -> set[str]:
        """Encrypted tenants whose key is not at hand."""
        return self.registry.encrypted_names() - set(self.keys)

    def rotate(
        self, name: str, old_passphrase: str, new_passphrase: str, files: Iterable[Path]
    ) -> None:
        """Re-key ``files`` (the tenant's, none of them open) and record the new salt and
        verifier.

        Each file is rekeyed in place by SQLCipher (``PRAGMA rekey``) after its WAL is folded
        in. Not crash-safe across branches yet: a crash part-way through a tenant with files
        on several branches leaves some files under each key (each file itself is whole).
        """
        self.unlock(name, old_passphrase)
        old_key = self.keys[name]
        salt = new_salt()
        new_key = derive_key(new_passphrase, salt)
        for path in files:
            conn = open_tenant_file(path, old_key, name)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                conn.execute(key_pragma(new_key, "rekey"))
            finally:
                conn.close()
        self.registry.set_crypto(name, salt, verifier(new_key))
        self.keys[name] = new_key


def build_encrypted_file(
    path: Path, tenant: str, raw_key: bytes, steps: Sequence[Step], head: str | None
) -> None:
    """Build an encrypted tenant's file at ``head`` by running ``steps`` (the branch's history)
    in a new SQLCipher file: it is encrypted from its first byte (a plain template copy is
    never made). A file another process made first is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    conn = open_tenant_file(scratch, raw_key, tenant)
    try:
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
