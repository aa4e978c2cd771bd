"""CONTAINERS, reads: what an expression refers to (a leaf, a constant, a known container)
and the expression that replaces it; calls that pass containers on.
"""
from __future__ import annotations

import ast
import inspect
import types

from .container_refs import (
    COMPREHENSIONS,
    NOT_CONSTANT,
    Const,
    Ref,
    Struct,
    Untrackable,
    Var,
    as_tree,
    flat_vars,
    structure_key,
)


class Reads:
    """Part of the container rewriter (containers.py): expressions."""

    def value_of(self, ref: Ref, node: ast.AST) -> ast.expr:
        if isinstance(ref, Var):
            return ast.copy_location(ast.Name(id=ref.name, ctx=ast.Load()), node)
        if isinstance(ref, Const):
            return ast.copy_location(ast.Constant(ref.value), node)
        return self.whole(node, ref)

    def whole(self, node: ast.AST, ref: Struct):
        name = node.id if isinstance(node, ast.Name) else ast.unparse(node)
        if not ref.from_argument:
            raise Untrackable(ref.origin, node)
        raise self.error(node, f"the container {name!r} is used as a whole here",
                         "read its entries with constant keys (params['W']), unpack it "
                         "(W, b = params), iterate over it, or pass its entries "
                         "one by one")

    # -- loops over containers --------------------------------------------------------------
    def expr_or_struct(self, node: ast.expr) -> ast.expr:
        """An element of an unrolled comprehension: a container stays the expression that
        names it, so the display that holds it can be lowered too."""
        if isinstance(self.resolve(node), Struct):
            return node
        return self.expr(node)

    # -- expressions --------------------------------------------------------------------------
    def constant(self, node: ast.expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and \
                not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(
                node.operand, ast.Constant) and type(node.operand.value) is int:
            return -node.operand.value
        if isinstance(node, ast.Name) and isinstance(self.env.get(node.id), Const):
            return self.env[node.id].value
        return NOT_CONSTANT

    def resolve(self, node: ast.expr) -> Ref | None:
        """What ``node`` stands for, when it reads a known container (None otherwise)."""
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            if not isinstance(base, Struct):
                return None
            key = self.constant(node.slice)
            if key is NOT_CONSTANT:
                self.untrackable(base, node)
                raise self.error(node, f"indexing the container {ast.unparse(node.value)!r} "
                                 f"with {ast.unparse(node.slice)!r}, which is not a constant",
                                 "use constant keys (params['W'], layers[0]) or iterate "
                                 "over the container (for W, b in layers)")
            if isinstance(key, int) and not issubclass(base.kind, dict) and key < 0:
                key += len(base.children)
            child = base.child(key)
            if base.by_attribute:  # a NamedTuple is indexed by position; a dataclass is not
                named = issubclass(base.kind, tuple) and type(key) is int
                child = base.children[key] if named and 0 <= key < len(base.children) else None
            if child is None:
                self.untrackable(base, node)
                raise self.error(node, f"{ast.unparse(node.value)} has no entry {key!r} "
                                 f"(it has {', '.join(map(repr, base.keys))})",
                                 "read an entry it has")
            return child
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if not isinstance(base, Struct):
                return None
            if not base.by_attribute or base.child(node.attr) is None:
                self.untrackable(base, node)
                raise self.error(node, f"{ast.unparse(node.value)} ({base.kind.__name__}) "
                                 f"has no field {node.attr!r} to read",
                                 f"read one of its fields: {', '.join(map(str, base.keys))}")
            return base.child(node.attr)
        return None

    def method_call(self, node: ast.Call) -> None:
        struct = self.resolve(node.func.value)
        self.untrackable(struct, node)
        base, method = ast.unparse(node.func.value), node.func.attr
        if struct.by_attribute:
            raise self.error(node, f"calling {base}.{method}(...), a method of the argument "
                             f"{base!r}", "inline the method, or write it as a function of "
                             f"the arrays it uses: {method}({base}.W, ...)")
        raise self.error(node, f"calling {base}.{method}(...) on the container {base!r} "
                         "passed as an argument", "containers passed in are read, not "
                         "changed: build a new one (new = [*old, x]) or a list of your own")

    def call_with_containers(self, node: ast.Call) -> ast.Call | None:
        """``helper(params, x)``, ``helper`` a user function: a call of ``helper``
        specialized to the structure of ``params``, passing its leaves."""
        values = node.args + [k.value for k in node.keywords]
        if self.helpers is None or not isinstance(node.func, ast.Name) or not any(
                isinstance(self.resolve(v), Struct) for v in values):
            return None
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords) or node.func.id in self.stores:
            return None
        try:
            callee = self.lookup(node.func.id) if self.lookup else None
            bound = inspect.signature(callee).bind(*node.args, **{
                k.arg: k.value for k in node.keywords})
            bound.apply_defaults()
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(callee, types.FunctionType):
            return None
        structures = {}
        for param, value in bound.arguments.items():
            ref = self.resolve(value) if isinstance(value, ast.AST) else None
            if isinstance(ref, Struct):
                tree = as_tree(ref)
                if tree is None:
                    return None
                structures[param] = tree
        key = (callee, structure_key(structures))
        if key not in self.helper_names:  # one name per function and structure
            self.helper_names[key] = self.namer.fresh(
                f"{callee.__name__}_{'_'.join(structures)}")
        name = self.helper_names[key]
        spec = self.helpers(name, callee, structures)
        params = inspect.signature(spec.fn).parameters
        args, keywords = [], []
        for param, value in bound.arguments.items():
            if param in structures:
                parts = [(leaf, self.value_of(v, node)) for leaf, v in zip(
                    spec.leaves[param], flat_vars(self.resolve(value)))]
            elif isinstance(value, ast.AST):
                parts = [(param, self.expr(value))]
            else:  # a default: passed as the constant it is
                parts = [(param, ast.copy_location(ast.Constant(value), node))]
            for leaf, expr in parts:
                if params[leaf].kind is inspect.Parameter.KEYWORD_ONLY:
                    keywords.append(ast.keyword(arg=leaf, value=expr))
                else:
                    args.append(expr)
        func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node.func)
        return ast.copy_location(ast.Call(func=func, args=args, keywords=keywords), node)

    def untrackable(self, base: Struct, node: ast.expr) -> None:
        """A container built inside, used in a way not followed: it is left as it is."""
        if not base.from_argument:
            raise Untrackable(base.origin, node)

    def expr(self, node: ast.expr) -> ast.expr:
        """``node`` with every read of a known container replaced by the leaf it reads."""
        ref = self.resolve(node)
        if ref is not None:
            return self.value_of(ref, node)
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and isinstance(
                    self.resolve(node.func.value), Struct):
                self.method_call(node)
            passed = self.call_with_containers(node)
            if passed is not None:
                return passed
            if self.is_builtin(node.func, "len") and len(node.args) == 1:
                inner = self.resolve(node.args[0])
                if isinstance(inner, Struct):
                    return ast.copy_location(ast.Constant(len(inner.children)), node)
            if self.is_builtin(node.func, "sum") and len(node.args) == 1 and \
                    self.unrollable(node.args[0]):
                items = self.unroll_comprehension(node.args[0]).elts
                total = items[0] if items else ast.Constant(0)
                for item in items[1:]:
                    total = ast.copy_location(ast.BinOp(left=total, op=ast.Add(),
                                                        right=item), node)
                return total
            node.func = self.expr(node.func)
            node.args = self.spliced(node.args)
            node.keywords = [self.generic(k) for k in node.keywords]
            return node
        if isinstance(node, (ast.Tuple, ast.List)):
            node.elts = self.spliced(node.elts)
            return node
        if isinstance(node, COMPREHENSIONS):
            if self.unrollable(node):
                return self.expr(self.unroll_comprehension(node))
            for gen in node.generators:
                if self.iteration(gen.iter) is not None:
                    raise self.error(node, "a comprehension over a container with an "
                                     "if or several for clauses", "write the loop out")
            self.check_not_captured_except_reads(node)
            return node
        if isinstance(node, ast.Lambda):
            self.check_not_captured(node)
            return node
        return self.generic(node)

    def check_not_captured_except_reads(self, node: ast.expr) -> None:
        """A comprehension the desugar pass lowers later: its reads of containers are
        rewritten here like any others (its own loop variables shadow nothing here)."""
        own = {n.id for g in node.generators for n in ast.walk(g.target)
               if isinstance(n, ast.Name)}
        saved = {k: self.env.pop(k) for k in list(self.env) if k in own}
        self.generic(node)
        self.env.update(saved)

    def spliced(self, elts: list[ast.expr]) -> list[ast.expr]:
        """Call arguments or display elements, with ``*p`` of a known container spliced."""
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                ref = self.resolve(e.value)
                if isinstance(ref, Struct):
                    out += [self.value_of(c, e) for c in ref.children]
                    continue
            out.append(self.expr(e))
        return out


