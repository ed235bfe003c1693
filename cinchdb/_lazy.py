"""The project's one lazy-import mechanism (:mod:`journal._lazy`), for the CLI, which never
imports ``journal`` itself: ``cinchdb.cli._render`` loads rich only when it draws."""

from __future__ import annotations

from journal._lazy import lazy_module

__all__ = ["lazy_module"]
