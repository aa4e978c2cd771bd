"""Random programs over adjoint's supported subset, for the differential fuzzer in test_fuzz.py.

A program is a small tree of statements and expressions (plain tuples) that renders to Python
source twice: plainly, for ``grad`` to read from a real file, and *instrumented*, where every
float comparison and every kink (np.max, np.maximum, np.abs, masks) goes through a helper that
records how close the input was to the non-differentiable point. The fuzzer skips programs
that pass within ``MARGIN`` of such a point, so central differences are trustworthy.
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

# name -> template; {0} is the argument. Every template has a safe domain for any real input.
UNARY_ANY = {
    "np.sin": "np.sin({0})",
    "np.cos": "np.cos({0})",
    "np.tanh": "np.tanh({0})",
    "np.exp": "np.exp(np.tanh({0}))",
    "np.log": "np.log(1.5 + {0} * {0})",
    "np.sqrt": "np.sqrt(1.5 + {0} * {0})",
}
UNARY_SCALAR = {
    "math.sin": "math.sin({0})",
    "math.cos": "math.cos({0})",
    "math.tanh": "math.tanh({0})",
    "math.exp": "math.exp(math.tanh({0}))",
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

        def kmax(a, fn):
            flat = np.sort(np.ravel(np.asarray(a, float)))
            if flat.size > 1:
                note(flat[-1] - flat[-2] if fn == "max" else flat[1] - flat[0])
            return np.max(a) if fn == "max" else np.min(a)

        def kmaximum(a, b, fn):
            note(np.min(np.abs(np.asarray(a, float) - np.asarray(b, float))))
            return np.maximum(a, b) if fn == "maximum" else np.minimum(a, b)

        def kabs(a):
            note(np.min(np.abs(np.asarray(a, float))))
            return np.abs(a)

        return {"np": np, "math": math, "_cmp": cmp, "_kmax": kmax, "_kmaximum": kmaximum,
                "_kabs": kabs}


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------

def rx(e, inst: bool) -> str:
    """Render an expression node."""
    tag = e[0]
    if tag == "var":
        return e[1]
    if tag == "const":
        return repr(e[1])
    if tag == "bin":
        return f"({rx(e[2], inst)} {e[1]} {rx(e[3], inst)})"
    if tag == "div":
        d = rx(e[2], inst)
        return f"({rx(e[1], inst)} / (1.5 + {d} * {d}))"
    if tag == "square":
        return f"({rx(e[1], inst)} ** 2)"
    if tag == "neg":
        return f"(-{rx(e[1], inst)})"
    if tag == "unary":
        table = UNARY_ANY if e[1] in UNARY_ANY else UNARY_SCALAR
        return table[e[1]].format(rx(e[2], inst))
    if tag == "ifexp":
        return f"({rx(e[2], inst)} if {rc(e[1], inst)} else {rx(e[3], inst)})"
    if tag == "index":  # arr[idx]; idx is a rendered int expression
        return f"{rx(e[1], inst)}[{e[2]}]"
    if tag == "slice":
        return f"{rx(e[1], inst)}[{e[2]}]"
    if tag == "reduce":
        fn, a = e[1], rx(e[2], inst)
        if fn in ("max", "min"):
            return f"_kmax({a}, {fn!r})" if inst else f"np.{fn}({a})"
        if fn == "sum_method":
            return f"{a}.sum()"
        return f"np.{fn}({a})"
    if tag == "dot":
        return f"np.dot({rx(e[1], inst)}, {rx(e[2], inst)})"
    if tag == "maximum":
        fn, a, b = e[1], rx(e[2], inst), rx(e[3], inst)
        return f"_kmaximum({a}, {b}, {fn!r})" if inst else f"np.{fn}({a}, {b})"
    if tag == "abs":
        return f"_kabs({rx(e[1], inst)})" if inst else f"np.abs({rx(e[1], inst)})"
    if tag == "ones":
        return f"(np.ones(3) * {rx(e[1], inst)})"
    if tag == "call":
        return f"{e[1]}({', '.join(rx(a, inst) for a in e[2])})"
    raise AssertionError(e)


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
        out.append(f"{pad}for {s[1]} in {s[2]}:")
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

    def render(self, inst: bool = False) -> str:
        out = ["import math", "", "import numpy as np", ""]
        for name, params, body in self.helpers:
            out += ["", f"def {name}({', '.join(params)}):"]
            block(body, inst, 1, out)
            out.append("")
        out += ["", f"def f({', '.join(self.params)}):"]
        block(self.body, inst, 1, out)
        return "\n".join(out) + "\n"

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        args = ", ".join(f"np.array({a.tolist()!r})" if isinstance(a, np.ndarray) else repr(a)
                         for a in self.args)
        return f"\n{self.render()}\n# f({args}), wrt={self.wrt}\n"


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------

@dataclass
class Scope:
    scalars: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)
    writable: list[str] = field(default_factory=list)  # arrays created in f: element writes ok
    ints: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (lo, hi)
    helpers: list[tuple[str, int]] = field(default_factory=list)  # (name, number of args)
    loops: int = 0  # how many loops enclose the current point
    iterated: set[str] = field(default_factory=set)  # arrays an enclosing loop iterates over

    def child(self) -> Scope:
        return Scope(list(self.scalars), list(self.arrays), list(self.writable),
                     dict(self.ints), self.helpers, self.loops, set(self.iterated))


class Gen:
    """Drawing state: fresh names and the knobs that can switch constructs off."""

    def __init__(self, draw, exclude=frozenset()):
        self.draw = draw
        self.exclude = exclude
        self.n = 0

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
        if scope.arrays:
            options += ["index"] * 2
        if scope.ints:
            options.append("int")
        kind = self.choice(options)
        if kind == "var" and scope.scalars:
            return ("var", self.choice(scope.scalars))
        if kind == "index":
            return ("index", ("var", self.choice(scope.arrays)), self.choice(
                self.index_exprs(scope)))
        if kind == "int":
            return ("var", self.choice(sorted(scope.ints)))
        return ("const", self.choice(CONSTS))

    def array_leaf(self, scope: Scope):
        if scope.arrays and self.boolean(0.85):
            return ("var", self.choice(scope.arrays))
        return ("ones", self.scalar_leaf(scope))

    def expr(self, scope: Scope, kind: str, depth: int):
        """An expression of kind 's' (float scalar) or 'a' (float array of shape (3,))."""
        if depth <= 0 or self.boolean(0.25):
            return self.scalar_leaf(scope) if kind == "s" else self.array_leaf(scope)
        options = ["bin"] * 4 + ["div", "unary", "unary", "square", "neg"]
        if self.ok("ifexp") and (kind == "s" or self.ok("array_ifexp")):
            options.append("ifexp")
        if kind == "s":
            options += ["reduce", "reduce", "index_expr"]
            if self.ok("dot"):
                options.append("dot")
            if scope.helpers and self.ok("call"):
                options += ["call", "call"]
        else:
            options += ["maximum", "abs"] + (["slice_rev"] if self.ok("view") else [])
        form = self.choice(options)
        d = depth - 1
        if form == "bin":
            op = self.choice(["+", "-", "*"])
            if kind == "a":  # broadcasting: one side may be a scalar
                lk, rk = self.choice([("a", "a"), ("a", "s"), ("s", "a")])
            else:
                lk = rk = "s"
            return ("bin", op, self.expr(scope, lk, d), self.expr(scope, rk, d))
        if form == "div":
            rk = "s" if kind == "s" else self.choice(["s", "a"])
            return ("div", self.expr(scope, kind, d), self.expr(scope, rk, d))
        if form == "square":
            return ("square", self.expr(scope, kind, d))
        if form == "neg":
            return ("neg", self.expr(scope, kind, d))
        if form == "unary":
            names = list(UNARY_ANY) + (list(UNARY_SCALAR) if kind == "s" else [])
            return ("unary", self.choice(names), self.expr(scope, kind, d))
        if form == "ifexp":
            return ("ifexp", self.cond(scope, d), self.expr(scope, kind, d),
                    self.expr(scope, kind, d))
        if form == "reduce":
            fns = ["sum", "mean", "sum_method"] + (["max", "min"] if self.ok("max") else [])
            return ("reduce", self.choice(fns), self.expr(scope, "a", d))
        if form == "index_expr":
            return ("index", self.expr(scope, "a", d), self.choice(self.index_exprs(scope)))
        if form == "dot":
            return ("dot", self.expr(scope, "a", d), self.expr(scope, "a", d))
        if form == "call":
            name, nargs = self.choice(scope.helpers)
            return ("call", name, [self.expr(scope, "s", d) for _ in range(nargs)])
        if form == "maximum" and self.ok("maximum"):
            return ("maximum", self.choice(["maximum", "minimum"]), self.expr(scope, "a", d),
                    self.expr(scope, self.choice(["a", "s"]), d))
        if form == "abs" and self.ok("abs"):
            return ("abs", self.expr(scope, "a", d))
        if form == "slice_rev":
            return ("slice", self.expr(scope, "a", d), "::-1")
        return self.array_leaf(scope) if kind == "a" else self.scalar_leaf(scope)

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
        if scope.writable:
            options += ["setitem", "setitem"]
            if self.ok("mask"):
                options.append("maskset")
        if nest > 0:
            options += ["if", "for", "while"]
            if self.ok("rows"):
                options.append("rows")
        if scope.loops and self.ok("jump"):
            options.append("jump")
        form = self.choice(options)
        d = self.draw(st.integers(1, 3))
        if form == "assign":
            kind = self.choice(["s", "s", "a"])
            names = scope.scalars if kind == "s" else [
                a for a in scope.arrays if a not in scope.writable]
            e = self.expr(scope, kind, d)
            if kind == "a" and e[0] in ("var", "slice", "ifexp"):  # aliases: writes refused
                e = ("bin", "*", e, ("const", 1.0))
            if names and self.boolean(0.4) and self.ok("reassign"):
                target = self.choice(names)
                if self.ok("self_update") or not reads(e, target):
                    return [("assign", target, e)]
            name = self.fresh("s" if kind == "s" else "v")
            (scope.scalars if kind == "s" else scope.arrays).append(name)
            return [("assign", name, e)]
        if form == "aug":
            kind = self.choice(["s", "s", "a"]) if scope.arrays else "s"
            names = scope.scalars if kind == "s" else [
                a for a in scope.arrays if (a in scope.writable or a.startswith("a"))
                and (self.ok("mutate_iterated") or a not in scope.iterated)]
            if not names:
                return []
            target = self.choice(names)
            ek = "s" if kind == "s" else self.choice(["s", "a"])
            ops = ["+=", "-=", "*=", "/="] if self.ok("self_update") else ["+=", "-=", "*="]
            return [("aug", target, self.choice(ops), self.expr(scope, ek, d))]
        if form == "setitem":
            arr = self.choice(scope.writable)
            if self.boolean(0.2) and self.ok("slice"):
                idx = self.choice(["1:3", "0:2", ":"])
                e = (self.expr(scope, "s", d) if self.boolean() or idx != ":"
                     else self.expr(scope, "a", d))
            else:
                idx, e = self.choice(self.index_exprs(scope)), self.expr(scope, "s", d)
            return [("setitem", arr, idx, self.choice(["=", "+=", "-=", "*="]), e)]
        if form == "maskset":
            arr = self.choice(scope.writable)
            mask = ("cmp", self.expr(scope, "a", 1), self.choice([">", "<"]),
                    ("const", self.choice(CONSTS)))
            return [("maskset", arr, mask, self.choice(["=", "+="]), self.expr(scope, "s", d))]
        if form == "jump":
            return [("jump", self.cond(scope, 2), self.choice(["break", "continue"]))]
        if form == "if":
            cond = self.cond(scope, 2)
            body = self.stmts(scope.child(), 3, nest - 1)
            orelse = []
            if self.boolean(0.6):
                orelse = (self.stmt(scope.child(), nest) if self.boolean(0.3) and self.ok("elif")
                          else self.stmts(scope.child(), 3, nest - 1))
            return [("if", cond, body, orelse)]
        if form == "for":
            inner = scope.child()
            inner.loops += 1
            var = self.fresh("i")
            kind = self.choice(["k", "k", "start", "down", "n"] if "n" in scope.ints
                               else ["k", "k", "start", "down"])
            if kind == "k":
                k = self.draw(st.integers(1, 4))
                rng, lohi = f"range({k})", (0, k - 1)
            elif kind == "start":
                k = self.draw(st.integers(2, 4))
                rng, lohi = f"range(1, {k})", (1, k - 1)
            elif kind == "down":
                rng, lohi = "range(3, 0, -1)", (1, 3)
            else:
                rng, lohi = "range(n)", scope.ints["n"]
                lohi = (0, max(lohi[1] - 1, 0))
            inner.ints[var] = lohi
            body = self.stmts(inner, 3, nest - 1)
            orelse = self.stmts(self.else_scope(scope), 2, 0) if self.boolean(0.15) else []
            return [("for", var, rng, body, orelse)]
        if form == "rows":
            if not scope.arrays:
                return []
            inner = scope.child()
            inner.loops += 1
            how = self.choice(["plain", "enumerate", "zip"])
            a = self.choice(scope.arrays)
            inner.iterated.add(a)
            v = self.fresh("r")
            inner.scalars.append(v)
            if how == "plain":
                head = f"{v} in {a}"
            elif how == "enumerate":
                j = self.fresh("j")
                inner.ints[j] = (0, 2)
                head = f"{j}, {v} in enumerate({a})"
            else:
                w = self.fresh("w")
                inner.scalars.append(w)
                b = self.choice(scope.arrays)
                inner.iterated.add(b)
                head = f"{v}, {w} in zip({a}, {b})"
            target, iterable = head.split(" in ", 1)
            return [("for", target, iterable, self.stmts(inner, 3, nest - 1), [])]
        if form == "while":
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
        return []


def final_return(gen: Gen, scope: Scope):
    """A scalar that depends on every live float variable."""
    terms = []
    for name in scope.scalars:
        terms.append(("bin", "*", ("const", gen.choice(WEIGHTS)), ("var", name)))
    for name in scope.arrays:
        how = gen.choice(["sum", "mean", "weighted"])
        if how == "weighted":
            w = ("var", "np.array([0.7, -1.2, 0.4])")
            terms.append(("reduce", "sum", ("bin", "*", w, ("var", name))))
        else:
            terms.append(("reduce", how, ("var", name)))
    e = terms[0]
    for t in terms[1:]:
        e = ("bin", "+", e, t)
    return ("return", e)


@st.composite
def programs(draw, exclude=frozenset()):
    gen = Gen(draw, exclude)
    ns = draw(st.integers(1, 3))
    na = draw(st.integers(0, 2))
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
    wrt = tuple(range(len(params)))
    if use_n:
        params.append("n")
        args.append(draw(st.integers(0, 3)))
        scope.ints["n"] = (0, 3)

    helpers = []
    if gen.ok("call") and draw(st.booleans()):
        nargs = draw(st.integers(1, 2))
        hp = [f"u{k}" for k in range(nargs)]
        hscope = Scope(scalars=list(hp))
        hbody = gen.stmts(hscope, 2, 1 if gen.ok("call_control") else 0)
        ret = hscope.scalars[0] if len(hscope.scalars) == 1 else None
        e = ("var", ret) if ret else final_return(gen, hscope)[1]
        helpers.append(("helper", hp, hbody + [("return", e)]))
        scope.helpers.append(("helper", nargs))

    body = []
    # arrays created inside f, written element by element
    for _ in range(draw(st.integers(0, 2))):
        name = gen.fresh("out")
        how = gen.choice(["np.zeros(3)", "np.ones(3)"] + [f"np.zeros_like({a})"
                                                          for a in scope.arrays]
                         + [f"{a}.copy()" for a in scope.arrays])
        body.append(("raw", f"{name} = {how}"))
        scope.arrays.append(name)
        scope.writable.append(name)
    body += gen.stmts(scope, 6, 2)
    body.append(final_return(gen, scope))
    return Program(params, args, wrt, helpers, body)
