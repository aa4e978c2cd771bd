"""NORMALIZE, flattening: assignments and expressions become one operation per statement
on atoms (names, constants, dotted globals and tuples of them), temporaries ``t1, t2, ...``
in order of evaluation.
"""
from __future__ import annotations

import ast

from .syntax import dotted_root, is_number


class Flatten:
    """Part of the Normalizer (normalize.py): assignments, unpacking and expressions."""

    def assign(self, targets: list[ast.expr], value: ast.expr, stmt: ast.stmt) -> None:
        first, *others = targets
        if isinstance(first, ast.Name):
            self.emit(ast.Assign(targets=[self.store(first.id)], value=self.op(value)), stmt)
        elif isinstance(first, (ast.Tuple, ast.List)):
            self.unpack(first, value, stmt)
        elif isinstance(first, ast.Subscript):
            target = self.element(first)
            self.write(target, self.atom(value), stmt)
        else:
            raise self.unsupported(first, "assigning to an attribute",
                                   "keep the value in a local variable")
        for other in others:  # a = b = expr: copies of the first target
            if not isinstance(other, ast.Name) or not isinstance(first, ast.Name):
                raise self.unsupported(other, "a chained assignment to several kinds of target",
                                       "assign on separate lines")
            self.emit(ast.Assign(targets=[self.store(other.id)], value=self.load(first.id)), stmt)

    def element(self, target: ast.Subscript) -> ast.Subscript:
        """``x[index]`` as an assignment target: x must be a local array, the index atoms."""
        if not isinstance(target.value, ast.Name):
            raise self.unsupported(target, "assigning into an element of an expression",
                                   "assign into a named array: a = ...; a[i] = v")
        return ast.Subscript(value=self.load(target.value.id), slice=self.index(target.slice),
                             ctx=ast.Store())

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        if isinstance(stmt.target, ast.Subscript):
            target = self.element(stmt.target)
            current = self.namer.temp()
            read = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
            self.emit(ast.Assign(targets=[self.store(current)], value=read), stmt)
            self.out[-1].element_read = True  # read only to be updated: not an alias
            value = ast.BinOp(left=self.load(current), op=stmt.op, right=self.atom(stmt.value))
            updated = self.atom(ast.copy_location(value, stmt), force_temp=True)
            self.write(target, updated, stmt)
            return
        if not isinstance(stmt.target, ast.Name):
            raise self.unsupported(stmt.target, "augmented assignment to an attribute",
                                   "keep the value in a local variable")
        if self.views.get(stmt.target.id):
            return self.augmented_view(stmt)
        if self.views.descendants(stmt.target.id):
            return self.augmented_base(stmt)
        value = ast.BinOp(left=self.load(stmt.target.id), op=stmt.op, right=self.atom(stmt.value))
        self.emit(ast.Assign(targets=[self.store(stmt.target.id)],
                             value=ast.copy_location(value, stmt)), stmt)

    def unpack(self, target: ast.Tuple | ast.List, value: ast.expr, stmt: ast.stmt) -> None:
        plain = all(isinstance(t, ast.Name) for t in target.elts)
        if isinstance(value, ast.Call) and plain:
            # a, b = helper(x): one statement with several results
            targets = ast.Tuple(elts=[self.store(n.id) for n in target.elts], ctx=ast.Store())
            self.emit(ast.Assign(targets=[targets], value=self.op(value)), stmt)
            return
        if not isinstance(value, (ast.Tuple, ast.List)):
            # a, b = rows: read element by element from one evaluation of the value
            whole = self.atom(value, force_temp=True)
            items = [ast.Subscript(value=whole, slice=ast.Constant(i), ctx=ast.Load())
                     for i in range(len(target.elts))]
            if plain:
                for name, item in zip(target.elts, items):
                    self.emit(ast.Assign(targets=[self.store(name.id)], value=item), stmt)
                return
            value = ast.copy_location(ast.Tuple(elts=items, ctx=ast.Load()), value)
        # Evaluate every right-hand side first, as Python does, so swaps stay correct;
        # nested targets and element targets (s[i], s[j] = u, v) are assigned after
        pairs = self.target_pairs(target, value)
        atoms = [self.atom(v, force_temp=True) for _, v in pairs]
        for (t, _), atom in zip(pairs, atoms):
            if isinstance(t, ast.Name):
                self.emit(ast.Assign(targets=[self.store(t.id)], value=atom), stmt)
            else:
                self.assign([t], atom, stmt)

    def target_pairs(self, target: ast.expr, value: ast.expr) -> list[tuple[ast.expr, ast.expr]]:
        """(target, value) pairs of a tuple assignment, nested tuples matched level by level."""
        if not isinstance(target, (ast.Tuple, ast.List)):
            return [(target, value)]
        if any(isinstance(t, ast.Starred) for t in target.elts):
            raise self.unsupported(target, "a starred target in tuple unpacking",
                                   "unpack into as many names as there are values")
        if not isinstance(value, (ast.Tuple, ast.List)):
            return [(target, value)]  # evaluated first, unpacked element by element after
        if len(value.elts) != len(target.elts):
            raise self.unsupported(value, "unpacking a tuple of another length",
                                   "unpack as many names as the tuple has values")
        return [p for t, v in zip(target.elts, value.elts) for p in self.target_pairs(t, v)]

    # -- expressions --------------------------------------------------------------------
    def is_atom(self, e: ast.expr) -> bool:
        if isinstance(e, (ast.Name, ast.Constant)):
            return True
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and is_number(e.operand):
            return True
        if isinstance(e, ast.Attribute):
            return self.is_global_path(e)
        if isinstance(e, (ast.Tuple, ast.List)):
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
        if isinstance(e, (ast.Tuple, ast.List)) and not force_temp:
            # a container written in a call, like np.stack([a, 2 * b]): its elements become
            # atoms, the container stays in place so each element gets its own adjoint
            return ast.copy_location(type(e)(elts=[self.atom(x) for x in e.elts],
                                             ctx=ast.Load()), e)
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
        elif isinstance(e, ast.IfExp):
            return self.conditional(e)
        else:
            raise self.unsupported(e, f"the expression {ast.unparse(e)!r}",
                                   "split it into simpler assignments")
        return ast.copy_location(new, e)

    def conditional(self, e: ast.IfExp) -> ast.Name:
        """``a if c else b`` becomes an if statement assigning a temporary; only the chosen
        side is evaluated, as in Python."""
        test = self.condition(e.test)
        result = self.namer.temp()
        sides = []
        before, after = self.views.snapshot(), []
        for side in (e.body, e.orelse):
            saved, self.out = self.out, []
            self.views.restore(before)
            self.emit(ast.Assign(targets=[self.store(result)], value=self.op(side)), side)
            sides.append(self.out)
            after.append(self.views.snapshot())
            self.out = saved
        self.views.join(after[0])
        self.emit(ast.If(test=test, body=sides[0], orelse=sides[1]), e)
        return ast.copy_location(self.load(result), e)

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
        if isinstance(e, ast.List):  # x[[0, 0, 1]] indexes like x[np.array([0, 0, 1])]
            as_array = ast.Call(func=ast.Attribute(value=self.load("np"), attr="array",
                                                   ctx=ast.Load()), args=[e], keywords=[])
            return self.atom(ast.copy_location(as_array, e))
        return self.atom(e)

    @staticmethod
    def load(name: str) -> ast.Name:
        return ast.Name(id=name, ctx=ast.Load())

    @staticmethod
    def store(name: str) -> ast.Name:
        return ast.Name(id=name, ctx=ast.Store())


