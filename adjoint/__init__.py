"""adjoint: readable, source-transforming reverse-mode automatic differentiation."""
__version__ = "0.1.0"  # the one place the version is set: pyproject.toml reads it from here

from .api import grad, value_and_grad  # noqa: E402
from .check import check_grad  # noqa: E402
from .containers import ContainerError  # noqa: E402
from .errors import (  # noqa: E402
    AdjointError,
    ArgumentError,
    GradientCheckError,
    JitError,
    JitWarning,
    MissingRuleError,
    NonScalarOutputError,
    NoSourceError,
    UnsupportedSyntaxError,
)
from .rules import register_adjoint  # noqa: E402
from .rules.tangents import register_tangent  # noqa: E402
from .runtime import checkpointed, stop_gradient  # noqa: E402
from .tree_transforms import hessian, hvp, jacobian, jvp, vjp  # noqa: E402
from .trees import register_container, tree_flatten, tree_unflatten  # noqa: E402

__all__ = [
    "AdjointError", "ArgumentError", "ContainerError", "GradientCheckError", "JitError",
    "JitWarning", "MissingRuleError",
    "NoSourceError", "NonScalarOutputError", "UnsupportedSyntaxError",
    "check_grad", "checkpointed", "grad", "hessian", "hvp", "jacobian", "jvp", "register_adjoint",
    "register_container", "register_tangent", "stop_gradient", "tree_flatten", "tree_unflatten",
    "value_and_grad", "vjp",
]
