"""The one way this project defers an import: start-up time of a command.

A new process that runs ``cinch query`` must not pay for sqlglot, networkx or the merge engine
(about half a second of imports) when it only reads a branch head and runs a SELECT. Two tools,
used only at module top level, so every lazy point is visible in one place per module and is
checked by ``tests/test_tooling.py`` against a fixed list:

- :func:`package_exports`: a package's ``__getattr__`` (PEP 562) over a table of public name ->
  defining module, so ``import journal`` / ``import cinchdb`` costs nothing until a name is
  used. The package imports the same names under ``if TYPE_CHECKING:`` for type checkers.
- :func:`lazy_module`: a stand-in for a heavy module that a light module calls into only on
  some paths (``journal.schema`` renders SQL and canonicalizes it with sqlglot only when asked
  to). The module imports it for real under ``if TYPE_CHECKING:``, so types and the layer
  checks see the true dependency; at run time the import happens on first attribute access.

Neither hides a cycle: the static ``TYPE_CHECKING`` import is the edge the layering test sees.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_module", "package_exports"]


class _LazyModule(ModuleType):
    """Imports ``__name__`` on first attribute access, then serves attributes from it."""

    def __getattr__(self, attribute: str) -> Any:
        # import_module holds the import lock, so two threads racing here get one module.
        value = getattr(importlib.import_module(self.__name__), attribute)
        # Cached on the stand-in, so later lookups are plain dictionary reads.
        setattr(self, attribute, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy_module(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""
    return _LazyModule(name)


class _Package(ModuleType):
    """A package whose exported names win over its same-named submodules.

    ``journal.parse`` is a function defined in the module ``journal.parse``. Importing a
    submodule sets it as an attribute of its package; an eager ``__init__`` imported the
    function afterwards and so replaced it, but a lazy one must refuse the replacement.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        where = self.__dict__.get("_exports", {}).get(name)
        if isinstance(value, ModuleType) and where is not None:
            module_name, _, attribute = where.partition(":")
            if value.__name__ == module_name:  # the import system recording the submodule
                value = getattr(value, attribute or name)
        super().__setattr__(name, value)


def package_exports(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A PEP 562 ``__getattr__`` for ``package``: name -> the module in ``table`` that
    defines it (a module path, or ``module:attribute`` when the names differ).

    Call it from the package's ``__init__``; the package's exported names keep meaning what
    the table says even once a submodule of the same name is imported (:class:`_Package`).
    """
    module = sys.modules[package]
    module.__class__ = _Package
    module.__dict__["_exports"] = table

    def __getattr__(name: str) -> Any:
        try:
            where = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module_name, _, attribute = where.partition(":")
        value = getattr(importlib.import_module(module_name), attribute or name)
        # Kept in the package, so the next lookup does not come back here.
        setattr(module, name, value)
        return value

    return __getattr__
