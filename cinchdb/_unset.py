"""The "not given" marker, for arguments where None is a meaningful value (a NULL default, a
branch with no events)."""

from __future__ import annotations

from typing import Final


class Unset:
    """The type of :data:`UNSET`; there is one instance."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()
