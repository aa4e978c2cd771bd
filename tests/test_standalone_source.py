"""``.source`` runs on its own: saved as a file, imported by a fresh interpreter, the
generated function computes what adjoint computed.

The README's examples are the cases: each Python block of README.md that calls a transform
runs as the script a user would save (``python tour.py``), in a subprocess that records
every generated function's first call (its text, arguments and result). A second, fresh
interpreter then imports each recorded text from a file and calls its function with the same
arguments. The generated code imports the user's helpers and globals itself (see
adjoint/standalone.py); nothing else is put on its path but the directory of the scripts.
"""
from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adjoint import grad, hvp, jvp

ROOT = Path(__file__).parent.parent
TRANSFORM_CALL = re.compile(r"\b(grad|value_and_grad|jvp|vjp|hvp|hessian|jacobian)\(")

RECORDER = """
import copy, pickle, runpy, sys
import adjoint.api
import adjoint.jit

records, watched, pending, done = [], {}, {}, set()
real_init, real_jit_call = adjoint.api.Built.__init__, adjoint.jit.JitFunction.__call__


def recording_init(self, *args, **kwargs):
    real_init(self, *args, **kwargs)
    code = getattr(self.function, "__code__", None)
    key = code if code is not None else self.function
    watched[key] = (self.source, self.module.main.name)


def record(key, args, kwargs, result):
    if key in watched and key not in done:
        done.add(key)
        records.append((*watched[key], args, kwargs, result))


def profile(frame, event, arg):
    # the generated functions stay real functions (hvp differentiates them): watch calls
    if event == "call" and frame.f_code in watched and frame.f_code not in done:
        # the arguments only: f_locals also lists the closure cells (np, the helpers)
        arguments = frame.f_code.co_varnames[:frame.f_code.co_argcount
                                              + frame.f_code.co_kwonlyargcount]
        pending[frame] = copy.deepcopy({k: frame.f_locals[k] for k in arguments})
    elif event == "return" and frame in pending:
        record(frame.f_code, (), pending.pop(frame), arg)


def recording_jit_call(self, *args, **kwargs):
    inputs = copy.deepcopy((args, kwargs))
    result = real_jit_call(self, *args, **kwargs)
    record(self, *inputs, result)
    return result


adjoint.api.Built.__init__ = recording_init
adjoint.jit.JitFunction.__call__ = recording_jit_call
sys.setprofile(profile)
runpy.run_path(sys.argv[1], run_name="__main__")
sys.setprofile(None)
with open(sys.argv[2], "wb") as f:
    pickle.dump(records, f)
"""

REPLAYER = """
import importlib, pickle, sys

with open(sys.argv[1], "rb") as f:
    cases = pickle.load(f)
results = []
for module_name, name, args, kwargs in cases:
    results.append(getattr(importlib.import_module(module_name), name)(*args, **kwargs))
with open(sys.argv[2], "wb") as f:
    pickle.dump(results, f)
"""


