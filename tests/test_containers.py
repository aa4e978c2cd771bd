"""Containers as arguments (dict, list, tuple, NamedTuple, dataclass, registered types)
and built inside functions: gradients of the same structure, against central differences
and autograd, in both jit modes; refusals located at the user's line."""
import numpy as np
import pytest

import adjoint
from adjoint import grad, tree_flatten, tree_unflatten, value_and_grad
from adjoint.containers import ContainerError

from . import container_cases as c

RNG = np.random.default_rng(1717)


def vec(*shape):
    return RNG.normal(size=shape)


def copy_tree(value):
    leaves, tree = tree_flatten(value)
    return tree_unflatten(tree, [v.copy() if isinstance(v, np.ndarray) else v for v in leaves])


def central_differences(fn, args, argnum, eps=1e-6):
    """The gradient with respect to the container args[argnum], leaf by leaf."""
    leaves, tree = tree_flatten(args[argnum])
    out = []
    for i, leaf in enumerate(leaves):
        if not adjoint.trees.is_float_leaf(leaf):
            out.append(None)
            continue
        arr = np.array(leaf, dtype=float)
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            vals = []
            for sign in (1, -1):
                bumped = arr.copy()
                bumped[idx] += sign * eps
                new = list(leaves)
                new[i] = bumped if isinstance(leaf, np.ndarray) else float(bumped)
                call = list(args)
                call[argnum] = tree_unflatten(tree, new)
                vals.append(fn(*call))
            g[idx] = (vals[0] - vals[1]) / (2 * eps)
        out.append(g if isinstance(leaf, np.ndarray) else float(g))
    return tree_unflatten(tree, out)


def assert_same_tree(got, want, tol=1e-6):
    g_leaves, g_tree = tree_flatten(got)
    w_leaves, w_tree = tree_flatten(want)
    assert type(got) is type(want)
    assert g_tree.paths() == w_tree.paths()
    for a, b in zip(g_leaves, w_leaves):
        if b is None:
            assert a is None
        else:
            assert np.shape(a) == np.shape(b)
            assert np.allclose(a, b, atol=tol, rtol=tol), (a, b)


CASES = [
    (c.mlp_dict, lambda: ({"W1": vec(3, 4), "b1": vec(4), "W2": vec(4, 2), "b2": vec(2)},
                          vec(5, 3), vec(5, 2)), 0),
    (c.layers_list, lambda: ([(vec(3, 3), vec(3)), (vec(3, 2), vec(2))], vec(4, 3)), 0),
    (c.nested_dict, lambda: ({"enc": {"W": vec(3, 3), "scale": 0.7}, "bias": 0.3}, vec(3)), 0),
    (c.tuple_param, lambda: ((vec(3), (0.5, vec(2, 2))), vec(3)), 0),
    (c.namedtuple_param, lambda: (c.Affine(vec(2, 3), 0.8), vec(3)), 0),
    (c.dataclass_param, lambda: (c.Model(vec(2, 3), 3, "m"), vec(3)), 0),
    (c.items_loop, lambda: ({"a": vec(3), "b": vec(3)}, vec(3)), 0),
    (c.dict_comprehension, lambda: ({"a": vec(3), "b": vec(2)}, vec(3)), 0),
    (c.carried_leaves, lambda: ({"W": vec(3), "n": 2, "eps": 0.1}, vec(3)), 0),
    (c.second_arg_container, lambda: (vec(3), [0.4, vec(3)]), 1),
    (c.negative_index, lambda: ([vec(3), vec(2), vec(3)], vec(3)), 0),
    (c.passed_to_helpers, lambda: ({"l1": (vec(3, 3), vec(3)), "l2": (vec(2, 3), vec(2))},
                                   vec(3)), 0),
    (c.nested_def_then_loop_over_items, lambda: ({"W": vec(3), "s": 0.4}, vec(3)), 0),
]
IDS = [fn.__name__ for fn, *_ in CASES]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("fn, make, argnum", CASES, ids=IDS)
def test_gradient_has_the_structure_and_matches_central_differences(fn, make, argnum, jit):
    args = make()
    want = central_differences(fn, [copy_tree(a) for a in args], argnum)
    got = grad(fn, wrt=argnum, jit=jit)(*args)
    assert_same_tree(got, want)


