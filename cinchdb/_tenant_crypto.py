"""Encrypted tenants: the keys a process holds, and the file work that needs them.

Raw keys live in :class:`TenantKeys` (memory only); the registry row holds the salt and a
verifier (see :mod:`cinchdb.crypto`). An encrypted tenant's file is built by replaying the
branch into a new SQLCipher file (:func:`build_encrypted_file`), never from the plain template.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from cinchdb import _held_files as held_files
from cinchdb._guard import internal, open_tenant_file, write_cursor
from cinchdb._tenant_registry import PendingKey, TenantRegistry
from cinchdb.crypto import (
    KeyRequiredError,
    KeyRotationError,
    NotEncryptedError,
    WrongKeyError,
    derive_key,
    key_pragma,
    new_salt,
    open_encrypted,
    verifier,
    wrap,
)
from cinchdb.errors import TenantError
from journal import drivers
from journal._lazy import lazy_module

if TYPE_CHECKING:
    from journal import replay
    from journal.replay import Step
else:  # the DDL runner (and the event models under it): only building a file needs it
    replay = lazy_module("journal.replay")

# The name under which a branch's template is cached; never a tenant's.
TEMPLATE_KEY = "__template"
# Times one file's re-key is tried while another process works on the same rotation.
_REKEY_ATTEMPTS = 5
# Times a sealed file (encrypted, key not at hand) is copied until two reads agree.
_SEALED_COPY_ATTEMPTS = 5


@attrs.frozen
class Rotation:
    """An unfinished rotation as this process can finish it: both raw keys (one derived from
    the passphrase given, the other unwrapped) and the verifier of the new one."""

    old_key: bytes
    new_key: bytes
    new_verifier: str


class TenantKeys:
    """The raw keys of the encrypted tenants unlocked in this process, checked against
    ``registry``'s verifiers. A part of :class:`cinchdb.tenants.TenantFiles`."""

    def __init__(self, registry: TenantRegistry) -> None:
        self.registry = registry
        #: tenant -> raw key (memory only).
        self.keys: dict[str, bytes] = {}
        #: Tenants whose key held here was replaced in another process: WrongKeyError until
        #: they are unlocked again.
        self.stale: set[str] = set()

    def unlock(self, name: str, passphrase: str) -> Rotation | None:
        """Derive and check an encrypted tenant's key; keep the raw key in memory.

        While a rotation is unfinished either passphrase is accepted: the other key is
        unwrapped, and the :class:`Rotation` returned is for the caller to finish (the key
        kept is the new one).

        Raises:
            WrongKeyError: the passphrase is not this tenant's; EncryptionError: the tenant is
                not encrypted.
        """
        crypto = self.registry.crypto(name)
        if crypto is None:
            raise NotEncryptedError(name)
        salt, check = crypto
        pending = self.registry.pending_key(name)
        raw_key = derive_key(passphrase, salt)
        rotation = None
        if verifier(raw_key) == check:
            if pending is not None:
                new_key = wrap(pending.new_under_old, raw_key, pending.salt, b"new")
                rotation = Rotation(raw_key, new_key, pending.verifier)
        elif (
            pending is not None
            and verifier(new_key := derive_key(passphrase, pending.salt)) == pending.verifier
        ):
            old_key = wrap(pending.old_under_new, new_key, pending.salt, b"old")
            rotation = Rotation(old_key, new_key, pending.verifier)
        else:
            raise WrongKeyError(name)
        self.keys[name] = raw_key if rotation is None else rotation.new_key
        self.stale.discard(name)
        return rotation

    def still_valid(self, name: str) -> Rotation | None:
        """Check the key held for ``name`` against the registry as it is now: None while it is
        the tenant's key; the :class:`Rotation` to finish when another process started one.

        Raises:
            WrongKeyError: the tenant was re-keyed elsewhere (the key held is forgotten).
        """
        raw_key = self.keys[name]
        crypto = self.registry.crypto(name)
        if crypto is not None and verifier(raw_key) == crypto[1]:
            pending = self.registry.pending_key(name)
            if pending is None:
                return None
            new_key = wrap(pending.new_under_old, raw_key, pending.salt, b"new")
            return Rotation(raw_key, new_key, pending.verifier)
        pending = self.registry.pending_key(name) if crypto is not None else None
        if pending is not None and verifier(raw_key) == pending.verifier:
            old_key = wrap(pending.old_under_new, raw_key, pending.salt, b"old")
            return Rotation(old_key, raw_key, pending.verifier)
        del self.keys[name]
        self.stale.add(name)
        raise WrongKeyError(name)

    def raw_key(self, name: str) -> bytes | None:
        """The key to open ``name``'s files with; None for a plain tenant (or the template).

        Raises:
            KeyRequiredError: the tenant is encrypted and was not unlocked here;
            WrongKeyError: its key was replaced in another process.
        """
        if name == TEMPLATE_KEY:
            return None
        if name in self.keys:
            return self.keys[name]
        if name in self.stale:
            raise WrongKeyError(name)
        if self.registry.crypto(name) is not None:
            raise KeyRequiredError(name)
        return None

    def locked(self) -> set[str]:
        """Encrypted tenants whose key is not at hand."""
        return self.registry.encrypted_names() - set(self.keys)

    def begin_rotation(self, name: str, old_passphrase: str, new_passphrase: str) -> Rotation:
        """Phase one of a rotation: check the old passphrase and record the new key as pending
        (one transaction) before any file changes. The caller re-keys the files and finishes
        with :meth:`finish_rotation`.

        Raises:
            WrongKeyError; KeyRotationError: a rotation is already unfinished, or
                ``metadata.db`` stayed locked (nothing was changed).
        """
        if self.unlock(name, old_passphrase) is not None:
            raise KeyRotationError(
                name,
                "an earlier rotation is unfinished; finish it first (rotate_tenant_key(...,"
                " resume=True) or `cinch tenant rotate-key --resume`)",
            )
        old_key = self.keys[name]
        salt = new_salt()
        new_key = derive_key(new_passphrase, salt)
        pending = PendingKey(
            salt,
            verifier(new_key),
            wrap(new_key, old_key, salt, b"new"),
            wrap(old_key, new_key, salt, b"old"),
        )
        try:
            recorded = self.registry.begin_rotation(name, verifier(old_key), pending)
        except sqlite3.OperationalError as e:
            raise KeyRotationError(
                name, f"metadata.db is busy ({e}); nothing was changed, try again"
            ) from e
        if not recorded:
            raise KeyRotationError(
                name, "its key changed in another process meanwhile; nothing was changed"
            )
        return Rotation(old_key, new_key, pending.verifier)

    def finish_rotation(self, name: str, rotation: Rotation) -> None:
        """The last phase: make the new key current (one transaction); keep it in memory.

        Raises:
            KeyRotationError: ``metadata.db`` stayed locked; every file is under the new key
                and the rotation is still recorded, so the next open finishes it.
        """
        try:
            self.registry.finish_rotation(name, rotation.new_verifier)
        except sqlite3.OperationalError as e:
            raise KeyRotationError(
                name,
                f"metadata.db is busy ({e}); the files are re-keyed and the rotation finishes"
                " at the next open with either key, or with resume",
            ) from e
        self.keys[name] = rotation.new_key


