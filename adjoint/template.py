"""Turn a rule function into adjoint statements by substituting the statement's atoms.

A rule's first parameter is the statement's result, the rest are the call's parameters;
``d[v]`` stands for the adjoint of ``v``. Only ``d[v] += expr`` and local assignments are
allowed in a rule body; the engine decides whether a contribution is a first write.
"""
from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field


class TemplateError(Exception):
    """A rule function that is not a valid template (raised at registration)."""


@dataclass
class Template:
    """A parsed rule: parameter names, local names, and its ``d[p] += e`` contributions."""

    name: str
    signature: inspect.Signature
    params: list[str]
    body: list[ast.stmt]
    targets: set[str] = field(default_factory=set)  # parameters that receive an adjoint

    @property
    def result(self) -> str:
        return self.params[0]


@dataclass
class Contribution:
    target: ast.expr  # the atom whose adjoint receives the value
    value: ast.expr


@dataclass
class Instance:
    """A rule filled in for one statement: local assignments, then contributions."""

    locals: list[ast.Assign]
    contributions: list[Contribution]


def parse_template(func: Callable) -> Template:
    src = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(src).body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise TemplateError(f"rule {func!r} must be a function defined with def")
    sig = inspect.signature(func)
    params = list(sig.parameters)
    if not params:
        raise TemplateError(f"rule {func.__name__} needs the result as its first parameter")
    body = [s for s in tree.body if not (isinstance(s, ast.Expr) and
                                         isinstance(s.value, ast.Constant))]
    template = Template(func.__name__, sig, params, body)
    for stmt in body:
        if isinstance(stmt, ast.AugAssign) and is_adjoint_ref(stmt.target):
            target = stmt.target.slice
            if not (isinstance(target, ast.Name) and target.id in params[1:]):
                raise TemplateError(f"rule {func.__name__}: d[...] += must name a parameter "
                                    f"other than the result, got {ast.unparse(target)}")
            template.targets.add(target.id)
        elif not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name)):
            raise TemplateError(f"rule {func.__name__}: only 'd[x] += expr' and 'name = expr' "
                                f"lines are allowed, got {ast.unparse(stmt)!r}")
    return template


def is_adjoint_ref(node: ast.AST) -> bool:
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id == "d")


def as_ast(value) -> ast.expr:
    """A default value as an AST constant (defaults of rules are None, numbers, tuples)."""
    if isinstance(value, tuple):
        return ast.Tuple(elts=[as_ast(v) for v in value], ctx=ast.Load())
    return ast.Constant(value)


def bind(template: Template, result: ast.expr, args: list[ast.expr],
         keywords: dict[str, ast.expr]) -> dict[str, ast.expr]:
    """Map the rule's parameters to the statement's atoms; TypeError if they do not fit."""
    bound = template.signature.bind(result, *args, **keywords)
    out: dict[str, ast.expr] = {}
    for name, param in template.signature.parameters.items():
        if name in bound.arguments:
            value = bound.arguments[name]
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                value = ast.Tuple(elts=list(value), ctx=ast.Load())
            out[name] = value
        elif param.default is not inspect.Parameter.empty:
            out[name] = as_ast(param.default)
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = ast.Tuple(elts=[], ctx=ast.Load())  # no extra positional arguments
    return out


def is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


class _Substitute(ast.NodeTransformer):
    def __init__(self, bound: dict[str, ast.expr], adjoint_of: Callable[[str], ast.expr],
                 renamed: dict[str, str]):
        self.bound, self.adjoint_of, self.renamed = bound, adjoint_of, renamed

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        if is_adjoint_ref(node):
            return self.adjoint_of(node.slice.id)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.bound:
            return copy.deepcopy(self.bound[node.id])
        if node.id in self.renamed:
            return ast.Name(id=self.renamed[node.id], ctx=node.ctx)
        return node


def instantiate(template: Template, bound: dict[str, ast.expr], result_adjoint: ast.expr,
                fresh: Callable[[], str],
                is_scalar: Callable[[ast.expr], bool] = lambda atom: False) -> Instance:
    """Fill a rule in. ``bound`` maps parameters to atoms; ``fresh`` names rule locals."""
    renamed = {s.targets[0].id: fresh() for s in template.body if isinstance(s, ast.Assign)}

    def adjoint_of(param: str) -> ast.expr:
        if param != template.result:
            raise TemplateError(f"rule {template.name} reads d[{param}]; rules may only read "
                                f"the adjoint of their result")
        return copy.deepcopy(result_adjoint)

    sub = _Substitute(bound, adjoint_of, renamed)
    locals_, contributions = [], []
    for stmt in template.body:
        if isinstance(stmt, ast.Assign):
            value = fold(sub.visit(copy.deepcopy(stmt.value)))
            target = ast.Name(id=renamed[stmt.targets[0].id], ctx=ast.Store())
            locals_.append(ast.Assign(targets=[target], value=value))
        else:
            param = stmt.target.slice.id
            value = fold(sub.visit(copy.deepcopy(stmt.value)))
            value = drop_needless_unbroadcast(value, param, bound, template, is_scalar)
            contributions.append(Contribution(copy.deepcopy(bound[param]), value))
    return Instance(locals_, contributions)


def drop_needless_unbroadcast(value: ast.expr, param: str, bound: dict[str, ast.expr],
                              template: Template,
                              is_scalar: Callable[[ast.expr], bool]) -> ast.expr:
    """``unbroadcast(e, x)`` is just ``e`` when nothing can have broadcast against ``x``:
    every other operand is a number constant or ``x`` itself, or every operand is a known
    scalar."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "unbroadcast"):
        return value
    operands = [bound[p] for p in template.targets if p in bound]
    others = [bound[p] for p in template.targets if p != param and p in bound]
    if all(is_number(o) for o in others) or all(is_number(o) or is_scalar(o) for o in operands):
        return value.args[0]
    if isinstance(bound.get(param), ast.Name) and all(
            is_number(o) or isinstance(o, ast.Name) and o.id == bound[param].id for o in others):
        return value.args[0]  # r * r: an array broadcast against itself keeps its shape
    return value


def fold(node: ast.expr) -> ast.expr:
    """Tiny constant folding so filled-in rules read as written by hand (``2 - 1`` -> ``1``)."""

    class Folder(ast.NodeTransformer):
        def visit_BinOp(self, n: ast.BinOp) -> ast.expr:
            self.generic_visit(n)
            if is_number(n.left) and is_number(n.right) and not isinstance(n.op, ast.Pow):
                try:
                    expr = ast.fix_missing_locations(ast.Expression(n))
                    return ast.Constant(eval(compile(expr, "<fold>", "eval")))
                except ArithmeticError:
                    return n
            if isinstance(n.op, ast.Pow) and is_number(n.right) and n.right.value == 1:
                return n.left
            if isinstance(n.op, ast.Mult) and is_number(n.right) and n.right.value == 1:
                return n.left
            if isinstance(n.op, ast.Mult) and is_number(n.left) and n.left.value == 1:
                return n.right
            return n

        def visit_UnaryOp(self, n: ast.UnaryOp) -> ast.expr:
            self.generic_visit(n)
            if isinstance(n.op, ast.USub) and is_number(n.operand):
                return ast.Constant(-n.operand.value)
            return n

    return ast.fix_missing_locations(Folder().visit(node))
