"""Errors raised to users. Every one names file:line, the construct, and what to do instead."""
from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in the user's source a construct lives (1-based line, 0-based column)."""

    filename: str
    line: int
    col: int = 0
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col + 1}"


class AdjointError(Exception):
    """Base class of every error adjoint raises on purpose.

    The message reads like a compiler's: ``file:line:col: what went wrong; what to do``,
    followed by the offending source line and a caret under the construct.
    """

    def __init__(self, message: str, location: Location | None = None, hint: str = ""):
        self.bare_message = message
        self.location = location
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        text = self.bare_message
        if self.hint:
            text = f"{text}; {self.hint}"
        if self.location is None:
            return text
        text = f"{self.location}: {text}"
        src = self.location.source_line.rstrip()
        if src:
            stripped = src.lstrip()
            caret_col = max(self.location.col - (len(src) - len(stripped)), 0)
            text += f"\n    {stripped}\n    {' ' * caret_col}^"
        return text


class UnsupportedSyntaxError(AdjointError):
    """The function uses Python that adjoint cannot differentiate."""


class MissingRuleError(AdjointError):
    """A call to a function that has no derivative rule and no source to differentiate."""


class NonScalarOutputError(AdjointError):
    """``grad`` was asked for the gradient of a function whose output is not a scalar."""


class GradientCheckError(AdjointError):
    """``check_grad`` found the adjoint and finite differences disagree past the tolerance."""


class NoSourceError(AdjointError):
    """The function's source cannot be retrieved (builtins, REPL lambdas, exec-made code)."""


class ArgumentError(AdjointError):
    """``wrt`` or the call's arguments do not fit the function."""


def node_location(node: ast.AST, filename: str, lines: list[str]) -> Location:
    """The location of an AST node whose line numbers are already the file's line numbers."""
    line = getattr(node, "lineno", 0) or 0
    col = getattr(node, "col_offset", 0) or 0
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return Location(filename, line, col, text)


class JitError(AdjointError):
    """``jit=True`` was asked for, but Numba cannot compile a construct in nopython mode."""


class JitWarning(UserWarning):
    """jit="background": Numba cannot compile the generated code for these arguments, so
    their calls run it as Python (the message is the JitError jit=True would raise)."""


class SourceChangedError(NoSourceError):
    """The function's file was edited after it was imported: its text is not the code that
    runs, so there is no source to differentiate."""


class CacheWarning(UserWarning):
    """The disk cache could not be used (unwritable, full, unsafe or corrupt): builds are
    kept in memory for this process. Issued once per process."""
