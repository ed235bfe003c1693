"""``cinchdb.__version__``, read from the installed distribution's metadata when first asked
for (importlib.metadata costs a new process ~15 ms, so ``import cinchdb`` does not read it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("cinchdb")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0.0.0"
