"""Random programs over adjoint's supported subset, for the differential fuzzer in test_fuzz.py.

A program is a small tree of statements and expressions (plain tuples) that renders to Python
source twice: plainly, for ``grad`` to read from a real file, and *instrumented*, where every
float comparison and every kink (np.max, np.maximum, np.abs, masks) goes through a helper that
records how close the input was to the non-differentiable point. The fuzzer skips programs
that pass within ``MARGIN`` of such a point, so central differences are trustworthy.

Values have one of three kinds: ``s`` (a float), ``a`` (an array of shape (3,)) and ``m`` (an
array of shape (2, 3)), so broadcasting, axis reductions and products between them appear.
Every construct can be switched off by name (``programs(exclude={"matrix"})``): a knob for
isolating a bug the fuzzer found.

Names may share memory on purpose (``Program.features`` records which of these a program
uses): row views written through (``r = m[i]; r *= c``, "row_view"), rows of a matrix written
in a loop over it, plain, enumerated or zipped ("row_iter"), slice views written
("slice_view", "view_of_view"), writes into f's array parameters ("param_write"), list
indices with repeats (``out[[0, 0, 2]] = e``, "list_index"), double buffering ("buffers"),
helpers that return part of their argument, as a view ("helper_view") or a new array
("helper_new"), or write into it ("helper_writes"), lists holding an array that is written
afterwards ("list_alias"), a base rebound under its views ("rebind_base") and one array
object for two parameters ("twice"), and views the normalizer does not rewrite (``.T``,
``reshape``, ``ravel``, ``np.asarray``, ``a[...]``, "other_view"). adjoint may refuse
helper_view, helper_writes, list_alias, rebind_base, twice and other_view with an
AdjointError (``Program.refusable``); the others it must differentiate.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

MARGIN = 1e-3

CONSTS = [0.5, 1.3, -0.7, 2.0, 0.25, -1.1, 0.9, 3.0, -0.3]
WEIGHTS = [1.0, 0.5, -0.75, 1.25, -1.5, 0.3]
VECTOR_WEIGHTS = "np.array([0.7, -1.2, 0.4])"
MATRIX_WEIGHTS = "np.array([[0.7, -1.2, 0.4], [0.3, 0.9, -0.5]])"
ROWS = ["0", "1", "-1"]  # row indices valid for a (2, 3) matrix
# list-literal indices into a length-3 array, repeats included
LIST_INDICES = ["[0, 0, 2]", "[1, 1]", "[2, 0, 2]", "[0, 1]", "[-1, 0, -1]", "[1, 1, 1]"]
PART_WEIGHTS = "np.array([0.3, -0.8])"
# The constructs that make names share memory (Program.features); autograd cannot run
# programs that write through views, and its rendering turns those writes into rebindings.
ALIASING_FEATURES = frozenset({
    "row_view", "row_iter", "slice_view", "view_of_view", "buffers", "other_view",
    "helper_view", "helper_new", "helper_writes", "list_alias", "list_index", "param_write",
    "rebind_base", "twice"})

# name -> template; {0} is the argument. Every template has a safe domain for any real input.
UNARY_ANY = {
    "np.sin": "np.sin({0})",
    "np.cos": "np.cos({0})",
    "np.tanh": "np.tanh({0})",
    "np.exp": "np.exp(np.tanh({0}))",
    "np.log": "np.log(1.5 + {0} * {0})",
    "np.sqrt": "np.sqrt(1.5 + {0} * {0})",
    "np.arctan": "np.arctan({0})",
    # SciPy's special functions: under jit=True these compile to our Numba versions
    "special.expit": "special.expit({0})",
    "special.erf": "special.erf({0})",
    "special.gammaln": "special.gammaln(1.5 + {0} * {0})",
}
# the container programs run NumPy's only (their oracle swaps np for autograd.numpy)
NUMPY_UNARY = {k: v for k, v in UNARY_ANY.items() if k.startswith("np.")}
# Arrays only: casts to integers and booleans, through the module's _as_int and _as_bool
# (CAST_HELPERS), flat where they are taken (0.4 tanh + 2.5 truncates to 2 everywhere,
# tanh + 2 is never 0): the derivative is the factor in front. autograd differentiates
# through astype, so its rendering defines them with np.floor and a comparison instead.
UNARY_ARRAY = {
    "astype(int)": "({0} * _as_int(0.4 * np.tanh({0}) + 2.5))",
    "astype(bool)": "({0} * _as_bool(np.tanh({0}) + 2.0))",
}
CAST_HELPERS = {
    "numpy": ["def _as_int(v):", "    return np.asarray(v, dtype=int)", "",
              "def _as_bool(v):", "    return v.astype(bool)"],
    "autograd": ["def _as_int(v):", "    return np.floor(v)", "",
                 "def _as_bool(v):", "    return v != 0"],
}
UNARY_SCALAR = {
    "math.sin": "math.sin({0})",
    "math.cos": "math.cos({0})",
    "math.tanh": "math.tanh({0})",
    "math.exp": "math.exp(math.tanh({0}))",
    "math.log": "math.log(1.5 + {0} * {0})",
    "math.sqrt": "math.sqrt(1.5 + {0} * {0})",
    "math.atan": "math.atan({0})",
}


# ---------------------------------------------------------------------------------------------
# instrumentation: helpers visible to the instrumented rendering only
# ---------------------------------------------------------------------------------------------

class Margins:
    """Collects distances to non-differentiable points while the instrumented program runs."""

    def __init__(self):
        self.values: list[float] = []

    def namespace(self) -> dict:
        def note(m):
            self.values.append(float(m))

        def cmp(lhs, op, rhs):
            if not (isinstance(lhs, (int, np.integer)) and isinstance(rhs, (int, np.integer))):
                note(np.min(np.abs(np.asarray(lhs, float) - np.asarray(rhs, float))))
            return {">": lhs > rhs, "<": lhs < rhs, ">=": lhs >= rhs, "<=": lhs <= rhs}[op]

        def kmax(a, fn, axis=None):
            srt = np.sort(np.asarray(a, float), axis=axis)
            if srt.size > 1 and axis is None:
                note(srt[-1] - srt[-2] if fn == "max" else srt[1] - srt[0])
            elif axis is not None:
                gap = (np.take(srt, -1, axis) - np.take(srt, -2, axis) if fn == "max"
                       else np.take(srt, 1, axis) - np.take(srt, 0, axis))
                note(np.min(gap))
            return np.max(a, axis=axis) if fn == "max" else np.min(a, axis=axis)

        def kmaximum(a, b, fn):
            note(np.min(np.abs(np.asarray(a, float) - np.asarray(b, float))))
            return {"maximum": np.maximum, "minimum": np.minimum, "max": max, "min": min}[fn](a, b)

        def kabs(a):
            note(np.min(np.abs(np.asarray(a, float))))
            return abs(a)

        def kclip(a):
            note(np.min(np.abs(np.abs(np.asarray(a, float)) - 1.0)))
            return np.clip(a, -1.0, 1.0)

        def knorm(a):
            note(np.linalg.norm(a))
            return np.linalg.norm(a)

        return {"np": np, "math": math, "_cmp": cmp, "_kmax": kmax, "_kmaximum": kmaximum,
                "_kabs": kabs, "_kclip": kclip, "_knorm": knorm}


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------

# node tag -> template over the rendered operands {0}, {1}
TEMPLATES = {
    "square": "({0} ** 2)",
    "cube": "({0} ** 3)",
    "neg": "(-{0})",
    "dot": "np.dot({0}, {1})",
    "vecmat": "np.dot(np.array([0.5, -1.0]), {0})",
    "matT": "({0}.T @ np.array([0.5, -1.0]))",
    "matvec": "np.sum({0} @ {1})",
    "cumsum": "np.cumsum({0})",
    "prod": "np.prod({0})",
    "ones": "(np.ones(3) * {0})",
    "mones": "(np.ones((2, 3)) * {0})",
    "bcast": "(np.ones((2, 1)) * {0})",
}
# kinks: node tag -> (instrumented template, plain template)
KINKS = {
    "abs": ("_kabs({0})", "np.abs({0})"),
    "sabs": ("_kabs({0})", "abs({0})"),
    "clip": ("_kclip({0})", "np.clip({0}, -1.0, 1.0)"),
    "norm": ("_knorm({0})", "np.linalg.norm({0})"),
}


def rx(e, inst: bool) -> str:
    """Render an expression node."""
    tag = e[0]
    if tag in TEMPLATES:
        return TEMPLATES[tag].format(*(rx(a, inst) for a in e[1:]))
    if tag in KINKS:
        return KINKS[tag][0 if inst else 1].format(rx(e[1], inst))
    if tag == "var":
        return e[1]
    if tag == "const":
        return repr(e[1])
    if tag == "bin":
        return f"({rx(e[2], inst)} {e[1]} {rx(e[3], inst)})"
    if tag == "div":
        d = rx(e[2], inst)
        return f"({rx(e[1], inst)} / (1.5 + {d} * {d}))"
    if tag == "unary":
        table = next(t for t in (UNARY_ANY, UNARY_ARRAY, UNARY_SCALAR) if e[1] in t)
        return table[e[1]].format(rx(e[2], inst))
    if tag == "ifexp":
        return f"({rx(e[2], inst)} if {rc(e[1], inst)} else {rx(e[3], inst)})"
    if tag in ("index", "slice"):  # arr[idx]; idx is rendered already
        return f"{rx(e[1], inst)}[{e[2]}]"
    if tag in ("reduce", "axis"):
        return reduction(e, inst)
    if tag in ("maximum", "smax"):
        fn, a, b = e[1], rx(e[2], inst), rx(e[3], inst)
        plain = f"np.{fn}" if tag == "maximum" else fn
        return f"_kmaximum({a}, {b}, {fn!r})" if inst else f"{plain}({a}, {b})"
    if tag == "where":
        return f"np.where({rc(e[1], inst)}, {rx(e[2], inst)}, {rx(e[3], inst)})"
    if tag == "stacked":  # the list built by append, as one array
        return f"np.{e[1]}({e[2]})"
    if tag == "tuple":
        return f"({', '.join(rx(a, inst) for a in e[1])})"
    if tag == "call":
        args = [rx(a, inst) for a in e[2]] + [f"{k}={rx(v, inst)}" for k, v in e[3]]
        return f"{e[1]}({', '.join(args)})"
    raise AssertionError(e)


def reduction(e, inst: bool) -> str:
    """np.sum/mean/max/min of an array or matrix ("reduce") or of a matrix over axis 0."""
    fn, a = e[1], rx(e[2], inst)
    axis = ", axis=0" if e[0] == "axis" else ""
    if fn in ("max", "min") and inst:
        return f"_kmax({a}, {fn!r}{', 0' if axis else ''})"
    if fn == "sum_method":
        return f"{a}.sum()"
    return f"np.{fn}({a}{axis})"


def rc(c, inst: bool) -> str:
    """Render a condition node."""
    tag = c[0]
    if tag == "cmp":
        lhs, op, rhs = rx(c[1], inst), c[2], rx(c[3], inst)
        return f"_cmp({lhs}, {op!r}, {rhs})" if inst else f"{lhs} {op} {rhs}"
    if tag == "icmp":  # integers only: exact, no margin
        return f"{c[1]} {c[2]} {c[3]}"
    if tag in ("and", "or"):
        return f"({rc(c[1], inst)} {tag} {rc(c[2], inst)})"
    if tag == "not":
        return f"(not {rc(c[1], inst)})"
    raise AssertionError(c)


def rs(s, inst: bool, ind: int, out: list[str]) -> None:
    """Render a statement node into ``out``."""
    pad = "    " * ind
    tag = s[0]
    if tag == "assign":
        out.append(f"{pad}{s[1]} = {rx(s[2], inst)}")
    elif tag == "raw":
        out.append(f"{pad}{s[1]}")
    elif tag == "swap":
        out.append(f"{pad}{s[1]}, {s[2]} = {s[2]}, {s[1]}")
    elif tag == "tcall":  # a, b = pair(...)
        out.append(f"{pad}{', '.join(s[1])} = {rx(s[2], inst)}")
    elif tag == "append":
        out.append(f"{pad}{s[1]}.append({rx(s[2], inst)})")
    elif tag == "aug":
        name, op, e = s[1], s[2], rx(s[3], inst)
        if op == "/=":
            out.append(f"{pad}{name} /= (1.5 + {e} * {e})")
        else:
            out.append(f"{pad}{name} {op} {e}")
    elif tag == "setitem":
        arr, idx, op, e = s[1], s[2], s[3], rx(s[4], inst)
        out.append(f"{pad}{arr}[{idx}] {op} {e}")
    elif tag == "maskset":
        arr, mask, op, e = s[1], s[2], s[3], rx(s[4], inst)
        out.append(f"{pad}{arr}[{rc(mask, inst)}] {op} {e}")
    elif tag == "if":
        out.append(f"{pad}if {rc(s[1], inst)}:")
        block(s[2], inst, ind + 1, out)
        orelse = s[3]
        while len(orelse) == 1 and orelse[0][0] == "if":
            out.append(f"{pad}elif {rc(orelse[0][1], inst)}:")
            block(orelse[0][2], inst, ind + 1, out)
            orelse = orelse[0][3]
        if orelse:
            out.append(f"{pad}else:")
            block(orelse, inst, ind + 1, out)
    elif tag == "for":
        iterable = s[2] if isinstance(s[2], str) else rx(s[2], inst)
        out.append(f"{pad}for {s[1]} in {iterable}:")
        block(s[3], inst, ind + 1, out)
        if s[4]:
            out.append(f"{pad}else:")
            block(s[4], inst, ind + 1, out)
    elif tag == "while":
        counter, bound, extra, body, orelse = s[1:]
        cond = f"{counter} < {bound}"
        if extra is not None:
            cond = f"{cond} and {rc(extra, inst)}"
        out.append(f"{pad}{counter} = 0")
        out.append(f"{pad}while {cond}:")
        out.append(f"{pad}    {counter} += 1")
        block(body, inst, ind + 1, out)
        if orelse:
            out.append(f"{pad}else:")
            block(orelse, inst, ind + 1, out)
    elif tag == "jump":  # if cond: break / continue
        out.append(f"{pad}if {rc(s[1], inst)}:")
        out.append(f"{pad}    {s[2]}")
    elif tag == "return":
        out.append(f"{pad}return {rx(s[1], inst)}")
    else:
        raise AssertionError(s)


def reads(e, name: str) -> bool:
    """Whether the expression mentions the variable ``name``."""
    return re.search(rf"\b{name}\b", rx(e, False)) is not None


def block(stmts, inst, ind, out) -> None:
    if not stmts:
        out.append("    " * ind + "pass")
    for s in stmts:
        rs(s, inst, ind, out)


@dataclass
class Program:
    params: list[str]
    args: list
    wrt: tuple[int, ...]
    helpers: list[tuple[str, list[str], list]]  # (name, params, body)
    body: list
    # the constructs of ALIASING_FEATURES the program uses, and those of them whose refusal
    # with an AdjointError is by design (the others must be differentiated)
    features: frozenset = frozenset()
    refusable: frozenset = frozenset()
    twice: tuple[int, int] | None = None  # parameters to call with one and the same array
    twice_row: bool = False  # ... or with row 0 of the first (a matrix) for the second

    def render(self, inst: bool = False, dialect: str = "numpy") -> str:
        """The program's source; ``dialect="autograd"`` makes it run on autograd.numpy, which
        also stands in for math (autograd's boxes are not floats) and has no ``.copy()``.
        There ``a += v`` becomes ``a = a + (v)``: autograd keeps references to the arrays an
        operation read, so an in-place update afterwards corrupts its gradient (the
        generated programs never alias an array they update, so the meaning is the same)."""
        out = ["import math", "", "import numpy as np", "import scipy.special as special", ""]
        if dialect == "autograd":
            out = ["import autograd.numpy as math", "import autograd.numpy as np",
                   "import autograd.scipy.special as special", ""]
        out += ["", *CAST_HELPERS[dialect], ""]
        for name, params, body in self.helpers:
            out += ["", f"def {name}({', '.join(params)}):"]
            block(body, inst, 1, out)
            out.append("")
        out += ["", f"def f({', '.join(self.params)}):"]
        block(self.body, inst, 1, out)
        text = "\n".join(out) + "\n"
        if dialect == "autograd":
            text = re.sub(r"\b(\w+)\.copy\(\)", r"np.array(\1)", text)
            text = re.sub(r"(?m)^(\s*)(\w+) ([-+*/])= (.*)$", r"\1\2 = \2 \3 (\4)", text)
        return text

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        args = ", ".join(f"np.array({a.tolist()!r})" if isinstance(a, np.ndarray) else repr(a)
                         for a in self.args)
        first, second = self.twice or (0, 0)
        twice = ("" if self.twice is None else
                 f", {self.params[first]}[0] for {self.params[second]}" if self.twice_row else
                 f", the same array for {self.params[first]} and {self.params[second]}")
        return (f"\n{self.render()}\n# f({args}), wrt={self.wrt}{twice}\n"
                f"# constructs: {sorted(self.features)}\n")


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Helper:
    """A generated function f may call: its argument kinds, whether its last parameter has a
    default, and whether it returns a float ("s") or a pair of floats ("pair")."""

    name: str
    kinds: tuple[str, ...]
    default: bool = False
    returns: str = "s"  # or "part" (2 entries of its array), "row" (of its matrix), "writes"
    view: bool = False  # "part"/"row": whether it returns a view of its argument


@dataclass
class Scope:
    scalars: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)  # shape (3,)
    mats: list[str] = field(default_factory=list)  # shape (2, 3)
    writable: list[str] = field(default_factory=list)  # arrays created in f: element writes ok
    ints: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (lo, hi)
    helpers: list[Helper] = field(default_factory=list)
    lists: dict[str, str] = field(default_factory=dict)  # built by append: name -> entry kind
    loops: int = 0  # how many loops enclose the current point
    iterated: set[str] = field(default_factory=set)  # arrays an enclosing loop iterates over
    returns: str = "s"  # what the function being generated returns: "s" or "pair"
    views: dict[str, str] = field(default_factory=dict)  # view name -> the name of its base
    parts: list[str] = field(default_factory=list)  # length-2 arrays (slice views, helpers')

    def child(self) -> Scope:
        return Scope(list(self.scalars), list(self.arrays), list(self.mats),
                     list(self.writable), dict(self.ints), self.helpers, dict(self.lists),
                     self.loops, set(self.iterated), self.returns, dict(self.views),
                     list(self.parts))

    def targets(self) -> list[str]:
        """Arrays an element write may go into: those made in f, f's own array parameters
        and (knob "param_write") views of either."""
        return self.writable + [a for a in self.arrays + self.mats
                                if is_parameter(a) and a not in self.writable]

    def bases(self) -> set[str]:
        return set(self.views.values())

    def names(self, kind: str) -> list[str]:
        return {"s": self.scalars, "a": self.arrays, "m": self.mats}[kind]


# expression forms by result kind (the weights are repetitions)
FORMS = {
    "s": ["bin"] * 4 + ["div", "unary", "unary", "square", "neg", "ifexp", "reduce", "reduce",
                        "index_expr", "dot", "call", "call", "smax", "sabs", "cube", "prod",
                        "norm", "matvec", "list"],
    "a": ["bin"] * 4 + ["div", "unary", "unary", "square", "neg", "ifexp", "maximum", "abs",
                        "slice_rev", "row", "axis", "vecmat", "cumsum", "clip", "where",
                        "list_index"],
    "m": ["bin"] * 4 + ["div", "unary", "unary", "square", "neg", "ifexp", "maximum", "abs",
                        "clip", "where"],
}
# the knob that switches a form off, where it is not the form's own name
KNOB = {"index_expr": "index", "slice_rev": "view", "smax": "maximum", "sabs": "abs",
        "row": "matrix", "axis": "matrix", "vecmat": "matrix", "matvec": "matrix"}
# how a form combines kinds for the binary operators, with broadcasting
BROADCASTS = {"s": [("s", "s")], "a": [("a", "a"), ("a", "s"), ("s", "a")],
              "m": [("m", "m"), ("m", "a"), ("a", "m"), ("m", "s"), ("s", "m")]}


class Gen:
    """Drawing state: fresh names and the knobs that can switch constructs off."""

    def __init__(self, draw, exclude=frozenset()):
        self.draw = draw
        self.exclude = exclude
        self.n = 0
        self.used: set[str] = set()  # aliasing constructs drawn (ALIASING_FEATURES)
        self.refusable: set[str] = set()  # those a refusal of which is by design

    def use(self, feature: str, refusable: bool = False) -> None:
        self.used.add(feature)
        if refusable:
            self.refusable.add(feature)

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def ok(self, construct: str) -> bool:
        return construct not in self.exclude

    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def boolean(self, p: float = 0.5) -> bool:
        return self.draw(st.integers(0, 999)) < p * 1000

    # -- expressions -------------------------------------------------------------------------

    def index_exprs(self, scope: Scope) -> list[str]:
        """Int index expressions valid for a length-3 array."""
        out = ["0", "1", "2", "-1"]
        for name, (lo, hi) in scope.ints.items():
            if lo >= 0 and hi <= 2:
                out.append(name)
            if lo >= 0 and hi <= 3:
                out.append(f"{name} - 1")
        return out

    def scalar_leaf(self, scope: Scope):
        options = ["const"] + ["var"] * 3
        if scope.arrays or scope.mats:
            options += ["index"] * 2
        if scope.ints:
            options.append("int")
        kind = self.choice(options)
        if kind == "var" and scope.scalars:
            return ("var", self.choice(scope.scalars))
        if kind == "index":
            name = self.choice(scope.arrays + scope.mats)
            idx = self.choice(self.index_exprs(scope))
            if name in scope.mats:
                idx = f"{self.choice(ROWS)}, {idx}"
            return ("index", ("var", name), idx)
        if kind == "int":
            return ("var", self.choice(sorted(scope.ints)))
        return ("const", self.choice(CONSTS))

    def leaf(self, scope: Scope, kind: str):
        if kind == "s":
            return self.scalar_leaf(scope)
        if scope.names(kind) and self.boolean(0.85):
            return ("var", self.choice(scope.names(kind)))
        if kind == "a" or self.boolean():
            return ("ones" if kind == "a" else "mones", self.scalar_leaf(scope))
        return ("bcast", self.leaf(scope, "a"))

    def expr(self, scope: Scope, kind: str, depth: int):
        """An expression of kind 's' (float), 'a' (array (3,)) or 'm' (array (2, 3))."""
        if depth <= 0 or self.boolean(0.25):
            return self.leaf(scope, kind)
        options = [f for f in FORMS[kind] if self.ok(KNOB.get(f, f))]
        if kind != "s" and not self.ok("array_ifexp"):
            options = [f for f in options if f != "ifexp"]
        form = self.choice(options)
        made = self.form(scope, kind, form, depth - 1)
        return made if made is not None else self.leaf(scope, kind)

    def form(self, scope: Scope, kind: str, form: str, d: int):
        """One expression form, or None where the scope has nothing it needs."""
        e = self.expr
        if form == "bin":
            lk, rk = self.choice(BROADCASTS[kind])
            return ("bin", self.choice(["+", "-", "*"]), e(scope, lk, d), e(scope, rk, d))
        if form == "div":
            rk = "s" if kind == "s" else self.choice(["s", kind])
            return ("div", e(scope, kind, d), e(scope, rk, d))
        if form in ("square", "neg", "abs", "clip", "sabs", "cube"):
            return (form, e(scope, kind, d))
        if form == "unary":
            names = list(UNARY_ANY) + list(UNARY_SCALAR if kind == "s" else UNARY_ARRAY)
            return ("unary", self.choice(names), e(scope, kind, d))
        if form == "ifexp":
            return ("ifexp", self.cond(scope, d), e(scope, kind, d), e(scope, kind, d))
        if form == "where":
            mask = ("cmp", e(scope, kind, 1), self.choice([">", "<"]),
                    ("const", self.choice(CONSTS)))
            return ("where", mask, e(scope, kind, d), e(scope, self.choice(["s", kind]), d))
        if form == "maximum":
            other = self.choice([kind, "s"] + (["a"] if kind == "m" else []))
            return ("maximum", self.choice(["maximum", "minimum"]), e(scope, kind, d),
                    e(scope, other, d))
        if form == "smax":
            return ("smax", self.choice(["max", "min"]), e(scope, "s", d), e(scope, "s", d))
        return self.array_form(scope, form, d) if kind != "s" else self.scalar_form(scope, form, d)

    def array_form(self, scope: Scope, form: str, d: int):
        e = self.expr
        if form == "slice_rev":
            return ("slice", e(scope, "a", d), "::-1")
        if form == "row":
            return ("index", e(scope, "m", d), self.choice(ROWS))
        if form == "axis":
            fns = ["sum", "mean"] + (["max", "min"] if self.ok("max") else [])
            return ("axis", self.choice(fns), e(scope, "m", d))
        if form == "vecmat":
            return (self.choice(["vecmat", "matT"]), e(scope, "m", d))
        if form == "cumsum":
            return ("cumsum", e(scope, "a", d))
        if form == "list_index":  # a gather with repeats: x[[0, 0, 2]]
            return ("index", e(scope, "a", d), self.choice([i for i in LIST_INDICES
                                                            if i.count(",") == 2]))
        raise AssertionError(form)

    def scalar_form(self, scope: Scope, form: str, d: int):
        e = self.expr
        if form == "reduce":
            fns = ["sum", "mean", "sum_method"] + (["max", "min"] if self.ok("max") else [])
            over = "m" if self.ok("matrix") and self.boolean(0.25) else "a"
            return ("reduce", self.choice(fns), e(scope, over, d))
        if form == "index_expr":
            return ("index", e(scope, "a", d), self.choice(self.index_exprs(scope)))
        if form == "dot":
            return ("dot", e(scope, "a", d), e(scope, "a", d))
        if form in ("prod", "norm"):
            return (form, e(scope, "a", d))
        if form == "matvec":
            return ("matvec", e(scope, "m", d), e(scope, "a", d))
        if form == "call":
            return self.call(scope, d)
        if form == "list" and scope.lists:
            return self.list_read(scope)
        return None

    def call(self, scope: Scope, d: int):
        """A call to a helper returning a float: positional, by keyword, or with the default
        left out."""
        helpers = [h for h in scope.helpers if h.returns == "s"]
        if not helpers:
            return None
        h = self.choice(helpers)
        args = [self.expr(scope, k, d) for k in h.kinds]
        if not h.default:
            return ("call", h.name, args, [])
        how = self.choice(["positional", "keyword", "default"])
        if how == "keyword":
            return ("call", h.name, args[:-1], [(f"u{len(args) - 1}", args[-1])])
        return ("call", h.name, args[:-1] if how == "default" else args, [])

    def list_read(self, scope: Scope):
        name = self.choice(sorted(scope.lists))
        if scope.lists[name] == "s" and self.boolean():
            return ("index", ("var", name), self.choice(["0", "-1"]))
        stacked = ("stacked", "array" if scope.lists[name] == "s" else "stack", name)
        return ("reduce", self.choice(["sum", "mean"]), stacked)

    def cond(self, scope: Scope, depth: int):
        form = self.choice(["cmp"] * 5 + ["icmp", "and", "or", "not"])
        if form == "icmp" and scope.ints:
            name = self.choice(sorted(scope.ints))
            lo, hi = scope.ints[name]
            return ("icmp", name, self.choice([">", "<", ">=", "<=", "==", "!="]),
                    self.draw(st.integers(lo, hi)))
        if form in ("and", "or") and self.ok("boolop"):
            return (form, self.cond(scope, 0), self.cond(scope, 0))
        if form == "not" and self.ok("boolop"):
            return ("not", self.cond(scope, 0))
        d = min(depth, 2)
        rhs = ("const", self.choice(CONSTS)) if self.boolean() else self.expr(scope, "s", d)
        return ("cmp", self.expr(scope, "s", d), self.choice([">", "<", ">=", "<="]), rhs)

    # -- statements --------------------------------------------------------------------------

    def else_scope(self, scope: Scope) -> Scope:
        """The scope of a loop's else clause: break/continue there target an outer loop."""
        inner = scope.child()
        if not self.ok("else_jump"):
            inner.loops = 0
        return inner

    def stmts(self, scope: Scope, n_max: int, nest: int) -> list:
        n = self.draw(st.integers(1, n_max))
        return [s for _ in range(n) for s in self.stmt(scope, nest)]

    def stmt(self, scope: Scope, nest: int) -> list:
        options = ["assign", "assign", "aug", "aug"]
        if self.targets(scope):
            options += ["setitem", "setitem"]
            if self.ok("mask") and scope.writable:
                options.append("maskset")
        if self.ok("row_view") and own(scope.mats):
            options += ["row_view"] * 2
            if nest > 0 and self.ok("row_iter"):
                options.append("rows")
        if self.ok("slice_view") and own(scope.arrays):
            options.append("slice_view")
        if self.ok("other_view") and own(scope.arrays + scope.mats):
            options.append("other_view")
        if any(h.returns in ("part", "row") for h in scope.helpers):
            options.append("part_call")
        if any(h.returns == "writes" for h in scope.helpers) and self.targets(scope):
            options.append("writing_call")
        if nest > 0:
            options += ["if", "for", "while"]
            options += [k for k in ("rows", "list", "tuple_for", "buffers") if self.ok(k)]
        if scope.loops and self.ok("jump"):
            options.append("jump")
        if self.ok("early_return") and (scope.returns == "s" or self.ok("early_return_pair")):
            options.append("early_return")
        if self.ok("tuple"):
            options.append("swap")
            if any(h.returns == "pair" for h in scope.helpers):
                options.append("tcall")
        form = self.choice(options)
        return getattr(self, f"stmt_{form}")(scope, nest, self.draw(st.integers(1, 3)))

    def fresh_var(self, scope: Scope, kind: str) -> str:
        name = self.fresh({"s": "s", "a": "v", "m": "w"}[kind])
        scope.names(kind).append(name)
        return name

    def targets(self, scope: Scope) -> list[str]:
        """The arrays an element write may go into."""
        return scope.targets() if self.ok("param_write") else scope.writable

    def stmt_assign(self, scope: Scope, nest: int, d: int) -> list:
        kind = self.choice(["s", "s", "a"] + (["m"] if scope.mats else []))
        names = [n for n in scope.names(kind) if n not in scope.writable
                 and (self.ok("rebind_base") or n not in scope.bases())]
        e = self.expr(scope, kind, d)
        if kind != "s" and e[0] in ("var", "slice", "ifexp", "index"):
            e = ("bin", "*", e, ("const", 1.0))  # views and aliases: later writes are refused
        if names and self.boolean(0.4) and self.ok("reassign"):
            target = self.choice(names)
            if self.ok("self_update") or not reads(e, target):
                if target in scope.bases():
                    # views of the old array stay views of it: writes through them change
                    # memory no name reads any more (or the loop's iterator, for rows)
                    self.use("rebind_base", refusable=True)
                return [("assign", target, e)]
        return [("assign", self.fresh_var(scope, kind), e)]

    def stmt_aug(self, scope: Scope, nest: int, d: int) -> list:
        kind = self.choice(["s", "s", "a", "m"])
        names = scope.scalars if kind == "s" else [
            a for a in scope.names(kind) if (a in scope.writable or is_parameter(a))
            and (self.ok("mutate_iterated") or a not in scope.iterated)
            and (self.ok("aug_base") or a not in scope.bases())]  # m *= c under r = m[0]
        if not names:
            return []
        target = self.choice(names)
        ek = self.choice({"s": ["s"], "a": ["s", "a"], "m": ["s", "a", "m"]}[kind])
        ops = ["+=", "-=", "*=", "/="] if self.ok("self_update") else ["+=", "-=", "*="]
        return [("aug", target, self.choice(ops), self.expr(scope, ek, d))]

    def stmt_setitem(self, scope: Scope, nest: int, d: int) -> list:
        arr = self.choice(self.targets(scope))
        op = self.choice(["=", "+=", "-=", "*="])
        if arr not in scope.writable:
            self.use("param_write")
        if arr not in scope.mats and self.boolean(0.3) and self.ok("list_index"):
            return [self.list_index_write(scope, arr, op, d)]
        if arr in scope.mats:
            how = self.choice(["row", "entry", "column"])
            if how == "row":
                return [("setitem", arr, self.choice(ROWS), op,
                         self.expr(scope, self.choice(["a", "s"]), d))]
            idx = self.choice(self.index_exprs(scope))
            idx = f"{self.choice(ROWS)}, {idx}" if how == "entry" else f":, {idx}"
            return [("setitem", arr, idx, op, self.expr(scope, "s", d))]
        if self.boolean(0.2) and self.ok("slice"):
            idx = self.choice(["1:3", "0:2", ":"])
            e = (self.expr(scope, "s", d) if self.boolean() or idx != ":"
                 else self.rhs(scope, "a", d, arr))
        else:
            idx, e = self.choice(self.index_exprs(scope)), self.expr(scope, "s", d)
        return [("setitem", arr, idx, op, e)]

    def list_index_write(self, scope: Scope, arr: str, op: str, d: int):
        """``arr[[0, 0, 2]] op e``: a list index, repeats included (NumPy keeps the last of
        the writes to one element, and ``+=`` adds once)."""
        self.use("list_index")
        idx = self.choice(LIST_INDICES)
        kind = "a" if idx.count(",") == 2 and self.boolean() else "s"
        return ("setitem", arr, idx, op, self.rhs(scope, kind, d, arr))

    def rhs(self, scope: Scope, kind: str, d: int, target: str):
        """The value written into ``target``; knob "self_write": it may be target itself
        (``out[[0, 0, 2]] = out``, ``r[:] = r``)."""
        e = self.expr(scope, kind, d)
        if e == ("var", target) and not self.ok("self_write"):
            return ("bin", "*", e, ("const", 1.0))
        return e

    def row_indices(self, scope: Scope) -> list[str]:
        """Int index expressions valid for the rows of a (2, 3) matrix."""
        out = list(ROWS)
        for name, (lo, hi) in scope.ints.items():
            if lo >= 0 and hi <= 1:
                out.append(name)
            if lo >= 0 and hi <= 2:
                out.append(f"{name} - 1")
        return out

    def view_writes(self, scope: Scope, view: str, length: int, d: int) -> list:
        """One or two writes through a view of ``length`` entries: whole, entry, slice."""
        out = []
        for _ in range(self.draw(st.integers(1, 2))):
            how = self.choice(["aug", "aug", "entry", "all", "tail"])
            op = self.choice(["=", "+=", "-=", "*="])
            if how == "aug":
                ek = "a" if length == 3 and self.boolean() else "s"
                out.append(("aug", view, self.choice(["+=", "-=", "*="]),
                            self.expr(scope, ek, d)))
            elif how == "entry":
                idx = self.choice(self.index_exprs(scope) if length == 3 else ["0", "1", "-1"])
                out.append(("setitem", view, idx, op, self.expr(scope, "s", d)))
            elif how == "all":
                ek = "a" if length == 3 and self.boolean() else "s"
                out.append(("setitem", view, ":", op, self.rhs(scope, ek, d, view)))
            else:
                out.append(("setitem", view, "1:", op, self.expr(scope, "s", d)))
        return out

    def stmt_row_view(self, scope: Scope, nest: int, d: int) -> list:
        """``r = m[i]`` (i a constant or a loop counter), written through at once and maybe
        later: NumPy writes into m."""
        self.use("row_view")
        base = self.choice(own(scope.mats))
        r = self.fresh("r")
        out = [("assign", r, ("index", ("var", base), self.choice(self.row_indices(scope))))]
        out += self.view_writes(scope, r, 3, d)
        scope.arrays.append(r)
        scope.writable.append(r)
        scope.views[r] = base
        return out

    def stmt_slice_view(self, scope: Scope, nest: int, d: int) -> list:
        """``p = a[1:]`` (two entries), written through at once: NumPy writes into a.
        p stays live: the final return reads it (after any later write into a)."""
        self.use("slice_view")
        base = self.choice(own(scope.arrays))
        if base in scope.views:
            self.use("view_of_view")
        p = self.fresh("p")
        out = [("assign", p, ("slice", ("var", base), self.choice(["1:", ":2", "::2", "-2:"])))]
        out += self.view_writes(scope, p, 2, d)
        scope.parts.append(p)
        scope.views[p] = base
        return out

    def stmt_other_view(self, scope: Scope, nest: int, d: int) -> list:
        """Views the normalizer does not rewrite (``.T``, ``reshape``, ``ravel``,
        ``np.asarray``, ``a[...]``), written through: right, or refused."""
        self.use("other_view", refusable=True)
        base = self.choice(own(scope.arrays + scope.mats))
        t = self.fresh("t")
        if base in scope.mats:
            how, size = self.choice([(".T", 3), (".reshape(6)", 6), (".ravel()", 6),
                                     (".reshape(3, 2)", 3)])
            view = f"{base}{how}"
        else:
            view, size = self.choice([f"np.asarray({base})", f"{base}[...]",
                                      f"{base}.reshape(3)", f"{base}.reshape(1, 3)[0]"]), 3
        out = [("raw", f"{t} = {view}")]
        for _ in range(self.draw(st.integers(1, 2))):
            idx = str(self.draw(st.integers(-size, size - 1)))
            out.append(("setitem", t, idx, self.choice(["=", "+=", "*="]),
                        self.expr(scope, "s", d)))
        return out

    def stmt_part_call(self, scope: Scope, nest: int, d: int) -> list:
        """``z = part(a)`` then writes into z: refused when part returns a view of its
        argument, differentiated when it returns a new array."""
        h = self.choice([h for h in scope.helpers if h.returns in ("part", "row")])
        names = scope.arrays if h.returns == "part" else scope.mats
        if not names:
            return []
        z = self.fresh("z")
        self.use("helper_view" if h.view else "helper_new", refusable=h.view)
        out = [("assign", z, ("call", h.name, [("var", self.choice(names))], []))]
        out += self.view_writes(scope, z, 2 if h.returns == "part" else 3, d)
        if h.returns == "part":
            scope.parts.append(z)
        else:
            scope.arrays.append(z)
            scope.writable.append(z)
        return out

    def stmt_writing_call(self, scope: Scope, nest: int, d: int) -> list:
        """``s = bump(a, e)`` where bump writes into its array argument: refused when a is
        read afterwards (the final return reads every array)."""
        self.use("helper_writes", refusable=True)
        h = self.choice([h for h in scope.helpers if h.returns == "writes"])
        call = ("call", h.name, [("var", self.choice(self.targets(scope))),
                                 self.expr(scope, "s", d)], [])
        return [("assign", self.fresh_var(scope, "s"), call)]

    def stmt_buffers(self, scope: Scope, nest: int, d: int) -> list:
        """Double buffering, as explicit time stepping writes it: a fresh array every step
        filled from the last one (``v = np.zeros(3); v[j] = ...; u = v``; sometimes an array
        of booleans, whose writes have no derivative), or two arrays swapped
        (``u, v = v, u``). u shares memory with v from there on; v is not read."""
        self.use("buffers")
        u, v, step, j = self.fresh("buf"), self.fresh("nxt"), self.fresh("i"), self.fresh("j")
        start = self.choice(["np.zeros(3)", "np.ones(3)"] + [f"{a}.copy()" for a in
                                                              own(scope.arrays)])
        inner = scope.child()
        inner.arrays.append(u)
        inner.ints[j] = (0, 2)
        new = ("bin", "+", ("index", ("var", u), j),
               ("bin", "*", ("const", self.choice(CONSTS)), self.expr(inner, "s", 2)))
        fill = [("for", j, "range(3)", [("setitem", v, j, "=", new)], [])]
        swap = self.boolean()
        if swap:
            setup = [("raw", f"{u} = {start}"), ("raw", f"{v} = np.zeros(3)")]
            body = fill + [("raw", f"{u}, {v} = {v}, {u}")]
        else:  # now and then a boolean buffer: what is written is truncated to v != 0, and
            # u = v.astype(float) keeps u's type for Numba (u = v would change it)
            setup = [("raw", f"{u} = {start}")]
            boolean = self.draw(st.integers(0, 2)) == 0
            fresh, back = ("np.zeros(3, dtype=bool)", f"{v}.astype(float)") if boolean else (
                "np.zeros(3)", v)
            body = [("raw", f"{v} = {fresh}")] + fill + [("raw", f"{u} = {back}")]
        scope.arrays.append(u)
        scope.writable.append(u)
        return setup + [("for", step, f"range({self.draw(st.integers(1, 3))})", body, [])]

    def stmt_maskset(self, scope: Scope, nest: int, d: int) -> list:
        arr = self.choice(scope.writable)
        kind = "m" if arr in scope.mats else "a"
        mask = ("cmp", self.expr(scope, kind, 1), self.choice([">", "<"]),
                ("const", self.choice(CONSTS)))
        return [("maskset", arr, mask, self.choice(["=", "+="]), self.expr(scope, "s", d))]

    def stmt_jump(self, scope: Scope, nest: int, d: int) -> list:
        return [("jump", self.cond(scope, 2), self.choice(["break", "continue"]))]

    def stmt_early_return(self, scope: Scope, nest: int, d: int) -> list:
        return [("if", self.cond(scope, 2), [self.return_stmt(scope)], [])]

    def return_stmt(self, scope: Scope):
        """The function's return: a float that depends on every live variable, or a pair."""
        last = final_return(self, scope)
        if scope.returns == "s":
            return last
        return ("return", ("tuple", [last[1], self.expr(scope, "s", 2)]))

    def stmt_swap(self, scope: Scope, nest: int, d: int) -> list:
        if len(scope.scalars) < 2:
            return []
        a, b = self.draw(st.lists(st.sampled_from(scope.scalars), min_size=2, max_size=2,
                                  unique=True))
        return [("swap", a, b)]

    def stmt_tcall(self, scope: Scope, nest: int, d: int) -> list:
        h = self.choice([h for h in scope.helpers if h.returns == "pair"])
        call = ("call", h.name, [self.expr(scope, k, d) for k in h.kinds], [])
        return [("tcall", [self.fresh_var(scope, "s"), self.fresh_var(scope, "s")], call)]

    def stmt_if(self, scope: Scope, nest: int, d: int) -> list:
        cond = self.cond(scope, 2)
        body = self.stmts(scope.child(), 3, nest - 1)
        orelse = []
        if self.boolean(0.6):
            orelse = (self.stmt(scope.child(), nest) if self.boolean(0.3) and self.ok("elif")
                      else self.stmts(scope.child(), 3, nest - 1))
        return [("if", cond, body, orelse)]

    def loop_range(self, scope: Scope) -> tuple[str, tuple[int, int]]:
        kind = self.choice(["k", "k", "start", "down", "n"] if "n" in scope.ints
                           else ["k", "k", "start", "down"])
        if kind == "k":
            k = self.draw(st.integers(1, 4))
            return f"range({k})", (0, k - 1)
        if kind == "start":
            k = self.draw(st.integers(2, 4))
            return f"range(1, {k})", (1, k - 1)
        if kind == "down":
            return "range(3, 0, -1)", (1, 3)
        return "range(n)", (0, max(scope.ints["n"][1] - 1, 0))

    def stmt_for(self, scope: Scope, nest: int, d: int) -> list:
        inner = scope.child()
        inner.loops += 1
        var = self.fresh("i")
        rng, inner.ints[var] = self.loop_range(scope)
        body = self.stmts(inner, 3, nest - 1)
        orelse = self.stmts(self.else_scope(scope), 2, 0) if self.boolean(0.15) else []
        after = []
        if rng != "range(n)" and self.boolean(0.3):
            # read after the loop (never empty here): its last value, which a loop around
            # this one must keep for its backward iteration (tests/test_loop_rebinding.py)
            scope.ints[var] = inner.ints[var]
            if scope.loops and scope.scalars:  # read at once, where that matters
                lo, hi = inner.ints[var]
                read = ("var", var)
                if scope.arrays:
                    idx = var if hi <= 2 else f"{var} - 1" if lo >= 1 else "0"
                    read = ("bin", "*", read, ("index", ("var", self.choice(scope.arrays)), idx))
                # into a scalar parameter (x0, x1): the function's value reads them at the end
                kept = [n for n in scope.scalars if n[0] == "x" and n[1:].isdigit()]
                kept = kept or scope.scalars
                after = [("aug", self.choice(kept), "+=", read)]
        return [("for", var, rng, body, orelse)] + after

    def stmt_rows(self, scope: Scope, nest: int, d: int) -> list:
        """for over the entries of an array or the rows of a matrix, plain, enumerated or
        zipped with another of the same length."""
        if not (scope.arrays or scope.mats):
            return []
        inner = scope.child()
        inner.loops += 1
        mats = self.ok("row_iter") and scope.mats and self.boolean(0.6)
        a = self.choice(scope.mats if mats else scope.arrays + scope.mats)
        kind = "a" if a in scope.mats else "s"  # what one step yields
        same = scope.mats if a in scope.mats else scope.arrays
        inner.iterated.add(a)
        v = self.fresh_var(inner, kind)
        rows = {v: a}  # for a matrix: the loop variables are views of its rows
        how = self.choice(["plain", "enumerate", "zip"])
        if how == "plain":
            head = f"{v} in {a}"
        elif how == "enumerate":
            j = self.fresh("j")
            inner.ints[j] = (0, len(ROWS) - 2 if a in scope.mats else 2)
            head = f"{j}, {v} in enumerate({a})"
        else:
            w = self.fresh_var(inner, kind)
            b = self.choice(same)
            inner.iterated.add(b)
            rows[w] = b
            head = f"{v}, {w} in zip({a}, {b})"
        target, iterable = head.split(" in ", 1)
        body = []
        if kind == "a" and self.ok("row_iter"):
            self.use("row_iter")
            for name, base in rows.items():
                inner.writable.append(name)
                inner.views[name] = base
            if self.boolean(0.7):
                body = self.view_writes(inner, self.choice(sorted(rows)), 3, 1)
        return [("for", target, iterable, body + self.stmts(inner, 3, nest - 1), [])]

    def stmt_tuple_for(self, scope: Scope, nest: int, d: int) -> list:
        inner = scope.child()
        inner.loops += 1
        v = self.fresh_var(inner, "s")
        items = ("tuple", [self.expr(scope, "s", 1) for _ in range(2)])
        return [("for", v, items, self.stmts(inner, 2, nest - 1), [])]

    def stmt_list(self, scope: Scope, nest: int, d: int) -> list:
        """hs = []; a loop that appends to it (at least once: no jumps); later reads of it."""
        name = self.fresh("hs")
        inner = scope.child()
        inner.loops = 0  # a break before the append could leave the list empty
        var = self.fresh("i")
        k = self.draw(st.integers(1, 3))
        inner.ints[var] = (0, k - 1)
        body = self.stmts(inner, 2, nest - 1)
        kind = self.choice(["s", "a"])
        e = self.expr(inner, kind, d)
        after = []
        targets = [a for a in self.targets(scope) if a in scope.arrays]
        if kind == "a" and targets and self.ok("list_alias") and self.boolean(0.3):
            # the list holds the array itself: a write into it afterwards changes the entry
            self.use("list_alias", refusable=True)
            e = ("var", self.choice(targets))
            if self.boolean(0.7):
                after = self.view_writes(scope, e[1], 3, d)
        elif kind == "a" and e[0] in ("var", "slice", "ifexp", "index"):
            e = ("bin", "*", e, ("const", 1.0))  # an entry must not alias a later-written array
        scope.lists[name] = kind
        return [("raw", f"{name} = []"),
                ("for", var, f"range({k})", body + [("append", name, e)], [])] + after

    def stmt_while(self, scope: Scope, nest: int, d: int) -> list:
        inner = scope.child()
        inner.loops += 1
        counter = self.fresh("c")
        bound = self.draw(st.integers(1, 4))
        inner.ints[counter] = (1, bound)
        extra = None
        if self.boolean(0.4) and self.ok("while_data"):
            extra = ("cmp", self.expr(scope, "s", 1), "<", ("const", self.choice(CONSTS)))
        body = self.stmts(inner, 3, nest - 1)
        orelse = self.stmts(self.else_scope(scope), 2, 0) if self.boolean(0.15) else []
        return [("while", counter, bound, extra, body, orelse)]


def own(names: list[str]) -> list[str]:
    """Leaves out the parameters of helpers (u0, u1): a helper that wrote into its argument
    would be refused (or not) far from the write; "helper_writes" makes those on purpose."""
    return [n for n in names if not (n[0] == "u" and n[1:].isdigit())]


def is_parameter(name: str) -> bool:
    """f's own array parameters (a0, m1): in-place updates of them are supported."""
    return name[0] in "am" and name[1:].isdigit()


def final_return(gen: Gen, scope: Scope):
    """A scalar that depends on every live float variable."""
    terms = []
    for name in scope.scalars:
        terms.append(("bin", "*", ("const", gen.choice(WEIGHTS)), ("var", name)))
    for name in scope.arrays + scope.mats + scope.parts:
        how = gen.choice(["sum", "mean", "weighted"])
        if how == "weighted":
            w = (MATRIX_WEIGHTS if name in scope.mats
                 else PART_WEIGHTS if name in scope.parts else VECTOR_WEIGHTS)
            terms.append(("reduce", "sum", ("bin", "*", ("var", w), ("var", name))))
        else:
            terms.append(("reduce", how, ("var", name)))
    e = terms[0]
    for t in terms[1:]:
        e = ("bin", "+", e, t)
    return ("return", e)


def make_helpers(gen: Gen) -> tuple[list, list[Helper]]:
    """Up to three functions for f to call: floats to a float (maybe with a default
    argument), an array and a float to a float, floats to a pair of floats."""
    rendered, helpers = [], []
    candidates = [("helper", "s"), ("vhelper", "a"), ("pair", "pair")]
    for name, what in candidates:
        if not gen.ok("call") or not gen.boolean(0.5 if name == "helper" else 0.2):
            continue
        if what == "pair" and not gen.ok("tuple"):
            continue
        kinds = ("a", "s") if what == "a" else ("s",) * gen.draw(st.integers(1, 2))
        params = [f"u{k}" for k in range(len(kinds))]
        returns = "pair" if what == "pair" else "s"
        hscope = Scope(scalars=[p for p, k in zip(params, kinds) if k == "s"],
                       arrays=[p for p, k in zip(params, kinds) if k == "a"], returns=returns)
        body = gen.stmts(hscope, 2, 1 if gen.ok("call_control") else 0)
        default = len(kinds) == 2 and what == "s" and gen.boolean()
        if default:
            params[-1] += "=0.5"
        rendered.append((name, params, body + [gen.return_stmt(hscope)]))
        helpers.append(Helper(name, kinds, default, returns))
    return rendered + array_helpers(gen, helpers), helpers


PART_BODIES = {  # "part": (returned expression, whether it is a view of u0)
    "part": [("u0[1:]", True), ("u0[:2]", True), ("u0[::2]", True), ("u0[:2] * 1.0", False),
             ("u0[1:].copy()", False), ("np.sin(u0[::2])", False)],
    "row": [("u0[0]", True), ("u0[-1]", True), ("u0[1] + 0.0", False), ("u0[0].copy()", False)],
}
WRITER_BODIES = [["u0[0] = u1"], ["u0 *= u1"], ["u0[1:] += u1"], ["u0[[0, 0]] = u1"]]


def array_helpers(gen: Gen, helpers: list[Helper]) -> list:
    """Functions that return part of their array argument (a view or a new array) or
    write into it; appends them to ``helpers`` and returns their rendering."""
    rendered = []
    for name, returns in [("part", "part"), ("mrow", "row"), ("bump", "writes")]:
        if not gen.ok(f"helper_{returns}") or not gen.boolean(0.25):
            continue
        if returns == "writes":
            body = [("raw", line) for line in gen.choice(WRITER_BODIES)]
            rendered.append((name, ["u0", "u1"], body + [("raw", "return np.sum(u0) * 0.5")]))
            helpers.append(Helper(name, ("a", "s"), returns=returns))
            continue
        text, view = gen.choice(PART_BODIES[returns])
        rendered.append((name, ["u0"], [("raw", f"return {text}")]))
        helpers.append(Helper(name, ("a" if returns == "part" else "m",), returns=returns,
                              view=view))
    return rendered


@st.composite
def programs(draw, exclude=frozenset()):
    gen = Gen(draw, exclude)
    ns = draw(st.integers(1, 3))
    na = draw(st.integers(0, 2))
    nm = (draw(st.integers(0, 2 if gen.ok("twice") else 1))
          if gen.ok("matrix") and gen.boolean(0.6) else 0)
    use_n = draw(st.booleans()) and gen.ok("int_param")

    def value(k):  # distinct, "generic" values even after shrinking
        return draw(st.integers(-20, 20)) / 10 + 0.0123 * (k + 1) + 0.00071 * k * k

    params, args = [], []
    scope = Scope()
    for k in range(ns):
        params.append(f"x{k}")
        args.append(value(k))
        scope.scalars.append(f"x{k}")
    for k in range(na):
        params.append(f"a{k}")
        args.append(np.array([value(10 + 3 * k + j) for j in range(3)]))
        scope.arrays.append(f"a{k}")
    for k in range(nm):
        params.append(f"m{k}")
        args.append(np.array([[value(20 + 6 * k + 3 * i + j) for j in range(3)]
                              for i in range(2)]))
        scope.mats.append(f"m{k}")
    wrt = tuple(range(len(params)))
    if use_n:
        params.append("n")
        args.append(draw(st.integers(0, 3)))
        scope.ints["n"] = (0, 3)

    helpers, scope.helpers = make_helpers(gen)

    body = []
    # arrays created inside f, written element by element
    for _ in range(draw(st.integers(0, 2))):
        kind = "m" if scope.mats and gen.boolean(0.3) else "a"
        like = scope.names(kind)
        name = gen.fresh("out" if kind == "a" else "outm")
        fresh = ["np.zeros(3)", "np.ones(3)"] if kind == "a" else ["np.zeros((2, 3))"]
        how = gen.choice(fresh + [f"np.zeros_like({a})" for a in like]
                         + [f"{a}.copy()" for a in like])
        body.append(("raw", f"{name} = {how}"))
        scope.names(kind).append(name)
        scope.writable.append(name)
    body += gen.stmts(scope, 6, 2)
    body.append(final_return(gen, scope))
    twice, twice_row = None, False
    pairs = [(f"{k}0", f"{k}1") for k in "am" if f"{k}1" in params]
    pairs += [("m0", "a0")] if "m0" in params and "a0" in params else []  # a0 = m0[0]
    if pairs and gen.ok("twice") and gen.boolean(0.25):
        first, second = gen.choice(pairs)
        twice, twice_row = (params.index(first), params.index(second)), first[0] != second[0]
        gen.use("twice", refusable=True)
    return Program(params, args, wrt, helpers, body, frozenset(gen.used),
                   frozenset(gen.refusable), twice, twice_row)


# ---------------------------------------------------------------------------------------------
# containers, comprehensions and nested functions (issue 17)
# ---------------------------------------------------------------------------------------------
# A second family of programs: ``f(P, T, x)`` with ``P`` a dict {"W": (3,) array, "s": float,
# "n": int (carried, not differentiated)} and ``T`` a tuple ((3,) array, float). Each program
# draws which constructs it uses: reads and unpacking of the parameters, a tuple and a dict
# built inside, a nested def or a lambda reading enclosing locals, comprehensions (over a
# container, a tuple of names, a range) and a dict comprehension over P.items(). The
# functions are smooth (NUMPY_UNARY), so central differences are a reliable oracle.
CONTAINER_FEATURES = ("unpack_tuple", "tuple_inside", "dict_inside", "dict_call", "nested_def",
                      "lambda", "comprehension_over_param", "comprehension_over_names",
                      "list_comprehension", "dict_comprehension", "loop_over_items")


@dataclass
class ContainerProgram:
    source: str
    args: tuple
    features: tuple

    def __repr__(self) -> str:
        return f"ContainerProgram:\n{self.source}\nargs={self.args!r}"


def _render_container_program(features: set, fns: list[str], consts: list[float]) -> str:
    """The source of one program; ``fns`` are NUMPY_UNARY templates, ``consts`` constants."""
    f = iter(fns * 4)
    c = iter(consts * 4)
    lines = ["def f(P, T, x):", '    W = P["W"]', '    s = P["s"]']
    terms = ["np.sum(W * x) * s"]
    if "unpack_tuple" in features:
        lines.append("    u, t = T")
    else:
        lines += ["    u = T[0]", "    t = T[-1]"]
    terms.append(f"np.sum({next(f).format('u')}) * t")
    if "tuple_inside" in features:
        lines += [f"    p = (W * {next(c)}, {next(f).format('u')}, t)", "    a, b, e = p"]
        terms.append("np.sum(a * b) + p[2] * e")
    if "dict_inside" in features or "dict_call" in features:
        value = (f'dict(w=W + u, k={next(c)} * s)' if "dict_call" in features
                 else f'{{"w": W + u, "k": {next(c)} * s}}')
        lines.append(f"    d = {value}")
        terms.append(f'np.sum({next(f).format(chr(100) + "[" + chr(34) + "w" + chr(34) + "]")})'
                     ' * d["k"]')
    if "nested_def" in features:
        lines += ["    def step(v):", f"        return {next(f).format('v')} * s + t"]
        lines += ["    h = x", '    for _ in range(P["n"]):', "        h = step(h)"]
        terms.append("np.sum(h)")
    if "lambda" in features:
        lines.append(f"    scale = lambda v: v * s + {next(c)}  # noqa: E731")
        terms.append("np.sum(scale(W) * scale(u))")
    if "comprehension_over_param" in features:
        terms.append(f"sum(np.sum({next(f).format('v')}) for v in T)")
    if "comprehension_over_names" in features:
        terms.append(f"sum(np.sum(v * v) * {next(c)} for v in (W, u, x))")
    if "list_comprehension" in features:
        lines.append(f"    ys = np.array([W[i] * u[i] + {next(c)} for i in range(3)])")
        terms.append("np.sum(ys * ys)")
    if "dict_comprehension" in features:
        lines.append(f"    q = {{k: v * {next(c)} for k, v in P.items()}}")
        terms.append('np.sum(q["W"] * x) + q["s"] * q["n"]')
    if "loop_over_items" in features:
        lines += ["    total = 0.0", "    for k, v in P.items():",
                  f"        total = total + np.sum({next(f).format('v')})"]
        terms.append("total")
    lines.append("    return " + " + ".join(terms))
    return "import numpy as np\n\n\n" + "\n".join(lines) + "\n"


@st.composite
def container_programs(draw):
    chosen = draw(st.sets(st.sampled_from(CONTAINER_FEATURES), min_size=1, max_size=6))
    fns = draw(st.lists(st.sampled_from(sorted(NUMPY_UNARY.values())), min_size=3, max_size=3))
    consts = draw(st.lists(st.sampled_from(CONSTS), min_size=3, max_size=3))
    values = st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 4))
    vector = st.lists(values, min_size=3, max_size=3).map(np.array)
    P = {"W": draw(vector), "s": draw(values), "n": draw(st.integers(0, 2))}
    T = (draw(vector), draw(values))
    source = _render_container_program(chosen, fns, consts)
    return ContainerProgram(source, (P, T, draw(vector)), tuple(sorted(chosen)))
