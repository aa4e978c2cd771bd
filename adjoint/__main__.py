"""The command line: ``python -m adjoint demo`` and ``python -m adjoint show FILE:FUNC``.

Bad input ends with a one-line message on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .errors import AdjointError

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


def parse_wrt(text: str | None) -> int | str | tuple[int | str, ...]:
    """``"0"`` -> 0, ``"W1"`` -> "W1", ``"0,2"`` -> (0, 2), ``"W1,b1"`` -> ("W1", "b1").

    >>> parse_wrt("0,2"), parse_wrt("W1"), parse_wrt(None)
    ((0, 2), 'W1', 0)
    """
    if text is None:
        return 0
    items: list[int | str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise InputError(f"--wrt {text!r} has an empty entry; write --wrt 0,1 or --wrt W1,b1")
        try:
            items.append(int(item))
        except ValueError:
            if not item.isidentifier():
                raise InputError(f"--wrt entry {item!r} is neither an index nor a parameter "
                                 "name") from None
            items.append(item)
    return items[0] if len(items) == 1 else tuple(items)


def load_function(target: str) -> Callable:
    """The function named by ``path/to/file.py:func`` (or ``package.module:func``)."""
    location, sep, name = target.rpartition(":")
    if not sep or not location or not name:
        raise InputError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(location)
    if path.suffix == ".py" or path.exists() or "/" in location or "\\" in location:
        module = _import_file(path)
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as exc:
            raise InputError(f"cannot import module {location!r}: {exc}") from None
    fn = module
    for part in name.split("."):
        if not hasattr(fn, part):
            raise InputError(f"{location} has no function named {name!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise InputError(f"{location}:{name} is a {type(fn).__name__}, not a function")
    return fn


def _import_file(path: Path):
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    resolved = path.resolve()
    module_name = f"_adjoint_cli_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(resolved.parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InputError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(resolved.parent))
    return module


def command_demo(args: argparse.Namespace) -> int:
    from . import demo

    if args.list:
        for example in demo.EXAMPLES:
            print(f"{example.name:<10} {example.title}")
        return 0
    unknown = [n for n in args.examples if n not in demo.BY_NAME]
    if unknown:
        raise InputError(f"no example named {unknown[0]!r}; choose among "
                         f"{', '.join(demo.BY_NAME)}")
    return 0 if demo.run(args.examples) else 1


def command_show(args: argparse.Namespace) -> int:
    from .api import grad

    fn = load_function(args.target)
    print(grad(fn, wrt=parse_wrt(args.wrt)).source, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m adjoint",
        description="Readable source-transforming reverse-mode automatic differentiation.")
    parser.add_argument("--version", action="version", version=f"adjoint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo", help="run the worked examples of the background notes",
        description="For each worked example print the function, its generated adjoint, "
                    "the gradient (checked against the exact numbers of the notes or their "
                    "hand-written backward code) and a finite-difference check.")
    demo.add_argument("examples", nargs="*", metavar="EXAMPLE",
                      help="examples to run (default: all; see --list)")
    demo.add_argument("--list", action="store_true", help="list the examples and exit")
    demo.set_defaults(run=command_demo)

    show = commands.add_parser(
        "show", help="print the generated adjoint source of a function",
        description="Print grad(FUNC, wrt=...).source for a function defined in a file.",
        epilog="examples:\n  python -m adjoint show model.py:loss\n"
               "  python -m adjoint show model.py:loss --wrt 0,1\n"
               "  python -m adjoint show model.py:loss --wrt W1,b1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("target", metavar="FILE.py:FUNC",
                      help="the file (or importable module) and the function's name")
    show.add_argument("--wrt", metavar="ARGS",
                      help="comma-separated parameter indices or names (default: 0)")
    show.set_defaults(run=command_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (InputError, AdjointError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
