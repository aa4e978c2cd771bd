"""The command line: ``python -m adjoint demo``, ``show FILE:FUNC`` and ``check FILE:FUNC``.

Bad input ends with a one-line message on stderr and exit status 2; ``check`` exits with 1
when the adjoint disagrees with finite differences.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__
from .cli_inputs import (
    RANDOM_SPEC_HELP,
    InputError,
    bind_arguments,
    describe_value,
    load_function,
    parse_args_literal,
    parse_wrt,
    random_arguments,
    read_inputs_file,
)
from .errors import AdjointError
from .highlight import highlight, paint, use_colour

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2


# -- check: the adjoint against central differences -----------------------------------------


@dataclass
class ArgumentCheck:
    """How far the adjoint is from central differences along one argument."""

    name: str
    abs_error: float  # max |adjoint - differences|
    rel_error: float  # check_grad's measure: abs_error / max(|adjoint|, |differences|, 1)

    def passed(self, tol: float) -> bool:
        return self.rel_error <= tol  # False for NaN, as it should be


class AdjointCrash(Exception):
    """The generated adjoint raised where the function itself runs: a failed check."""


def _as_float(value: Any, name: str) -> Any:
    try:
        return np.array(value, dtype=np.float64) if np.ndim(value) else float(value)
    except (TypeError, ValueError):
        raise InputError(f"cannot differentiate with respect to {name!r}: "
                         f"{value!r:.20} is not a number or a numeric array") from None


def compare_with_differences(fn: Callable, bound: inspect.BoundArguments,
                             wrt: tuple[str, ...], *, jit: bool,
                             eps: float) -> list[ArgumentCheck]:
    """check_grad's comparison (see adjoint/check.py), reported argument by argument and
    with the adjoint built with or without ``jit``."""
    from .api import grad
    from .check import numeric_gradient, relative_error

    names = list(bound.signature.parameters)
    args, kwargs = list(bound.args), dict(bound.kwargs)
    for name in wrt:  # differentiate in float64, as check_grad does
        args[names.index(name)] = _as_float(args[names.index(name)], name)
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        raise InputError(f"{fn.__name__} raised {type(exc).__name__} on these inputs: "
                         f"{exc}") from None
    try:
        adjoint = grad(fn, wrt=wrt, jit=jit)(*args, **kwargs)
    except AdjointError:
        raise
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise AdjointCrash(f"{type(exc).__name__}: {first_line}") from exc
    checks = []
    for name, g in zip(wrt, adjoint):
        try:
            differences = numeric_gradient(fn, args, names.index(name), kwargs, eps)
        except Exception as exc:
            raise InputError(f"{fn.__name__} raised {type(exc).__name__} within eps={eps:g} "
                             f"of these inputs: {exc}") from None
        error = float(np.max(np.abs(np.asarray(g, dtype=np.float64) - differences), initial=0))
        checks.append(ArgumentCheck(name, error, relative_error(g, differences)))
    return checks


def _given_arguments(args: argparse.Namespace) -> list | dict:
    if args.inputs is not None:
        return read_inputs_file(args.inputs)
    if args.random is not None:
        return random_arguments(args.random, args.seed)
    return parse_args_literal(args.args)


def command_check(args: argparse.Namespace) -> int:
    from .api import resolve_wrt

    fn = load_function(args.target)
    bound = bind_arguments(fn, _given_arguments(args))
    wrt, _ = resolve_wrt(fn, parse_wrt(args.wrt))
    colour = use_colour(args.color, sys.stdout)
    fail = paint("FAIL", "fail") if colour else "FAIL"
    point = ", ".join(f"{n} {describe_value(v)}" if isinstance(v, np.ndarray) else
                      f"{n} = {describe_value(v)}" for n, v in bound.arguments.items())
    header = f"check {fn.__name__} at {point}" + (" with jit=True" if args.jit else "")
    try:
        checks = compare_with_differences(fn, bound, wrt, jit=args.jit, eps=args.eps)
    except AdjointCrash as exc:
        print(f"{header}\n{fail}: the adjoint of {fn.__name__} raised {exc} where "
              f"{fn.__name__} itself runs")
        return EXIT_MISMATCH
    print(header)
    width = max(len("argument"), *(len(c.name) for c in checks))
    print(f"{'argument':<{width}}  {'max abs error':>13}  {'max rel error':>13}")
    for c in checks:
        verdict = "ok" if c.passed(args.tol) else "MISMATCH"
        print(f"{c.name:<{width}}  {c.abs_error:>13.2e}  {c.rel_error:>13.2e}  {verdict}")
    failed = [c.name for c in checks if not c.passed(args.tol)]
    tolerance = f"(tolerance {args.tol:g} on the relative error)"
    if failed:
        print(f"{fail}: the adjoint of {fn.__name__} disagrees with central differences "
              f"for {', '.join(failed)} {tolerance}")
        return EXIT_MISMATCH
    passed = paint("PASS", "pass") if colour else "PASS"
    print(f"{passed}: the adjoint of {fn.__name__} agrees with central differences {tolerance}")
    return EXIT_OK


# -- demo and show ----------------------------------------------------------------------------


def command_demo(args: argparse.Namespace) -> int:
    from . import demo

    if args.list:
        for example in demo.EXAMPLES:
            print(f"{example.name:<10} {example.title}")
        return EXIT_OK
    unknown = [n for n in args.examples if n not in demo.BY_NAME]
    if unknown:
        raise InputError(f"no example named {unknown[0]!r}; choose among "
                         f"{', '.join(demo.BY_NAME)}")
    return EXIT_OK if demo.run(args.examples) else EXIT_MISMATCH


def command_show(args: argparse.Namespace) -> int:
    from .api import grad
    from .transforms import jvp

    fn = load_function(args.target)
    transform = jvp if args.mode == "fwd" else grad
    source = transform(fn, wrt=parse_wrt(args.wrt), jit=args.jit).source
    print(highlight(source) if use_colour(args.color, sys.stdout) else source, end="")
    return EXIT_OK


# -- the parser -------------------------------------------------------------------------------


# loss(W1, b1, x) as in the README: a 2x2 matrix and two vectors
EXAMPLE_ARGS = "[[[1.0, 2.0], [3.0, 4.0]], [0.5, -0.5], [1.0, -1.0]]"


def _subcommand(commands, name: str, help_text: str, description: str,
                examples: list[str]) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  python -m adjoint {e}" for e in examples)
    # the raw formatter keeps the examples' lines; wrap the description's paragraphs here
    description = "\n\n".join(textwrap.fill(p, 88) for p in description.split("\n\n"))
    return commands.add_parser(name, help=help_text, description=description, epilog=epilog,
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_function_options(parser: argparse.ArgumentParser) -> None:
    """The options ``show`` and ``check`` share: which function, wrt, jit and colour."""
    parser.add_argument("target", metavar="FILE.py:FUNC",
                        help="the file (or importable module) and the function's name")
    parser.add_argument("--wrt", metavar="ARGS",
                        help="comma-separated parameter indices or names (default: 0)")
    parser.add_argument("--jit", action="store_true",
                        help="build the adjoint with jit=True (compiled by Numba)")
    parser.add_argument("--color", "--colour", choices=("auto", "always", "never"),
                        default="auto",
                        help="colour the output: auto (default) colours a terminal unless "
                             "NO_COLOR is set")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m adjoint",
        description="Readable source-transforming reverse-mode automatic differentiation.",
        epilog="examples:\n  python -m adjoint demo\n"
               "  python -m adjoint show model.py:loss --wrt W1,b1\n"
               f"  python -m adjoint check model.py:loss --args \"{EXAMPLE_ARGS}\"\n"
               "run python -m adjoint COMMAND --help for each command's options",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"adjoint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = _subcommand(
        commands, "demo", "run the worked examples of the background notes",
        "For each worked example print the function, its generated adjoint, the gradient "
        "(checked against the exact numbers of the notes or their hand-written backward "
        "code) and a finite-difference check.",
        ["demo", "demo linear svm", "demo --list"])
    demo.add_argument("examples", nargs="*", metavar="EXAMPLE",
                      help="examples to run (default: all; see --list)")
    demo.add_argument("--list", action="store_true", help="list the examples and exit")
    demo.set_defaults(run=command_demo)

    show = _subcommand(
        commands, "show", "print the generated adjoint source of a function",
        "Print grad(FUNC, wrt=...).source (reverse mode: the adjoint) or, with --mode fwd, "
        "jvp(FUNC, wrt=...).source (forward mode: the tangent function) for a function "
        "defined in a file, syntax-coloured on a terminal.",
        ["show model.py:loss", "show model.py:loss --wrt 0,1",
         "show model.py:loss --wrt W1,b1 --jit", "show model.py:loss --mode fwd",
         "show model.py:loss --color never | less"])
    _add_function_options(show)
    show.add_argument("--mode", choices=("rev", "fwd"), default="rev",
                      help="rev (default): the adjoint; fwd: the forward-mode tangent function")
    show.set_defaults(run=command_show)

    check = _subcommand(
        commands, "check", "compare a function's adjoint with finite differences",
        "Run the adjoint of FUNC on the given arguments and compare it with central finite "
        "differences (as adjoint.check_grad does), argument by argument. Exit status: 0 when "
        "they agree, 1 when they do not, 2 on bad input.\n\n"
        "--args takes a Python literal (read with ast.literal_eval, never run): a list of "
        "the arguments, or a dict from parameter names to values. Lists of numbers become "
        "NumPy arrays (float64; int64 when every entry is an integer, e.g. labels), "
        "booleans boolean arrays; numbers, strings, tuples and None are passed as they are. "
        "--inputs reads the same from a JSON file. --random draws standard normal arrays of "
        "the given shapes (3x4, 5), floats for 'scalar', and passes int:N (or iN) as the "
        "integer N, for parameters such as step counts or indices.",
        [f"check model.py:loss --args \"{EXAMPLE_ARGS}\"",
         "check model.py:loss --args \"{'W1': [[1.0, 2.0]], 'b1': [0.5], 'x': [3.0, 4.0]}\" "
         "--wrt W1,b1",
         "check model.py:loss --inputs point.json --wrt 0,1 --jit",
         "check model.py:loss --random \"3x2,3,2\" --wrt W1,b1 --seed 1",
         "check ode.py:simulate --random \"scalar,scalar,int:100\" --wrt 0,1"])
    _add_function_options(check)
    given = check.add_mutually_exclusive_group(required=True)
    given.add_argument("--args", metavar="LITERAL",
                       help="the arguments as a Python list (or dict by name)")
    given.add_argument("--inputs", metavar="FILE.json",
                       help="the arguments as a JSON list (or object by name)")
    given.add_argument("--random", metavar="SHAPES",
                       help="random arguments: " + RANDOM_SPEC_HELP + "; e.g. "
                            "\"3x4,5,scalar,int:10\"")
    check.add_argument("--seed", type=int, default=0, help="the seed for --random (default 0)")
    check.add_argument("--tol", type=float, default=1e-5,
                       help="largest relative error that passes (default 1e-5)")
    check.add_argument("--eps", type=float, default=1e-6,
                       help="relative step of the central differences (default 1e-6)")
    check.set_defaults(run=command_check)
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
