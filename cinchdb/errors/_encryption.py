"""The ``EncryptionError`` subtree: encrypted tenants' keys."""

from __future__ import annotations

from journal.errors import CinchError


class EncryptionError(CinchError):
    """Root of encryption errors: a tenant key is unusable or SQLCipher is missing. Messages
    never contain a key or passphrase."""


class WrongKeyError(EncryptionError, ValueError):
    """The key given does not open the encrypted tenant."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(f"Wrong encryption key for tenant '{tenant}'")


class NotEncryptedError(EncryptionError, ValueError):
    """A key was given for a tenant that is not encrypted."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(f"Tenant '{tenant}' is not encrypted; it takes no key")


class KeyRequiredError(EncryptionError, ValueError):
    """The tenant is encrypted and no key was given."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(
            f"Tenant '{tenant}' is encrypted: give its key (encryption_key=, --key or"
            " CINCHDB_ENCRYPTION_KEY)"
        )


class KeyRotationError(EncryptionError):
    """A key rotation could not go on: ``metadata.db`` stayed locked, another rotation of the
    tenant is unfinished, or there is none to resume. Says whether anything changed and how to
    finish; never names a key."""

    def __init__(self, tenant: str, reason: str) -> None:
        self.tenant = tenant
        self.reason = reason
        super().__init__(f"Key rotation of tenant '{tenant}': {reason}")
