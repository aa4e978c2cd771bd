"""Smoke test of the benchmark suite: ``python -m bench --quick`` on two workloads."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_smoke(tmp_path):
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "W1,W2", "--tools", "adjoint,numpy",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| workload"))
    assert "adjoint (Python)" in header and "hand NumPy" in header
    w1 = [line for line in lines if line.startswith("| W1 x=3")]
    w2 = [line for line in lines if line.startswith("| W2 n=300")]
    assert w1 and w2
    # the time table: every cell is a time or a reported status, never empty
    for row in (w1[0], w2[0]):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 3 and all(cells), row
        assert any(u in row for u in ("s ", "mismatch", "unsupported", "error")), row
    assert out.exists() and "## Targets" in out.read_text()
    assert "W1" in proc.stderr  # the progress lines
