"""Every refusal is an AdjointError naming file:line, the construct, and what to do."""
import linecache

import numpy as np
import pytest

from adjoint import (
    AdjointError,
    MissingRuleError,
    UnsupportedSyntaxError,
    grad,
)

from . import unsupported_cases as cases

UNSUPPORTED = [
    (cases.uses_try, "try/except", "move error handling outside"),
    (cases.uses_with, "a with statement", "enter the context outside"),
    (cases.uses_global, "a global statement", "pass the value in"),
    (cases.uses_nonlocal_like_nested_def, r"the nested function 'inner' rebinds y \(nonlocal\)",
     "return the new value"),
    (cases.uses_class, "a class definition", "module level"),
    (cases.uses_del, "a del statement", "drop the del"),
    (cases.uses_import, "an import inside the function", "import at module level"),
    (cases.uses_lambda, "a lambda", "def"),
    (cases.uses_walrus, r"an assignment expression \(:=\)", "own line"),
    (cases.uses_yield, "yield", "generators"),
    (cases.uses_star_args, r"a \*xs parameter", "name each parameter"),
    (cases.no_return, "must end with 'return <value>'", "return the scalar"),
    (cases.recursive, "recursive call to recursive", "loop"),
    (cases.uses_match, "a match statement", "use if/elif/else"),
    (cases.uses_set_comprehension, "a set comprehension", "for loop"),
    (cases.uses_dict_comprehension, "a dict comprehension", "for loop"),
    (cases.uses_raise, "a raise statement", "validate inputs"),
    (cases.uses_async, "an async function", "def statement"),
    (cases.uses_yield_from, "yield from", "generators"),
    (cases.uses_star_call, r"star-unpacking \(\*args\)", "one by one"),
    (cases.uses_dict_literal, "the dict 'd' is used in a way whose keys cannot be followed",
     "constant keys"),
    (cases.uses_attribute_assignment, "assigning to an attribute", "local variable"),
    (cases.sorts_in_place, r"'y\.sort\(\)' changes a value .* in place", "assignment"),
    (cases.copies_into, r"'np\.copyto\(y, x\)' changes a value .* in place", "assignment"),
    (cases.keeps_a_returned_tuple, "polar returns 2 values, used here as 1", "a, b = helper"),
    (cases.writes_into_an_alias, "a is changed in place here, but a and b share memory", "copy"),
]


@pytest.mark.parametrize("fn, construct, hint", UNSUPPORTED,
                         ids=lambda v: getattr(v, "__name__", ""))
def test_unsupported_syntax_names_file_line_construct_and_fix(fn, construct, hint):
    with pytest.raises(UnsupportedSyntaxError) as info:
        grad(fn)(1.0)
    message = str(info.value)
    location = info.value.location
    assert location.filename.endswith("unsupported_cases.py")
    assert f"unsupported_cases.py:{location.line}:" in message
    assert construct in message or __import__("re").search(construct, message)
    assert hint in message
    # the quoted source line is the real line of the file
    assert linecache.getline(location.filename, location.line).strip() in message


@pytest.mark.parametrize("fn, pattern", [
    (cases.missing_rule, r"no adjoint rule for numpy\.fft\.fft; register one with "
                         r"@adjoint\.register_adjoint\(np\.fft\.fft\)"),
    (cases.missing_method, r"no adjoint rule for the array method \.searchsorted\(\)"),
    (cases.bad_norm_order, "ord='max' has no rule"),
    (cases.bad_keyword, "does not accept the arguments"),
])
def test_missing_rules(fn, pattern):
    with pytest.raises(MissingRuleError, match=pattern) as info:
        grad(fn)(np.ones(3))
    assert "unsupported_cases.py:" in str(info.value)


def test_undefined_names_and_bad_calls():
    with pytest.raises(AdjointError, match="'no_such_function' is not defined"):
        grad(cases.undefined_name)(1.0)
    with pytest.raises(AdjointError, match="does not match helper_two_args's parameters"):
        grad(cases.bad_call)(1.0)


def test_no_internal_exception_escapes_for_odd_but_valid_code():
    def odd(x):
        y = x
        y = y
        x, y = y, x
        return x * y

    assert grad(odd)(3.0) == 6.0
