"""docs/coverage.md is generated from the rule tables: it must match them."""
from pathlib import Path

import scipy.linalg  # noqa: F401 - the SciPy rule tables are part of the table
import scipy.special  # noqa: F401

from adjoint.coverage import table


def test_coverage_table_is_current():
    path = Path(__file__).resolve().parent.parent / "docs" / "coverage.md"
    assert path.read_text() == table(), (
        "docs/coverage.md is stale: run `python -m adjoint.coverage > docs/coverage.md`")
