"""NORMALIZE: fence off unsupported syntax and rewrite to one operation per statement.

Every statement of the result is ``name = <one operation on atoms>``, a ``return`` of an
atom, or a forward-only statement (``assert``, a call made for its side effect). Atoms are
names, constants, dotted globals such as ``np.pi`` and tuples of atoms. Temporaries are
``t1, t2, ...`` in order of evaluation; each statement remembers the user statement it came
from in ``stmt.origin``.

>>> import ast
>>> from adjoint.normalize import normalize_body
>>> tree = ast.parse("def f(x, b):\\n    h = np.maximum(0, x.dot(W) + b)\\n    return h.sum()")
>>> print(ast.unparse(normalize_body(tree.body[0], {"np", "W"})))
def f(x, b):
    t1 = x.dot(W)
    t2 = t1 + b
    h = np.maximum(0, t2)
    t3 = h.sum()
    return t3
"""
from __future__ import annotations

import ast
from collections.abc import Callable

from .errors import Location, UnsupportedSyntaxError
from .names import Namer, names_in

# Statements with no derivative meaning that we refuse, each with what to write instead.
UNSUPPORTED_STATEMENTS: dict[type, tuple[str, str]] = {
    ast.Try: ("try/except", "move error handling outside the differentiated function"),
    ast.With: ("a with statement", "enter the context outside the differentiated function"),
    ast.AsyncWith: ("async with", "differentiate synchronous numeric code only"),
    ast.AsyncFor: ("async for", "differentiate synchronous numeric code only"),
    ast.AsyncFunctionDef: ("an async function", "differentiate synchronous numeric code only"),
    ast.FunctionDef: ("a nested function definition", "define the helper at module level"),
    ast.ClassDef: ("a class definition", "define the class at module level"),
    ast.Global: ("a global statement", "pass the value in as an argument and return it"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value in as an argument and return it"),
    ast.Delete: ("a del statement", "drop the del; the variable simply goes unused"),
    ast.Import: ("an import inside the function", "import at module level"),
    ast.ImportFrom: ("an import inside the function", "import at module level"),
    ast.Raise: ("a raise statement", "validate inputs before calling the gradient"),
}
if hasattr(ast, "TryStar"):
    UNSUPPORTED_STATEMENTS[ast.TryStar] = UNSUPPORTED_STATEMENTS[ast.Try]
if hasattr(ast, "Match"):
    UNSUPPORTED_STATEMENTS[ast.Match] = ("a match statement", "use if/elif/else")

UNSUPPORTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    ast.Lambda: ("a lambda", "define a module-level function with def"),
    ast.ListComp: ("a list comprehension", "use a for loop, or a vectorised NumPy expression"),
    ast.SetComp: ("a set comprehension", "use a for loop"),
    ast.DictComp: ("a dict comprehension", "use a for loop"),
    ast.GeneratorExp: ("a generator expression", "use a for loop, or a NumPy reduction"),
    ast.Yield: ("yield", "return a value; generators cannot be differentiated"),
    ast.YieldFrom: ("yield from", "return a value; generators cannot be differentiated"),
    ast.Await: ("await", "differentiate synchronous numeric code only"),
    ast.NamedExpr: ("an assignment expression (:=)", "assign on its own line first"),
    ast.Starred: ("star-unpacking (*args)", "pass the arguments one by one"),
    ast.Dict: ("a dict literal", "pass arrays or scalars as separate variables"),
    ast.Set: ("a set literal", "use a tuple"),
}

# Control flow arrives with the control-flow issue; until then, say so precisely.
CONTROL_FLOW = {ast.If: "an if statement", ast.For: "a for loop", ast.While: "a while loop",
                ast.Break: "break", ast.Continue: "continue"}


def local_names(fn: ast.FunctionDef) -> set[str]:
    """Parameters and every name the body assigns: these shadow globals of the same name."""
    found = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
    return found


