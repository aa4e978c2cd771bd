"""The sigmoid chain of background.md §3: generated adjoint next to the hand-written one.

Run it with ``python examples/worked_examples.py``. It prints the code ``grad`` generates
beside the flat backward code written by hand in the notes, then checks that both give the
same derivative (and that finite differences agree).
"""
import inspect
import itertools
import math

from adjoint import check_grad, grad


def sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t))


def chain(x):
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = sigmoid(e)
    return f


def chain_backward_by_hand(x):
    # forward
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = sigmoid(e)
    # backward
    df = 1.0
    de = df * f * (1 - f)
    dd = de * 2
    dc = dd * 1
    db = dc * -1
    da = db * 2
    dx = da * 1
    return dx


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


def side_by_side(left: list[str], right: list[str], titles: tuple[str, str]) -> str:
    width = max(len(line) for line in [*left, titles[0]]) + 4
    rows = [f"{titles[0]:<{width}}{titles[1]}", f"{'-' * (width - 4):<{width}}{'-' * 40}"]
    for a, b in itertools.zip_longest(left, right, fillvalue=""):
        rows.append(f"{a:<{width}}{b}".rstrip())
    return "\n".join(rows)


def main() -> None:
    dchain = grad(chain)
    generated = function_text(dchain.source, "dchain")
    by_hand = [line for line in inspect.getsource(chain_backward_by_hand).splitlines()
               if not line.strip().startswith("#")]
    print(side_by_side(generated, by_hand,
                       ("generated: grad(chain).source", "hand-written (background.md §3)")))
    print()
    print("The generated module also holds the adjoint of the helper it calls:")
    print("\n".join("    " + line for line in function_text(dchain.source, "dsigmoid")))
    print()

    for x in (3.0, -1.5, 0.0, -3.25):
        ours, theirs = dchain(x), chain_backward_by_hand(x)
        error = check_grad(chain, x)
        print(f"x = {x:5}: generated {ours: .10e}   by hand {theirs: .10e}   "
              f"finite-difference error {error:.1e}")
        assert math.isclose(ours, theirs, rel_tol=1e-9), (x, ours, theirs)
    print("\nThe generated adjoint and the hand-written one agree.")


if __name__ == "__main__":
    main()
