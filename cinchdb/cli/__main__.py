"""``python -m cinchdb.cli`` runs ``cinch``."""

from __future__ import annotations

from cinchdb.cli import main

main()
