"""The worked examples of background.md: generated adjoints next to the notes' own.

Run it with ``python examples/worked_examples.py``. For the examples whose backward code
the notes write out by hand (§3: the sigmoid chain, the two-layer net, the multiclass SVM
loss) it prints the code ``grad`` generates beside the hand-written code and checks that
both give the same gradient. For the examples the notes work out in numbers (§2: the gates
x + y * z, §4: ReLU, §5: a linear network) it prints the generated code beside those
numbers and checks them. Finite differences must agree as well.

The functions are the ones ``python -m adjoint demo`` runs, from ``adjoint/demo.py``.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np

from adjoint.demo import EXAMPLES, Outcome, differentiate


def function_text(source: str, name: str) -> list[str]:
    """The lines of the function ``name`` in a module's source, without comment lines."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    body = [lines[start]]
    for line in lines[start + 1:]:
        if line and not line.startswith((" ", "\t")):
            break
        body.append(line)
    while body and not body[-1].strip():
        body.pop()
    return [line for line in body if not line.strip().startswith("#")]


def code_lines(fn) -> list[str]:
    """The source of ``fn`` without its docstring and comment lines."""
    source = textwrap.dedent(inspect.getsource(fn))
    first = ast.parse(source).body[0].body[0]
    skip = set()
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        skip = set(range(first.lineno - 1, first.end_lineno))
    return [line for i, line in enumerate(source.rstrip().splitlines())
            if i not in skip and not line.strip().startswith("#")]


def line_key(line: str) -> str | None:
    """What a line defines: the name it assigns, or ``def``/``return``."""
    text = line.strip()
    if text.startswith(("def ", "return")):
        return text.split()[0]
    return text.split(" = ")[0] if " = " in text else None


def aligned(left: list[str], right: list[str]) -> list[tuple[str, str]]:
    """Rows pairing the lines of both sides that assign the same name (the generated code
    reads copies such as ``dc = dd`` through, so it may have fewer lines)."""
    rows, j = [], 0
    for a in left:
        key = line_key(a)
        match = next((m for m in range(j, len(right)) if key and line_key(right[m]) == key),
                     None)
        if match is None:
            rows.append((a, ""))
            continue
        rows += [("", b) for b in right[j:match]] + [(a, right[match])]
        j = match + 1
    return rows + [("", b) for b in right[j:]]


def side_by_side(left: list[str], right: list[str], titles: tuple[str, str]) -> str:
    width = max(len(line) for line in [*left, titles[0]]) + 4
    rows = [f"{titles[0]:<{width}}{titles[1]}", f"{'-' * (width - 4):<{width}}{'-' * 40}"]
    for a, b in aligned(left, right):
        rows.append(f"{a:<{width}}{b}".rstrip())
    return "\n".join(rows)


def number_lines(outcome: Outcome) -> list[str]:
    """The notes' gradient, one ``df/dv = ...`` entry per argument, arrays over rows."""
    lines = []
    for name, value in outcome.reference.items():
        value = np.asarray(value, dtype=float) + 0.0  # + 0.0 turns -0.0 into 0.0
        text = f"{float(value):g}" if value.ndim == 0 else np.array2string(value, separator=", ")
        label = f"df/d{name} = "
        rows = text.splitlines()
        lines += [label + rows[0]] + [" " * len(label) + row for row in rows[1:]]
    return lines


def show(outcome: Outcome) -> bool:
    """Print one example; True when the gradients and finite differences agree."""
    example = outcome.example
    name = example.fn.__name__
    title = f"[{example.name}] {example.title}"
    print(f"{title}\n{'=' * len(title)}")
    generated = function_text(outcome.gradient.source, f"d{name}")
    left_title = f"generated: grad({name}, wrt={outcome.wrt_text}).source"
    if example.by_hand is not None:
        right, right_title = code_lines(example.by_hand), "hand-written (background.md)"
    else:
        right, right_title = number_lines(outcome), "worked out in background.md"
    print(side_by_side(generated, right, (left_title, right_title)))
    for helper in outcome.gradient.source.splitlines():
        if helper.startswith("def ") and not helper.startswith(f"def d{name}("):
            helper_name = helper[4:].split("(")[0]
            print(f"\n...and the adjoint of the function {name} calls, {helper_name[1:]}:")
            print("\n".join("    " + line
                            for line in function_text(outcome.gradient.source, helper_name)))
    ok = True
    for arg in outcome.grads:
        agrees = outcome.agrees(arg)
        ok = ok and agrees is not False
        print(f"df/d{arg}: " + {True: f"the same as {outcome.reference_name}",
                                False: f"DIFFERENT from {outcome.reference_name}",
                                None: "no reference"}[agrees])
    passed, report = outcome.finite_differences()
    print(report + "\n")
    return ok and passed


def main() -> int:
    results = [show(differentiate(example)) for example in EXAMPLES]
    if all(results):
        print(f"All {len(results)} worked examples: the generated adjoints agree with the "
              "notes and with finite differences.")
        return 0
    print(f"{results.count(False)} of {len(results)} worked examples DISAGREE.")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
