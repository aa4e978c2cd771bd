"""Syntax colouring of Python source for a terminal, with ANSI escapes and ``tokenize``.

Small on purpose: keywords, builtins, the names being defined, strings, numbers and
comments get a colour; everything else is left as it is. Source that does not tokenize is
returned unchanged.
"""
from __future__ import annotations

import builtins
import io
import keyword
import os
import tokenize
from typing import TextIO

RESET = "\x1b[0m"
STYLES = {
    "keyword": "\x1b[35m",       # magenta
    "builtin": "\x1b[36m",       # cyan
    "definition": "\x1b[1;34m",  # bold blue: the name after def / class
    "string": "\x1b[32m",        # green
    "number": "\x1b[33m",        # yellow
    "comment": "\x1b[90m",       # grey: the generated code's comments are the user's lines
    "pass": "\x1b[1;32m",        # bold green
    "fail": "\x1b[1;31m",        # bold red
}
_STRING_TOKENS = {"STRING", "FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"}
_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))


def use_colour(choice: str, stream: TextIO) -> bool:
    """Whether to colour output for ``--color auto|always|never``.

    ``auto`` colours only a terminal, and not when ``NO_COLOR`` is set (https://no-color.org)
    or ``TERM=dumb``; an explicit ``always`` or ``never`` wins over both.

    >>> use_colour("always", io.StringIO()), use_colour("auto", io.StringIO())
    (True, False)
    """
    if choice != "auto":
        return choice == "always"
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty() and not os.environ.get("NO_COLOR")
                and os.environ.get("TERM") != "dumb")


def paint(text: str, style: str) -> str:
    """``text`` in one of the ``STYLES``, reset at the end of every line (so a pager that
    shows part of a long token still resets the colour).

    >>> paint("x\\ny", "number") == "\\x1b[33mx\\x1b[0m\\n\\x1b[33my\\x1b[0m"
    True
    """
    return "\n".join(f"{STYLES[style]}{part}{RESET}" if part else part
                     for part in text.split("\n"))


def _style(token: tokenize.TokenInfo, previous: tokenize.TokenInfo | None) -> str | None:
    kind = tokenize.tok_name[token.type]
    if kind == "COMMENT":
        return "comment"
    if kind in _STRING_TOKENS:
        return "string"
    if kind == "NUMBER":
        return "number"
    if kind != "NAME":
        return None
    if previous is not None and previous.string in ("def", "class"):
        return "definition"
    if keyword.iskeyword(token.string):
        return "keyword"
    # an attribute such as np.sum is the module's, not the builtin
    if token.string in _BUILTINS and (previous is None or previous.string != "."):
        return "builtin"
    return None


def highlight(source: str) -> str:
    """``source`` with ANSI colours; unchanged when it does not tokenize.

    >>> highlight("x = 1  # one") == "x = " + paint("1", "number") + "  " + paint("# one",
    ...                                                                          "comment")
    True
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    line_starts = [0]  # the offset of each line, split as tokenize's readline splits them
    for line in source.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    pieces, done, previous = [], 0, None
    for token in tokens:
        style = _style(token, previous)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            previous = token
        if style is None:
            continue
        start = line_starts[token.start[0] - 1] + token.start[1]
        end = line_starts[token.end[0] - 1] + token.end[1]
        pieces += [source[done:start], paint(source[start:end], style)]
        done = end
    pieces.append(source[done:])
    return "".join(pieces)
