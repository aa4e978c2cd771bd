"""Which derivative applies to each normalized statement: a rule, zero, or a user function.

Resolution happens once per statement and is shared by the activity analysis (which needs
to know which operands a derivative reaches) and the reverse transform (which fills in the
rule).
"""
from __future__ import annotations

import ast
import inspect
import types
from dataclasses import dataclass, field

import numpy as np

from . import rules
from .errors import AdjointError, MissingRuleError, UnsupportedSyntaxError
from .source import Source
from .syntax import dotted_root
from .template import bind

# Array methods that are the NumPy function of the same name with the array first.
METHOD_FUNCTIONS = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
    "dot": np.dot, "cumsum": np.cumsum, "clip": np.clip,
}


@dataclass
class Op:
    """What one statement computes, as far as differentiation is concerned."""

    # "rule" | "zero" | "call" | "pack" | "setitem" | "append"; forward mode adds "pop" (of
    # a list), "helper" (runtime helper of adjoint code) and "tangent_rule" (a user's rule)
    kind: str
    label: str  # how the user wrote the operation: "np.sum", "*", ".T", "helper"
    rule: rules.Rule | None = None
    bound: dict[str, ast.expr] = field(default_factory=dict)
    callee: types.FunctionType | None = None
    call: ast.Call | None = None
    func: object = None  # the function a call resolved to

    def differentiable_atoms(self) -> list[ast.expr]:
        """The operand atoms that can receive an adjoint from this statement."""
        if self.kind == "rule":
            return [self.bound[p] for p in self.rule.template.targets if p in self.bound]
        if self.kind in ("call", "pack", "setitem", "append", "pop", "helper"):
            return list(self.bound.values())
        if self.kind == "tangent_rule":  # a user's forward rule: every argument
            return [a for p, a in self.bound.items() if p != self.rule.result]
        return []


def assigned_names(stmt: ast.stmt) -> list[str]:
    """The variables a statement binds: ``x`` for ``x = ...`` and ``x[i] = ...``, both names
    for ``a, b = helper(...)``, the index of a for loop."""
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):
            return [target.value.id]
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, ast.Tuple):
            return [e.id for e in target.elts]
    if isinstance(stmt, ast.For):
        return [stmt.target.id]
    return []


def atom_names(atom: ast.expr) -> list[str]:
    """Variable names inside an atom (a name, or a tuple or list of atoms)."""
    if isinstance(atom, ast.Name):
        return [atom.id]
    if isinstance(atom, (ast.Tuple, ast.List)):
        return [n for e in atom.elts for n in atom_names(e)]
    return []


