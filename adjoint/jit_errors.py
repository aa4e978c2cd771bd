"""JitError: a Numba failure traced back to the user's file:line.

Numba reports errors in the generated text; these functions find the generated line (from
the traceback or from the message), then the user's statement it came from (the comment
above it quotes it), and under hvp through one more generated layer (``origin_line``).
"""
from __future__ import annotations

import os
import re

from . import compile as compile_
from .errors import JitError, Location
from .reverse import AdjointModule


def _user_location(module: AdjointModule) -> Location | None:
    """The user's def line of the function the module differentiates (for hvp, of the
    function whose generated adjoint it differentiates)."""
    src = module.main.source
    src = getattr(src.fn, compile_.ORIGIN, None) or src
    return src.where(src.tree)


def origin_line(src, where: Location) -> Location:
    """``where``, a line of ``src``; when ``src`` is generated adjoint code differentiated
    again (hvp, hessian), the user's line that generated line comes from: the line it
    reads like, else the one the comment above it quotes, else the user's def line."""
    origin = getattr(src.fn, compile_.ORIGIN, None)
    if origin is None or not compile_.is_generated(src.filename):
        return where
    lines = src.file_lines
    row = lines[where.line - 1].strip() if 0 < where.line <= len(lines) else ""
    statement = None
    for k in range(min(where.line, len(lines)) - 1, -1, -1):
        text = lines[k].strip()
        if text.startswith("# "):
            statement = text[2:]
            break
        if text.startswith("def "):
            break
    return user_line(origin, row, statement)


def traceback_frames(exc: BaseException) -> list:
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def lowering_line(frames: list, path: str) -> int | None:
    """The line of the generated file Numba was lowering when it failed, if it was."""
    line = None
    for frame in frames:
        loc = getattr(frame.f_locals.get("self"), "loc", None)
        if getattr(loc, "filename", None) == path and isinstance(loc.line, int):
            line = loc.line
    return line


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jit_error(message: str, text: str, path: str, module: AdjointModule) -> JitError:
    """A JitError naming the generated line Numba rejected and the user's statement."""
    message = _ANSI.sub("", message)
    base = os.path.basename(path)
    lines = [int(m.group(2)) for m in re.finditer(
        r'(?:File "([^"]+)", line (\d+))', message) if os.path.basename(m.group(1)) == base]
    lines += [int(m.group(2)) for m in re.finditer(r"at (\S+) \((\d+)\)", message)
              if os.path.basename(m.group(1)) == base]
    ours = re.search(r"adjoint: ([^\n]*)", message)
    reason = ours.group(1) if ours else numba_reason(message)
    if not lines:
        suspect = suspect_line(text)
        if suspect is not None:
            return located_error(suspect, reason, text, path, module)
        return JitError(f"Numba cannot compile the generated {module.main.name} in nopython "
                        f"mode: {reason}", _user_location(module),
                        "use jit=False to run the generated code as plain Python")
    return located_error(lines[0], reason, text, path, module)


def numba_reason(message: str) -> str:
    """The first informative line of a Numba error, with the signature it could not match."""
    rows = [r.strip() for r in message.splitlines() if r.strip()]
    rows = [r for r in rows if not r.startswith(("Failed in", "During", "File", "raised from"))]
    if not rows:
        return "a Numba compile error"
    reason = rows[0]
    if len(rows) > 1 and rows[1].startswith(">>>"):
        reason += " " + rows[1][3:].strip()
    return reason


def located_error(line: int, reason: str, text: str, path: str,
                  module: AdjointModule) -> JitError:
    generated = text.splitlines()
    construct = generated[line - 1].strip() if 0 < line <= len(generated) else "?"
    statement, fn_name = None, None
    for k in range(line - 1, -1, -1):
        stripped = generated[k].strip()
        if statement is None and stripped.startswith("# "):
            statement = stripped[2:]
        if stripped.startswith("def "):
            fn_name = stripped[4:].split("(")[0]
            break
    fn = next((f for f in module.functions if f.name == fn_name), module.main)
    where = origin_line(fn.source, user_line(fn.source, construct, statement))
    return JitError(
        f"Numba cannot compile `{construct}` (line {line} of the generated {fn_name} in "
        f"{path}) in nopython mode: {reason}", where,
        "use jit=False to run the generated code as plain Python")


def user_line(src, construct: str, statement: str | None) -> Location:
    """The user's line a generated line comes from: the line that reads exactly like it
    (statements the transform kept as they were), else the one the comment above it quotes,
    else the def line."""
    first, last = src.tree.lineno, getattr(src.tree, "end_lineno", None) or src.tree.lineno
    rows = [(n, src.file_lines[n - 1]) for n in range(first, min(last, len(src.file_lines)) + 1)]
    tests = [lambda r: r == construct]
    if statement:
        tests.append(lambda r: r in statement or statement in r)
    for test in tests:
        for n, row in rows:
            if row.strip() and test(row.strip()):
                return Location(src.filename, n, len(row) - len(row.lstrip()), row)
    return src.where(src.tree)


# Constructs Numba rejects without saying where (it fails inside one of its own passes):
# when its message names no line, the first of these in the generated text is the suspect.
SUSPECTS = (r"\bisinstance\(", r"\bhasattr\(", r"\bgetattr\(", r"\btype\(", r"\bcallable\(")


def suspect_line(text: str) -> int | None:
    for pattern in SUSPECTS:
        for number, row in enumerate(text.splitlines(), 1):
            if not row.lstrip().startswith("#") and re.search(pattern, row):
                return number
    return None