def dotted_root(node: ast.expr) -> str | None:
    """``np`` for ``np.linalg.norm``; None when the expression is not a dotted name."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, bool)


class Normalizer:
    """Rewrites one function body; see the module docstring for the form it produces."""

    def __init__(self, fn: ast.FunctionDef, namer: Namer,
                 where: Callable[[ast.AST], Location]):
        self.fn = fn
        self.namer = namer
        self.where = where
        self.locals = local_names(fn)
        self.out: list[ast.stmt] = []
        self.origin: ast.stmt | None = None

    # -- errors -------------------------------------------------------------------------
    def unsupported(self, node: ast.AST, what: str, hint: str) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(f"{what} is not supported", self.where(node), hint)

    # -- statements ---------------------------------------------------------------------
    def run(self) -> ast.FunctionDef:
        self.check_signature()
        body = list(self.fn.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.Return) and i != len(body) - 1:
                raise self.unsupported(stmt, "an early return", "return once, at the end")
            self.statement(stmt)
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            last = body[-1] if body else self.fn
            raise UnsupportedSyntaxError(
                f"function {self.fn.name!r} must end with 'return <value>'", self.where(last),
                "return the scalar (or array) you want to differentiate",
            )
        new = ast.FunctionDef(name=self.fn.name, args=self.fn.args, body=self.out,
                              decorator_list=[], returns=None, type_comment=None)
        if hasattr(ast.FunctionDef(), "type_params"):
            new.type_params = []
        return ast.copy_location(new, self.fn)

    def check_signature(self) -> None:
        args = self.fn.args
        for star, what in ((args.vararg, "*args"), (args.kwarg, "**kwargs")):
            if star is not None:
                raise self.unsupported(star, f"a {what} parameter",
                                       "name each parameter the function takes")

    def emit(self, stmt: ast.stmt, like: ast.AST) -> None:
        ast.copy_location(stmt, like)
        stmt.origin = self.origin
        self.out.append(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        self.origin = stmt
        kind = type(stmt)
        if kind in UNSUPPORTED_STATEMENTS:
            raise self.unsupported(stmt, *UNSUPPORTED_STATEMENTS[kind])
        if kind in CONTROL_FLOW:
            raise self.unsupported(stmt, CONTROL_FLOW[kind],
                                   "write the computation without it, or use np.where for "
                                   "elementwise choices")
        self.fence_expressions(stmt)
        if isinstance(stmt, ast.Assign):
            self.assign(stmt.targets, stmt.value, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign([stmt.target], stmt.value, stmt)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.Return):
            if stmt.value is None:
                raise self.unsupported(stmt, "a bare return", "return the value to differentiate")
            self.emit(ast.Return(value=self.atom(stmt.value)), stmt)
        elif isinstance(stmt, (ast.Expr, ast.Assert)):
            self.emit(stmt, stmt)  # forward only: printing, assertions
        elif isinstance(stmt, ast.Pass):
            pass
        else:
            raise self.unsupported(stmt, f"a {kind.__name__} statement",
                                   "rewrite it with assignments and NumPy calls")

    def fence_expressions(self, stmt: ast.stmt) -> None:
        for node in ast.walk(stmt):
            if type(node) in UNSUPPORTED_EXPRESSIONS:
                raise self.unsupported(node, *UNSUPPORTED_EXPRESSIONS[type(node)])
            if isinstance(node, ast.IfExp):
                raise self.unsupported(node, "a conditional expression (a if c else b)",
                                       "use np.where(c, a, b)")

    def assign(self, targets: list[ast.expr], value: ast.expr, stmt: ast.stmt) -> None:
        first, *others = targets
        if isinstance(first, ast.Name):
            self.emit(ast.Assign(targets=[self.store(first.id)], value=self.op(value)), stmt)
        elif isinstance(first, (ast.Tuple, ast.List)):
            self.unpack(first, value, stmt)
        else:
            raise self.unsupported(first, "assigning into an element or attribute",
                                   "build a new array with np.where or np.concatenate")
        for other in others:  # a = b = expr: copies of the first target
            if not isinstance(other, ast.Name) or not isinstance(first, ast.Name):
                raise self.unsupported(other, "a chained assignment to several kinds of target",
                                       "assign on separate lines")
            self.emit(ast.Assign(targets=[self.store(other.id)], value=self.load(first.id)), stmt)

    def unpack(self, target: ast.Tuple | ast.List, value: ast.expr, stmt: ast.stmt) -> None:
        if not all(isinstance(t, ast.Name) for t in target.elts):
            raise self.unsupported(target, "nested or element targets in tuple unpacking",
                                   "unpack into plain names")
        if not isinstance(value, (ast.Tuple, ast.List)) or len(value.elts) != len(target.elts):
            raise self.unsupported(value, "unpacking a value that is not a literal tuple",
                                   "index the result instead, e.g. a = pair[0]")
        # Evaluate every right-hand side first, as Python does, so swaps stay correct.
        atoms = [self.atom(e, force_temp=True) for e in value.elts]
        for name, atom in zip(target.elts, atoms):
            self.emit(ast.Assign(targets=[self.store(name.id)], value=atom), stmt)

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        if not isinstance(stmt.target, ast.Name):
            raise self.unsupported(stmt.target, "augmented assignment into an element",
                                   "build a new array with np.where or np.concatenate")
        value = ast.BinOp(left=self.load(stmt.target.id), op=stmt.op, right=self.atom(stmt.value))
        self.emit(ast.Assign(targets=[self.store(stmt.target.id)],
                             value=ast.copy_location(value, stmt)), stmt)

    # -- expressions --------------------------------------------------------------------
    def is_atom(self, e: ast.expr) -> bool:
        if isinstance(e, (ast.Name, ast.Constant)):
            return True
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and is_number(e.operand):
            return True
        if isinstance(e, ast.Attribute):
            return self.is_global_path(e)
        if isinstance(e, ast.Tuple):
            return all(self.is_atom(x) for x in e.elts)
        return False

    def is_global_path(self, e: ast.expr) -> bool:
        root = dotted_root(e)
        return root is not None and root not in self.locals

    def atom(self, e: ast.expr, force_temp: bool = False) -> ast.expr:
        """Reduce ``e`` to an atom, emitting a statement per operation it contains."""
        if self.is_atom(e) and not force_temp:
            if isinstance(e, ast.UnaryOp):
                return ast.copy_location(ast.Constant(-e.operand.value), e)
            return e
        value = self.op(e)
        name = self.namer.temp()
        self.emit(ast.Assign(targets=[self.store(name)], value=value), e)
        return ast.copy_location(self.load(name), e)

    def op(self, e: ast.expr) -> ast.expr:
        """One operation whose operands are atoms."""
        if self.is_atom(e):
            return self.atom(e)
        if isinstance(e, ast.BinOp):
            new = ast.BinOp(left=self.atom(e.left), op=e.op, right=self.atom(e.right))
        elif isinstance(e, ast.UnaryOp):
            new = ast.UnaryOp(op=e.op, operand=self.atom(e.operand))
        elif isinstance(e, (ast.Compare, ast.BoolOp, ast.JoinedStr)):
            return e  # never differentiable: kept as written, evaluated in one piece
        elif isinstance(e, ast.Call):
            new = self.call(e)
        elif isinstance(e, ast.Attribute):
            new = ast.Attribute(value=self.atom(e.value), attr=e.attr, ctx=ast.Load())
        elif isinstance(e, ast.Subscript):
            new = ast.Subscript(value=self.atom(e.value), slice=self.index(e.slice),
                                ctx=ast.Load())
        elif isinstance(e, (ast.Tuple, ast.List)):
            new = type(e)(elts=[self.atom(x) for x in e.elts], ctx=ast.Load())
        else:
            raise self.unsupported(e, f"the expression {ast.unparse(e)!r}",
                                   "split it into simpler assignments")
        return ast.copy_location(new, e)

    def call(self, e: ast.Call) -> ast.Call:
        func = e.func
        if isinstance(func, ast.Attribute) and not self.is_global_path(func):
            func = ast.Attribute(value=self.atom(func.value), attr=func.attr, ctx=ast.Load())
        elif not isinstance(func, (ast.Name, ast.Attribute)):
            raise self.unsupported(e, "calling the result of an expression",
                                   "assign the function to a module-level name first")
        for kw in e.keywords:
            if kw.arg is None:
                raise self.unsupported(kw.value, "**keyword unpacking in a call",
                                       "pass keyword arguments one by one")
        args = [self.atom(a) for a in e.args]
        keywords = [ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        return ast.Call(func=func, args=args, keywords=keywords)

    def index(self, e: ast.expr) -> ast.expr:
        """An index keeps its slices and tuples; anything computed inside becomes a temporary."""
        if isinstance(e, ast.Slice):
            parts = {k: (self.atom(getattr(e, k)) if getattr(e, k) is not None else None)
                     for k in ("lower", "upper", "step")}
            return ast.copy_location(ast.Slice(**parts), e)
        if isinstance(e, ast.Tuple):
            return ast.copy_location(
                ast.Tuple(elts=[self.index(x) for x in e.elts], ctx=ast.Load()), e)
        return self.atom(e)

    @staticmethod
    def load(name: str) -> ast.Name:
        return ast.Name(id=name, ctx=ast.Load())

    @staticmethod
    def store(name: str) -> ast.Name:
        return ast.Name(id=name, ctx=ast.Store())


def normalize_body(fn: ast.FunctionDef, global_names: set[str] = frozenset(),
                   where: Callable[[ast.AST], Location] | None = None,
                   namer: Namer | None = None) -> ast.FunctionDef:
    """Normalize one function definition (the doctest entry point)."""
    namer = namer or Namer(names_in(fn) | set(global_names))
    where = where or (lambda node: Location("<ast>", getattr(node, "lineno", 0)))
    result = Normalizer(fn, namer, where).run()
    return ast.fix_missing_locations(result)