class Resolver:
    def __init__(self, src: Source, local_names: set[str], lists: frozenset[str] = frozenset()):
        self.src = src
        self.locals = local_names
        self.lists = lists  # variables holding Python lists built with append
        # (dotted name, function) of each user function called: a redefinition must rebuild
        self.dependencies: list[tuple[tuple[str, ...], types.FunctionType]] = []

    def resolve(self, stmt: ast.Assign) -> Op:
        value = stmt.value
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):  # x[index] = value, in place
            return Op("setitem", "element write",
                      bound={"x": ast.Name(id=target.value.id, ctx=ast.Load()), "value": value})
        if isinstance(target, ast.Tuple):  # a, b = helper(...): only user functions
            return self.multiple_results(stmt, value)
        result = ast.Name(id=target.id, ctx=ast.Load())
        if isinstance(value, ast.Name):
            return self.with_rule(stmt, "copy", "=", result, [value], {})
        if isinstance(value, ast.Constant) or self.is_global_path(value) or isinstance(
                value, (ast.Compare, ast.BoolOp, ast.JoinedStr)):
            return Op("zero", ast.unparse(value))
        if isinstance(value, ast.BinOp):
            return self.operator(stmt, type(value.op), result, [value.left, value.right])
        if isinstance(value, ast.UnaryOp):
            return self.operator(stmt, type(value.op), result, [value.operand])
        if isinstance(value, ast.Subscript):
            return self.with_rule(stmt, "getitem", "indexing", result, [value.value, value.slice],
                                  {})
        if isinstance(value, ast.Attribute):
            return self.attribute(stmt, value, result)
        if isinstance(value, (ast.Tuple, ast.List)):
            return Op("pack", "tuple", bound={str(i): e for i, e in enumerate(value.elts)})
        if isinstance(value, ast.Call):
            return self.call(stmt, value, result)
        raise UnsupportedSyntaxError(f"the expression {ast.unparse(value)!r} is not supported",
                                     self.src.where(value), "split it into simpler assignments")

    def multiple_results(self, stmt: ast.Assign, value: ast.expr) -> Op:
        """``a, b = f(x)``: a user function returning a tuple, or an array to be unpacked
        (kind "unpack": the engine rewrites it as ``t = f(x); a = t[0]; b = t[1]``)."""
        if isinstance(value, ast.Call):
            placeholder = ast.Name(id="_", ctx=ast.Load())
            op = self.call(stmt, value, placeholder)
            if op.kind in ("call", "zero"):
                return op
            return Op("unpack", op.label, rule=op.rule)
        raise UnsupportedSyntaxError(
            f"unpacking the result of {ast.unparse(value)!r}", self.src.where(value),
            "unpack tuples returned by your own functions, or index the result: a = r[0]")

    # -- the kinds of operation ----------------------------------------------------------
    def operator(self, stmt, op_type, result, operands) -> Op:
        label = OPERATOR_SYMBOLS.get(op_type, op_type.__name__)
        if rules.has_zero_gradient(op_type):
            return Op("zero", label)
        return self.with_rule(stmt, op_type, label, result, operands, {})

    def attribute(self, stmt, value: ast.Attribute, result) -> Op:
        key = "." + value.attr
        if rules.has_zero_gradient(key):
            return Op("zero", key)
        if rules.lookup(key):
            return self.with_rule(stmt, key, key, result, [value.value], {})
        raise MissingRuleError(f"no adjoint rule for the attribute {key}", self.src.where(value),
                               "use a NumPy function with a rule (see README, 'Supported')")

    def call(self, stmt, call: ast.Call, result) -> Op:
        args = list(call.args)
        keywords = {k.arg: k.value for k in call.keywords}
        func = call.func
        if isinstance(func, ast.Attribute) and not self.is_global_path(func):
            return self.method(stmt, call, result, args, keywords)
        label = ast.unparse(func)
        obj = self.evaluate_path(func)
        if obj in (np.array, np.asarray) and args and (
                isinstance(args[0], (ast.List, ast.Tuple)) or
                isinstance(args[0], ast.Name) and args[0].id in self.lists):
            return self.with_rule(stmt, "array_of_list", label, result, args[:1], {})
        if rules.has_zero_gradient(obj):
            return Op("zero", label, func=obj)
        if rules.lookup(obj):
            op = self.with_rule(stmt, obj, label, result, args, keywords)
            op.func = obj
            return op
        if isinstance(obj, types.FunctionType):
            self.dependencies.append((dotted_path(func), obj))
            return self.user_call(call, obj, label, args, keywords)
        name = f"{getattr(obj, '__module__', None) or ''}.{getattr(obj, '__name__', label)}"
        raise MissingRuleError(f"no adjoint rule for {name.lstrip('.')}", self.src.where(call),
                               f"register one with @adjoint.register_adjoint({label})")

    def method(self, stmt, call, result, args, keywords) -> Op:
        receiver, name = call.func.value, call.func.attr
        key = METHOD_FUNCTIONS.get(name, "." + name)
        label = f".{name}()"
        if rules.has_zero_gradient(key):
            return Op("zero", label)
        if not rules.lookup(key):
            raise MissingRuleError(f"no adjoint rule for the array method .{name}()",
                                   self.src.where(call),
                                   "call a NumPy function with a rule (README, 'Supported')")
        return self.with_rule(stmt, key, label, result, [receiver, *args], keywords)

    def user_call(self, call, fn, label, args, keywords) -> Op:
        try:
            bound = inspect.signature(fn).bind(*args, **keywords)
        except TypeError as exc:
            raise AdjointError(f"the call {ast.unparse(call)!r} does not match "
                               f"{fn.__name__}'s parameters: {exc}", self.src.where(call),
                               "fix the call's arguments") from None
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise UnsupportedSyntaxError(
                    f"calling {fn.__name__}, which takes *args or **kwargs",
                    self.src.where(call), "give the helper named parameters")
        return Op("call", label, bound=dict(bound.arguments), callee=fn, call=call)

    def with_rule(self, stmt, key, label, result, args, keywords) -> Op:
        problems, refusals = [], []
        for rule in rules.lookup(key):
            try:
                bound = bind(rule.template, result, args, keywords)
            except TypeError as exc:
                problems.append(str(exc))
                continue
            if rule.check and (message := rule.check(bound)):
                refusals.append(message)  # a later rule for the same key may cover the call
                continue
            return Op("rule", label, rule=rule, bound=bound)
        if refusals:
            raise MissingRuleError(f"{label}: {refusals[-1]}", self.src.where(stmt.value),
                                   "rewrite the call with supported arguments")
        given = ", ".join([ast.unparse(a) for a in args] +
                          [f"{k}={ast.unparse(v)}" for k, v in keywords.items()])
        raise MissingRuleError(
            f"the rule for {label} does not accept the arguments ({given}): {'; '.join(problems)}",
            self.src.where(stmt.value), "pass only the arguments listed in README, 'Supported'")

    # -- names -----------------------------------------------------------------------------
    def is_global_path(self, node: ast.expr) -> bool:
        root = dotted_root(node)
        return (isinstance(node, ast.Attribute) and root is not None
                and root not in self.locals)

    def evaluate_path(self, node: ast.expr):
        """The object a dotted global name such as ``np.linalg.norm`` refers to."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        try:
            obj = self.src.lookup(node.id)
            for part in reversed(parts):
                obj = getattr(obj, part)
        except (KeyError, AttributeError):
            raise AdjointError(f"name {ast.unparse(node)!r}"
                               f"{'.' + '.'.join(reversed(parts)) if parts else ''} "
                               "is not defined", self.src.where(node),
                               "define or import it before calling the gradient") from None
        return obj


def dotted_path(node: ast.expr) -> tuple[str, ...]:
    """``("helper_module", "scaled_tanh")`` for ``helper_module.scaled_tanh``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, *reversed(parts))


OPERATOR_SYMBOLS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%",
    ast.MatMult: "@", ast.FloorDiv: "//", ast.USub: "unary -", ast.UAdd: "unary +",
}

