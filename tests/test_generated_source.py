"""Generated code is a product surface: readable, deterministic, and the same with either
source printer."""
import ast
import math
from pathlib import Path

import numpy as np
import pytest

from adjoint import emit, grad, value_and_grad
from adjoint.reverse import build_module

from .test_background import sigmoid_chain, two_layer_softmax

SNAPSHOTS = Path(__file__).parent / "snapshots"


def body_of(source: str) -> str:
    """The generated module without its header (which names the absolute file path)."""
    return source.split("\n", 2)[2]


def test_sigmoid_chain_snapshot():
    expected = (SNAPSHOTS / "sigmoid_chain.txt").read_text()
    assert body_of(grad(sigmoid_chain).source) == expected


def test_generation_is_deterministic():
    first = build_module(two_layer_softmax, ("W1", "b1", "W2", "b2"))
    second = build_module(two_layer_softmax, ("W1", "b1", "W2", "b2"))
    assert emit.to_source(first) == emit.to_source(second)


def test_astor_and_ast_unparse_give_equivalent_runnable_code():
    module = build_module(two_layer_softmax, ("W1",))
    by_astor, by_stdlib = emit.to_source(module, True), emit.to_source(module, False)
    assert ast.dump(ast.parse(by_astor)) == ast.dump(ast.parse(by_stdlib))
    assert "# hidden = np.maximum(0, X.dot(W1) + b1)" in by_stdlib


def inactive_branch(x, y):
    unused = np.exp(y) * 3.0  # noqa: F841 - the point of the test
    scale = y * 2.0
    return np.sum(x * scale)


def test_no_adjoint_code_for_values_that_do_not_depend_on_wrt():
    source = grad(inactive_branch).source
    backward = source.split("# backward sweep")[1]
    assert "dunused" not in backward and "dscale" not in backward and "dy" not in backward
    assert "unused = np.exp(y) * 3.0" not in backward


def comments_and_first_writes(W, x):
    h = np.tanh(W @ x)
    return np.sum(h * h)


def test_each_user_statement_is_quoted_above_its_adjoint_and_first_writes_assign():
    source = grad(comments_and_first_writes).source
    backward = source.split("# backward sweep")[1]
    assert "# h = np.tanh(W @ x)" in backward and "# return np.sum(h * h)" in backward
    assert "dW = " in backward and "dW = dW +" not in backward
    assert "+=" not in source
    assert "zeros" not in backward


def math_family(x):
    return math.sin(x) * np.sin(x)


def test_derivatives_call_the_family_the_user_called():
    backward = grad(math_family).source.split("# backward sweep")[1]
    assert "math.cos(x)" in backward and "np.cos(x)" in backward


@pytest.mark.parametrize("name", ["dx", "t1", "dout", "d_x"])
def test_adjoint_names_never_clash_with_user_names(name):
    text = f"def clash(x):\n    {name} = x * 2.0\n    return {name} * x\n"
    path = SNAPSHOTS.parent / f"_clash_{name}.py"
    path.write_text(text)
    try:
        namespace = {}
        exec(compile(text, str(path), "exec"), namespace)
        assert grad(namespace["clash"])(3.0) == 12.0
    finally:
        path.unlink()


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def sigmoid_chain_with_helper(x):
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = sigmoid(e)
    return f


def backward_statements(source: str) -> int:
    """Statements after each generated function's '# backward sweep' line, return excluded."""
    count = 0
    for function in source.split("\ndef ")[1:]:
        backward = function.split("# backward sweep", 1)[1]
        count += sum(1 for line in backward.splitlines()
                     if line.strip() and not line.strip().startswith(("#", "return")))
    return count


def test_sigmoid_chain_backward_is_as_short_as_hand_written_flat_code():
    """Hand-written flat code (background.md §3) takes 7 statements, the sigmoid inline;
    copies such as ``dc = dd`` and ``dt4 = dout`` are propagated, not emitted."""
    source = grad(sigmoid_chain_with_helper).source
    assert backward_statements(source) <= 9
    assert "dc = dd" not in source and "df = dout" not in source
    x = 0.3
    assert grad(sigmoid_chain_with_helper)(x) == pytest.approx(
        -4.0 * sigmoid(-4 * x - 2) * (1 - sigmoid(-4 * x - 2)), rel=1e-12)


def squares_a_negative_constant(x):
    y = x * ((-0.25) ** 2)
    z = (-2) ** 3 * x
    return np.sum(y + z) + (-x[0]) ** 2


@pytest.mark.parametrize("use_astor", [True, False], ids=["astor", "ast.unparse"])
def test_a_negative_constant_keeps_its_parentheses_as_a_power_base(use_astor):
    """Found by the fuzzer: ``(-0.25) ** 2`` folded into ``Constant(-0.25) ** 2`` was
    printed ``-0.25 ** 2``, which Python reads as ``-(0.25 ** 2)``: a wrong value and
    gradient, no error."""
    module = build_module(squares_a_negative_constant, ("x",))
    text = emit.to_source(module, use_astor)
    assert "-0.25 ** 2" not in text.replace("(-0.25) ** 2", "")
    assert "(-0.25) ** 2" in text and "(-2) ** 3" in text
    x = np.array([0.5, -1.5, 2.0])
    value, dx = value_and_grad(squares_a_negative_constant)(x.copy())
    assert value == squares_a_negative_constant(x.copy())
    np.testing.assert_allclose(dx, [0.0625 - 8 + 2 * 0.5, 0.0625 - 8, 0.0625 - 8])
