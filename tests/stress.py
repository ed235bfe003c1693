"""Bounds for stress and crash loops.

CI runs every loop with its small count; ``CINCHDB_STRESS=1`` runs the full count that an
issue asks for (run by hand, figures in the issue note). A loop that is only worth running in
full is also marked ``@pytest.mark.slow`` so ``-m 'not slow'`` can leave it out.
"""

from __future__ import annotations

import os

FULL = os.environ.get("CINCHDB_STRESS") == "1"


def iterations(ci: int, full: int) -> int:
    """``full`` under CINCHDB_STRESS=1, else ``ci``."""
    return full if FULL else ci
