"""Arrays known to hold floats from how they are made: the writes into them need no
``kept_if`` (kinds.py), so the common buffer, ``k = np.zeros(n)`` filled by an element
loop, reads in the generated code as before.

Known: every binding of the name is ``np.zeros``, ``np.ones`` or ``np.empty`` with no dtype
(NumPy's default, float64) or with ``float``, ``np.float64`` or ``np.float32`` as the dtype.
Anything else (a parameter, which may hold integers; ``np.zeros_like(a)``, which takes
``a``'s dtype; ``np.full(n, 2)``, an integer array) is decided at run time.
"""
from __future__ import annotations

import ast

from .ir import is_element_write
from .resolve import assigned_names

CONSTRUCTORS = {"np.zeros", "np.ones", "np.empty"}
FLOAT_DTYPES = {"float", "np.float64", "np.float32", "'float64'", "'float32'"}


def known_float_arrays(body: list[ast.stmt], params: list[str]) -> set[str]:
    """The names in ``body`` every binding of which makes a float array."""
    good: set[str] = set()
    bad: set[str] = set(params)
    in_assignments: set[int] = set()  # the target nodes of the assignments classified
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Assign) and not is_element_write(node):
            in_assignments |= {id(n) for t in node.targets for n in ast.walk(t)}
            simple = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            (good if simple and makes_floats(node.value) else bad).update(
                assigned_names(node))
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and \
                id(node) not in in_assignments:
            bad.add(node.id)  # a loop's target, a with or except name, ...
    return good - bad


def makes_floats(value: ast.expr) -> bool:
    """``np.zeros(n)``, ``np.ones((n, m), float)``, ``np.empty(n, dtype=np.float64)``."""
    if not isinstance(value, ast.Call) or ast.unparse(value.func) not in CONSTRUCTORS:
        return False
    dtypes = value.args[1:2] + [k.value for k in value.keywords if k.arg == "dtype"]
    others = [k for k in value.keywords if k.arg not in ("dtype", "order")]
    return not others and all(ast.unparse(d) in FLOAT_DTYPES for d in dtypes)
