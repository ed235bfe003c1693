"""The canonical JSON text of journal records and their content ids.

Kept apart from the event models so that code which only names or checks records (the text
history's fingerprint on every open) does not load pydantic.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "content_id"]


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_id(body_text: str) -> str:
    """The id of a record: the sha256 of its canonical text."""
    return hashlib.sha256(body_text.encode()).hexdigest()