def rekey_file(path: Path, tenant: str, rotation: Rotation) -> None:
    """Bring one file under ``rotation``'s new key, whichever of the two keys it is under now;
    another process finishing the same rotation may be doing the same.

    A re-key is one write transaction that rewrites every page: in WAL mode all of them go
    into the WAL under the new key and count only once committed, so a crash leaves the file
    wholly under the old key (uncommitted frames are ignored) or wholly under the new one
    (every page is read from the WAL until a checkpoint copies them into the main file).
    """
    factory = drivers.sqlcipher.Connection if drivers.sqlcipher is not None else None
    for _ in range(_REKEY_ATTEMPTS):
        if not path.exists():
            return  # deleted meanwhile (a tenant or branch deletion): nothing to keep
        try:
            conn = open_encrypted(path, rotation.old_key, factory, tenant)
        except WrongKeyError:
            try:
                open_encrypted(path, rotation.new_key, factory, tenant).close()
                return
            except WrongKeyError:
                continue  # between our two opens another process re-keyed or rolled back
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.execute(key_pragma(rotation.new_key, "rekey"))
            # Best effort: a reader in another process may hold the WAL back.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return
        except drivers.DatabaseError:
            continue  # another process re-keyed it under us; look again
        finally:
            conn.close()
    raise WrongKeyError(tenant)


def build_encrypted_file(
    path: Path,
    tenant: str,
    raw_key: bytes,
    steps: Sequence[Step],
    head: str | None,
    *,
    scratch: Path,
) -> None:
    """Build an encrypted tenant's file at ``head`` by running ``steps`` (the branch's history)
    in a new SQLCipher file at ``scratch`` (on the same file system, in the project's scratch
    directory so a crash leaves nothing beside tenant files), linked into place when whole: it
    is encrypted from its first byte (a plain template copy is never made). A file another
    process made first is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = open_tenant_file(scratch, raw_key, tenant)
    try:
        with internal(conn):
            if head is not None:
                replay.apply_steps(conn, steps, before_commit=write_cursor(head))
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


def copy_sealed_file(source: Path, target: Path, *, scratch: Path) -> None:
    """Copy an encrypted file whose key is not at hand, bytes as they are (the copy stays
    under the same key), with its WAL, through ``scratch`` (as in
    :func:`build_encrypted_file`): the copy appears whole or not at all.

    Without the key no SQLite lock can be taken (reading page 1 fails first), so the copy is
    made optimistically: the file and its WAL are read until two rounds agree.

    Raises:
        TenantError: the file kept changing (a writer was busy with it).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    wal = Path(f"{source}-wal")
    try:
        for _ in range(_SEALED_COPY_ATTEMPTS):
            before = _fingerprint(source), _fingerprint(wal)
            # Another handle of this process may hold it open with its key (see _held_files).
            held_files.copy_bytes(source, scratch)
            wal_bytes = wal.read_bytes() if wal.exists() else b""
            if (_fingerprint(source), _fingerprint(wal)) == before:
                break
        else:
            raise TenantError(f"{source} kept changing while it was copied; try again")
        if wal_bytes:
            Path(f"{target}-wal").write_bytes(wal_bytes)
        os.link(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns
