"""Key rotation of an encrypted tenant across its files, and the checks of a held key.

A part of :class:`cinchdb.tenants.TenantFiles`, which delegates to it. The keys and the
rotation's records are :class:`~cinchdb._tenant_crypto.TenantKeys`' (rows in metadata.db);
this part drives the protocol over the tenant's files on every branch: record the new key as
pending, re-key each file, make the new key current. A crash or a locked metadata.db can stop
it anywhere without losing a file, and opening the tenant with either key finishes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cinchdb._tenant_crypto import Rotation, TenantKeys, rekey_file
from cinchdb._tenant_registry import TenantRegistry
from cinchdb.crypto import WrongKeyError
from cinchdb.errors import KeyRotationError

__all__ = ["TenantRotation"]


class _Files(Protocol):
    """What :class:`TenantRotation` uses of the :class:`~cinchdb.tenants.TenantFiles` owning
    it."""

    registry: TenantRegistry
    encryption: TenantKeys

    def path(self, branch: str, tenant: str) -> Path: ...
    def _branches(self) -> list[str]: ...
    def _close(self, branch: str, name: str) -> bool: ...


class TenantRotation:
    """Unlocking, rotating and re-checking the keys of the encrypted tenants of a
    :class:`~cinchdb.tenants.TenantFiles`, closing its cached connections of a file before
    the file is re-keyed."""

    def __init__(self, files: _Files) -> None:
        self._files = files

    def unlock(self, name: str, passphrase: str) -> None:
        """Check and keep an encrypted tenant's key; an unfinished rotation of the tenant (a
        crash or a locked metadata.db interrupted it) is finished here, with either key."""
        rotation = self._files.encryption.unlock(name, passphrase)
        if rotation is not None:
            self._finish(name, rotation)

    def rotate(
        self,
        name: str,
        old_passphrase: str | None,
        new_passphrase: str | None,
        *,
        resume: bool = False,
    ) -> None:
        """Re-key every file of an encrypted tenant, in three steps that a crash or a locked
        metadata.db can interrupt anywhere without losing a file:

        1. record the new key as pending (salt, verifier, and the two keys each wrapped under
           the other) in one transaction, before any file changes;
        2. re-key each file of the tenant on every branch (each one all or nothing);
        3. make the new key current and forget the wrapped ones, in one transaction.

        Until step 3, opening the tenant with either passphrase finishes the rotation (see
        :meth:`unlock`). ``resume`` finishes an unfinished rotation with whichever key is
        given; when none was recorded it rotates now if both keys are given and the old one
        is current, and does nothing if the new one is already current.

        Raises:
            WrongKeyError; KeyRotationError: metadata.db stayed locked (the message says
                whether anything changed), or an unfinished rotation blocks a new one.
        """
        if resume:
            self._resume(name, old_passphrase, new_passphrase)
            return
        if old_passphrase is None or new_passphrase is None:
            raise KeyRotationError(name, "give both the old and the new key")
        rotation = self._files.encryption.begin_rotation(name, old_passphrase, new_passphrase)
        self._finish(name, rotation)

    def _resume(self, name: str, old: str | None, new: str | None) -> None:
        given = [key for key in (new, old) if key is not None]
        if not given:
            raise KeyRotationError(name, "give the old or the new key to resume")
        if self._files.registry.pending_key(name) is not None:
            self.unlock(name, given[0])  # either key finishes it
            return
        if new is not None:
            try:
                self._files.encryption.unlock(name, new)
                return  # already done: the new key is the tenant's
            except WrongKeyError:
                if old is None:
                    raise
        assert old is not None
        if new is not None:
            self.rotate(name, old, new)  # never recorded: rotate now
            return
        self._files.encryption.unlock(name, old)  # WrongKeyError unless it is still the key
        raise KeyRotationError(
            name, "nothing to resume: no rotation was recorded and this key is still current"
        )

    def _tenant_paths(self, name: str) -> list[Path]:
        """The files of tenant ``name`` on every branch, their cached connections closed."""
        paths = []
        for branch in self._files._branches():
            self._files._close(branch, name)
            if self._files.path(branch, name).exists():
                paths.append(self._files.path(branch, name))
        return paths

    def _finish(self, name: str, rotation: Rotation) -> None:
        """Steps 2 and 3 of :meth:`rotate`. The files are swept again after the swap:
        a handle that unlocked before step 1 may have made a file under the old key."""
        for path in self._tenant_paths(name):
            rekey_file(path, name, rotation)
        self._files.encryption.finish_rotation(name, rotation)
        for path in self._tenant_paths(name):
            rekey_file(path, name, rotation)

    def check_key(self, name: str) -> None:
        """Before using a held key after metadata.db changed: finish a rotation another
        process left unfinished; a key that is no longer the tenant's raises WrongKeyError
        (and its cached connections close), instead of SQLCipher's "not a database"."""
        try:
            rotation = self._files.encryption.still_valid(name)
        except WrongKeyError:
            for branch in self._files._branches():
                self._files._close(branch, name)
            raise
        if rotation is not None:
            self._finish(name, rotation)
