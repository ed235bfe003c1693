"""Errors of code generation (``cinch codegen``)."""

from __future__ import annotations

from collections.abc import Sequence

from journal.errors import CinchError


class CodegenCompileError(CinchError):
    """Generated code would not compile (a bug in the generator): nothing was written, and
    ``codegen check`` does not call such code up to date."""

    def __init__(self, language: str, problems: Sequence[str]) -> None:
        self.language = language
        self.problems = tuple(problems)
        super().__init__(f"Generated {language} code does not compile: {'; '.join(self.problems)}")


class CodegenWriteError(CinchError, OSError):
    """Generated code could not be written to its directory (missing, a file, no permission)."""

    def __init__(self, directory: str, reason: str) -> None:
        self.directory = directory
        self.reason = reason
        super().__init__(f"Cannot write generated code to {directory}: {reason}")


class UnknownLanguageError(CinchError, ValueError, LookupError):
    """Code generation was asked for a language it does not produce."""

    def __init__(self, language: str, supported: Sequence[str]) -> None:
        self.language = language
        self.supported = tuple(supported)
        super().__init__(
            f"Unknown language {language!r}; supported: {', '.join(sorted(self.supported))}"
        )