def run(script: str, *argv: str, cwd: Path, pythonpath: list[Path]) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, pythonpath)), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def readme_examples() -> list[str]:
    """README's Python blocks that call a transform; one without imports continues the
    example before it (the tour of forward mode does)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    examples: list[str] = []
    for block in blocks:
        if not TRANSFORM_CALL.search(block):
            continue
        if "import " not in block and examples:
            block = examples[-1] + "\n\n" + block
        examples.append(block)
    return examples


def assert_same(got, expected, where: str) -> None:
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected), where
        for g, e in zip(got, expected):
            assert_same(g, e, where)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=where)


def record_and_replay(scripts: dict[str, str], tmp_path: Path) -> int:
    """Run each script as __main__, recording the generated functions' first calls; then
    replay every recorded call from the saved ``.source`` in one fresh interpreter."""
    cases, expected = [], []
    for stem, text in scripts.items():
        (tmp_path / f"{stem}.py").write_text(text)
        records = tmp_path / f"{stem}.records"
        run(RECORDER, str(tmp_path / f"{stem}.py"), str(records), cwd=tmp_path,
            pythonpath=[ROOT, tmp_path])
        for k, (source, name, args, kwargs, result) in enumerate(
                pickle.loads(records.read_bytes())):
            generated = f"{stem}_generated_{k}"
            (tmp_path / f"{generated}.py").write_text(source)
            cases.append((generated, name, args, kwargs))
            expected.append((f"{stem}: {name}", result))
    (tmp_path / "cases.pickle").write_bytes(pickle.dumps(cases))
    elsewhere = tmp_path / "elsewhere"  # not the scripts' directory: only the path finds them
    elsewhere.mkdir()
    run(REPLAYER, str(tmp_path / "cases.pickle"), str(tmp_path / "results.pickle"),
        cwd=elsewhere, pythonpath=[ROOT, tmp_path])
    results = pickle.loads((tmp_path / "results.pickle").read_bytes())
    for got, (where, result) in zip(results, expected):
        assert_same(got, result, where)
    return len(results)


def test_readme_examples_source_runs_standalone(tmp_path):
    examples = readme_examples()
    assert len(examples) >= 7
    replayed = record_and_replay({f"readme_{k}": text for k, text in enumerate(examples)},
                                 tmp_path)
    assert replayed >= 12  # grad, value_and_grad, jvp, vjp, hvp, jit=True, checkpointed


HELPERS = """
import numpy as np

OFFSET = 0.5


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))
"""

USER_SCRIPT = """
import math

import numpy as np

import adjoint
import helpers_mod as hm
from helpers_mod import OFFSET, sigmoid
from helpers_mod import sigmoid as squash

SCALE = 2.0
weights = np.array([1.0, -2.0, 0.5])


def net(w, x):
    h = sigmoid(w * x + OFFSET) * SCALE
    return np.sum(h * weights) + np.sum(squash(x * w)) + np.sum(hm.sigmoid(w) * hm.OFFSET)


def scaled(v):
    return math.tanh(v * SCALE)


w, x = np.array([0.3, -0.2, 0.1]), np.array([1.0, 2.0, -1.0])
print(adjoint.grad(net, wrt=(0, 1))(w, x))
print(adjoint.grad(scaled, jit=True)(0.3))
print(adjoint.jvp(net)(w, x, np.ones(3)))
print(adjoint.hvp(net)(w, x, np.ones(3)))
print(adjoint.grad(scaled)(0.3))
"""


def test_helpers_globals_and_modules_are_imported_where_they_are_defined(tmp_path):
    (tmp_path / "helpers_mod.py").write_text(HELPERS)
    assert record_and_replay({"user_script": USER_SCRIPT}, tmp_path) == 5
    text = (tmp_path / "user_script_generated_0.py").read_text()
    # functions from where they are defined, values from the module that uses them
    assert "    from helpers_mod import sigmoid, sigmoid as squash\n" in text
    assert "    from user_script import OFFSET, SCALE, weights\n" in text
    assert "    import helpers_mod as hm\n" in text


def test_names_inside_adjoint_are_bound_without_importing(tmp_path):
    """In-process, the guard finds the names bound: the user's module is not imported
    again (a script run as __main__ would run twice) and globals stay live."""
    script = tmp_path / "live_script.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import adjoint

        SCALE = 2.0


        def f(x):
            return np.sum(x * SCALE)


        g = adjoint.grad(f)
        first = g(np.ones(2))
        SCALE = 3.0
        second = g(np.ones(2))
        assert "from live_script import SCALE" in g.source
        assert list(first) == [2.0, 2.0] and list(second) == [3.0, 3.0], (first, second)
        import sys
        assert "live_script" not in sys.modules
        print("ok")
    """))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_closure_values_are_listed_as_names_to_define():
    scale = 3.0

    def f(x):
        return x * scale

    assert grad(f)(2.0) == 3.0
    assert "# To run this file on its own, define first (closure values of f): scale." in (
        grad(f).source)