AUTOGRAD = ["mlp_dict", "layers_list", "nested_dict", "tuple_param", "items_loop"]


@pytest.mark.parametrize("fn, make, argnum", [k for k in CASES if k[0].__name__ in AUTOGRAD],
                         ids=AUTOGRAD)
def test_agrees_with_autograd(fn, make, argnum):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp

    args = make()
    want = autograd.grad(lambda *a: _with(anp, fn, a), argnum)(*args)
    got = grad(fn, wrt=argnum)(*args)
    assert_same_tree(_as_numpy(got), _as_numpy(want), tol=1e-9)


def _with(anp, fn, args):
    old = fn.__globals__["np"]
    fn.__globals__["np"] = anp
    try:
        return fn(*args)
    finally:
        fn.__globals__["np"] = old


def _as_numpy(tree):
    leaves, structure = tree_flatten(tree)
    return tree_unflatten(structure, [np.asarray(v) if v is not None else None
                                      for v in leaves])


@pytest.mark.parametrize("jit", [False, True])
def test_built_inside(jit):
    a, b = vec(3), vec(3)
    got = grad(c.built_inside, wrt=(0, 1), jit=jit)(a, b)
    assert np.allclose(got[0], 2 * a * b)  # f = sum(a * (a * b) + b)
    assert np.allclose(got[1], a * a + 1.0)


def test_value_and_grad_by_name_and_the_source_reads_like_the_user():
    params = {"W1": vec(3, 4), "b1": vec(4), "W2": vec(4, 2), "b2": vec(2)}
    X, y = vec(5, 3), vec(5, 2)
    vg = value_and_grad(c.mlp_dict, wrt="params")
    value, g = vg(params, X, y)
    assert np.isclose(value, c.mlp_dict(params, X, y))
    assert set(g) == set(params)
    src = vg.source
    assert 'params["W1"]' in src  # the user's statements, quoted
    assert "params_W1 = params['W1']" in src
    assert "dparams = {'W1': dparams_W1" in src
    namespace = {}
    exec(compile(src, "<generated>", "exec"), namespace)
    value2, g2 = namespace["dmlp_dict_tree"](params, X, y)
    assert np.isclose(value, value2)
    assert_same_tree(g2, g)


def test_carried_leaves_get_none_and_structure_changes_rebuild():
    g = grad(c.carried_leaves)({"W": vec(3), "n": 1, "eps": 0.5}, vec(3))
    assert g["n"] is None and isinstance(g["eps"], float)
    g2 = grad(c.carried_leaves)({"W": vec(3), "n": 2, "eps": 0.5, "extra": 1.0}, vec(3))
    assert g2["extra"] == 0.0


def test_registered_container_type():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    adjoint.register_container(Pair, lambda p: ([p.a, p.b], None),
                               lambda aux, ch: Pair(*ch), fields=("a", "b"))
    g = grad(c.namedtuple_like_pair)(Pair(vec(3), 0.5), vec(3))
    assert isinstance(g, Pair)


@pytest.mark.parametrize("fn, args, message", [
    (c.computed_key, lambda: ({"a": vec(2)}, "a"), "which is not a constant"),
    (c.passed_whole, lambda: ({"W": vec(2)}, vec(2)), "is used as a whole"),
    (c.missing_key, lambda: ({"W": vec(2)}, vec(2)), "has no entry 'W3'"),
    (c.dict_with_variable_key, lambda: (vec(2), vec(2), "a"), "keys cannot be followed"),
])
def test_refusals_name_the_line(fn, args, message):
    with pytest.raises(ContainerError, match=message) as info:
        grad(fn)(*args())
    assert "container_cases.py:" in str(info.value)
    assert isinstance(info.value, adjoint.AdjointError)


# -- the other transforms ------------------------------------------------------------------
def small_params():
    return {"W": vec(2, 3), "s": 0.7, "n": 2}