def test_a_function_without_a_module_lists_its_globals():
    namespace = {"__name__": "__main__", "K": 2.0}
    code = compile("def f(x):\n    return x * K\n", "<cell>", "exec")
    import linecache
    linecache.cache["<cell>"] = (30, None, ["def f(x):\n", "    return x * K\n"], "<cell>")
    exec(code, namespace)
    source = grad(namespace["f"]).source
    assert "define first (globals of f, which has no importable module): K." in (
        source.replace("\n# ", " "))
    assert "__name__.startswith" not in source


def test_no_user_names_no_import_block():
    assert "__name__" not in grad(np_free_function).source
    assert "__name__" not in jvp(np_free_function).source
    assert "__name__" not in hvp(np_free_function).source


def np_free_function(x):
    return x * x * 3.0


@pytest.mark.parametrize("count", [1, 2, 40])
def test_long_name_lists_wrap(count):
    from adjoint.standalone import _wrapped

    names = [f"name_{k}" for k in range(count)]
    lines = _wrapped("from m import ", names, "    ")
    assert all(len(line) <= 92 for line in lines)
    compile("if True:\n" + "\n".join(lines) + "\n", "<t>", "exec")


def test_the_guard_knows_the_namespaces_adjoint_runs_generated_code_in():
    """compile.py and jit.py name the namespaces they run the text in; the guard in front
    of the imports must recognise both, or adjoint would import the user's names itself."""
    from adjoint.standalone import ADJOINT_NAMESPACES

    python = grad(uses_a_global)
    compiled = grad(uses_a_global, jit=True)
    assert python(2.0) == compiled(2.0) == GLOBAL_FACTOR
    # jit=False: the function's globals are the user's module; the text ran in the
    # namespace its __module__ names
    names = [python._last.function.__module__,
             compiled._last.function.dispatcher.py_func.__globals__["__name__"]]
    assert all(name.startswith(ADJOINT_NAMESPACES) for name in names), names
    assert "    from tests.test_standalone_source import GLOBAL_FACTOR\n" in python.source


GLOBAL_FACTOR = 1.5


def uses_a_global(x):
    return x * GLOBAL_FACTOR


HELPER_MODULE_WITH_ITS_OWN_GLOBAL = """
import numpy as np

GAIN = 3.0


def gained(z):
    return np.tanh(z) * GAIN
"""

SCRIPT_CALLING_IT = """
import numpy as np

import adjoint
from gain_helpers import gained

SHIFT = 0.25


def loss(x):
    return np.sum(gained(x + SHIFT))


x = np.array([0.1, -0.3])
python, compiled = adjoint.grad(loss), adjoint.grad(loss, jit=True)
assert np.allclose(python(x), compiled(x))
print(python(x))
"""


def test_a_helper_reading_globals_of_another_module(tmp_path):
    """Each generated function runs in the namespace of its own module; names of the
    other module are missing there, which must not make adjoint import anything (under
    jit=True that replaced compiled helpers by Python functions)."""
    (tmp_path / "gain_helpers.py").write_text(HELPER_MODULE_WITH_ITS_OWN_GLOBAL)
    assert record_and_replay({"gain_script": SCRIPT_CALLING_IT}, tmp_path) == 2
    text = (tmp_path / "gain_script_generated_0.py").read_text()
    assert "    from gain_helpers import GAIN, gained\n" in text
    assert "    from gain_script import SHIFT\n" in text


def test_a_module_inside_the_adjoint_package_is_importable():
    """Only adjoint's generated namespaces lack a module: adjoint.demo's functions are
    imported from adjoint.demo."""
    from adjoint import demo

    assert "    from adjoint.demo import sigmoid\n" in grad(demo.sigmoid_chain).source