def numeric_jacobian(fn, params, x, eps=1e-6):
    leaves, tree = tree_flatten(params)
    blocks = []
    for i, leaf in enumerate(leaves):
        if not adjoint.trees.is_float_leaf(leaf):
            blocks.append(None)
            continue
        arr = np.array(leaf, dtype=float)
        out = np.asarray(fn(params, x))
        block = np.empty(out.shape + arr.shape)
        for idx in np.ndindex(arr.shape):
            vals = []
            for sign in (1, -1):
                bumped = arr.copy()
                bumped[idx] += sign * eps
                new = list(leaves)
                new[i] = bumped if arr.ndim else float(bumped)
                vals.append(np.asarray(fn(tree_unflatten(tree, new), x)))
            block[(...,) + idx] = (vals[0] - vals[1]) / (2 * eps)
        blocks.append(block if block.ndim else float(block))
    return tree_unflatten(tree, blocks)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_a_container_is_a_container_of_blocks(mode, jit):
    params, x = small_params(), vec(3)
    got = adjoint.jacobian(c.vector_output, mode=mode, jit=jit)(params, x)
    assert_same_tree(got, numeric_jacobian(c.vector_output, params, x))
    assert got["W"].shape == (2, 2, 3)


@pytest.mark.parametrize("jit", [False, True])
def test_jvp_vjp_and_hvp_take_containers(jit):
    params, x = small_params(), vec(3)
    J = numeric_jacobian(c.vector_output, params, x)
    tangent = {"W": vec(2, 3), "s": 0.3, "n": None}
    value, t = adjoint.jvp(c.vector_output, jit=jit)(params, x, tangent)
    assert np.allclose(value, c.vector_output(params, x))
    assert np.allclose(t, np.tensordot(J["W"], tangent["W"], 2) + J["s"] * 0.3)
    value, pullback = adjoint.vjp(c.vector_output, jit=jit)(params, x)
    ct = vec(2)
    g = pullback(ct)
    assert np.allclose(g["W"], np.tensordot(ct, J["W"], 1)) and g["n"] is None
    assert np.isclose(g["s"], ct @ J["s"])
    v = {"W": vec(2, 3), "s": 0.5, "n": None}
    hv = adjoint.hvp(c.quadratic, jit=jit)(params, x, v)
    eps = 1e-5
    plus = {"W": params["W"] + eps * v["W"], "s": params["s"] + eps * v["s"], "n": 2}
    minus = {"W": params["W"] - eps * v["W"], "s": params["s"] - eps * v["s"], "n": 2}
    gp, gm = grad(c.quadratic)(plus, x), grad(c.quadratic)(minus, x)
    assert np.allclose(hv["W"], (gp["W"] - gm["W"]) / (2 * eps), atol=1e-6)
    assert np.isclose(hv["s"], (gp["s"] - gm["s"]) / (2 * eps), atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_hessian_of_a_container_is_nested(jit):
    params, x = small_params(), vec(3)
    H = adjoint.hessian(c.quadratic, jit=jit)(params, x)
    assert H["W"]["W"].shape == (2, 3, 2, 3) and H["W"]["s"].shape == (2, 3)
    assert H["n"] is None and H["W"]["n"] is None
    g = lambda p: grad(c.quadratic)(p, x)  # noqa: E731
    want = numeric_jacobian(lambda p, _: np.concatenate([g(p)["W"].ravel(), [g(p)["s"]]]),
                            params, x)
    assert np.allclose(want["W"][:6].reshape(2, 3, 2, 3), H["W"]["W"], atol=1e-6)
    assert np.allclose(want["s"][:6].reshape(2, 3), H["W"]["s"], atol=1e-6)
    assert np.isclose(want["s"][6], H["s"]["s"], atol=1e-6)


# -- objects and methods --------------------------------------------------------------------------
@pytest.mark.parametrize("jit", [False, True])
def test_methods_and_object_state(jit):
    model = c.Regression(vec(2, 3), vec(2), 0.7)
    x = vec(3)
    want = 2 * 0.7 * model.W.T @ (model.W @ x - model.y)
    assert np.allclose(grad(model.loss, jit=jit)(x), want)  # bound: self not differentiated
    assert np.allclose(grad(c.Regression.loss, jit=jit)(model, x), want)  # wrt after self
    assert np.allclose(value_and_grad(model.loss, wrt=0, jit=jit)(x)[1], want)
    lin = c.Linear(vec(2, 3), vec(2))
    g = grad(c.Linear.loss, wrt="self", jit=jit)(lin, x)  # a dataclass self, when asked
    want_self = central_differences(c.Linear.loss, [copy_tree(lin), x], 0)
    assert isinstance(g, c.Linear) and g.name is None
    assert_same_tree(g, want_self)
    g2 = grad(lin.loss, wrt="self", jit=jit)(x)
    assert_same_tree(g2, want_self)
    cfg = c.Config()
    assert np.allclose(grad(c.uses_config, wrt=1, jit=jit)(cfg, x[:2]), cfg.params["w"] * 0.5)


def test_object_refusals():
    model = c.Regression(vec(2, 3), vec(2), 0.7)
    with pytest.raises(adjoint.ArgumentError, match="Regression object.*@dataclass"):
        grad(model.loss, wrt="self")(vec(3))
    with pytest.raises(ContainerError, match=r"calling self\.loss\(\.\.\.\), a method") as info:
        grad(model.calls_a_method)(vec(3))
    assert "container_cases.py:" in str(info.value)


# -- nested functions and lambdas ----------------------------------------------------------------
def scalar_central(fn, args, argnum, eps=1e-6):
    x = np.array(args[argnum], dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        vals = []
        for sign in (1, -1):
            bumped = x.copy()
            bumped[idx] += sign * eps
            call = list(args)
            call[argnum] = bumped if np.ndim(args[argnum]) else float(bumped)
            vals.append(fn(*call))
        g[idx] = (vals[0] - vals[1]) / (2 * eps)
    return g


NESTED = [
    (c.nested_def, lambda: (vec(3), 0.8, 3)),
    (c.lambda_and_def_calling_it, lambda: (vec(3), 0.6)),
    (c.captured_rebound_after, lambda: (vec(3), 0.6)),
]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("fn, make", NESTED, ids=[f.__name__ for f, _ in NESTED])
def test_nested_functions_are_lifted(fn, make, jit):
    args = make()
    got = grad(fn, wrt=(0, 1), jit=jit)(*args)
    for k in (0, 1):
        assert np.allclose(got[k], scalar_central(fn, args, k), atol=1e-6)


def test_lifted_call_is_shown_and_containers_reach_it():
    g = grad(c.nested_def)
    g(vec(3), 0.8, 2)
    assert "step(a, y)" in g.source and "def dstep(a, s" in g.source
    params = {"W1": vec(3, 4), "b1": vec(4), "W2": vec(4, 2), "b2": vec(2)}
    x = vec(5, 3)
    assert_same_tree(grad(c.params_through_nested)(params, x),
                     central_differences(c.params_through_nested, [copy_tree(params), x], 0))


@pytest.mark.parametrize("fn, message", [
    (c.closure_with_nonlocal, r"the nested function 'add' rebinds total \(nonlocal\)"),
    (c.nested_passed_as_value, "the nested function 'f' used as a value"),
])
def test_closures_that_cannot_be_lifted_are_refused(fn, message):
    with pytest.raises(adjoint.lift.ClosureError, match=message) as info:
        grad(fn)(vec(3))
    assert "container_cases.py:" in str(info.value)


def test_another_name_for_an_appended_list_reads_it():  # was a raw AttributeError
    x = vec(3)
    assert np.allclose(grad(c.aliased_appended_list)(x, 3), np.full(3, 5.0))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("fn, shown", [(c.gradient_object_inside, r"d_inner\(x, y\)"),
                                       (c.gradient_inline_inside, r"adjoint\.grad\(inner\)")])
def test_nested_differentiation_is_refused_at_its_line(fn, shown, jit):
    with pytest.raises(adjoint.nested.NestedDifferentiationError, match=shown) as info:
        grad(fn, jit=jit)(vec(3), 2.0)
    assert "container_cases.py:" in str(info.value) and "adjoint.hvp" in str(info.value)
