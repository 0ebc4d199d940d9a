"""The wheel (pyproject.toml at the source root, scikit-build-core): built offline from the
source tree, installed into a fresh virtual environment, imported from another folder with no
AISTACK_LIBRARY, it runs the digits model on its bundled libaistack.so; and the build leaves
nothing behind in the source tree.

It builds the library from scratch (a couple of minutes on two cores); ctest runs it with the
`python` label.
"""
import glob
import os
import re
import subprocess
import sys
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")
DIGIT_FILES = sorted(p for p in glob.glob(os.path.join(ROOT, "models", "digits", "*.npy"))
                     if re.fullmatch(r"test\d+_label\d+\.npy", os.path.basename(p)))


def _tree_state():
    """What a build could leave in the source tree: untracked files, and ignored entries
    (folders collapsed, so a new build/ or *.egg-info shows as one line). __pycache__ is left
    out: other tests running beside this one import modules from the tree."""
    def git(*args):
        p = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return set(p.stdout.splitlines())
    if subprocess.run(["git", "-C", ROOT, "rev-parse"], capture_output=True).returncode == 0:
        ignored = git("ls-files", "--others", "--ignored", "--exclude-standard", "--directory")
        return {e for e in git("ls-files", "--others", "--exclude-standard") | ignored
                if "__pycache__" not in e}
    # Not a git checkout (a source archive): every path but build trees and caches.
    found = set()
    for d, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(d, ROOT)
        if rel == ".":
            dirs[:] = [x for x in dirs if not x.startswith(("build", ".venv", ".git"))]
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        found |= {os.path.join(rel, f) for f in files}
        found |= {os.path.join(rel, x) + "/" for x in dirs}
    return found


def _run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n" \
                              f"{p.stdout[-3000:]}\n{p.stderr[-6000:]}"
    return p


def test_wheel_built_offline_runs_the_digits_model_from_a_fresh_venv(tmp_path):
    import scikit_build_core  # tests/requirements.txt pins it; a missing one fails here
    assert scikit_build_core.__version__
    before = _tree_state()
    env = {k: v for k, v in os.environ.items()
           if k not in ("AISTACK_LIBRARY", "PYTHONPATH", "AIS_AISTACK")}
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
          "--no-index", "-w", dist, ROOT], env=env, cwd=tmp_path, timeout=1500)
    wheels = sorted(dist.glob("aistack-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as z:
        names = z.namelist()
    assert "aistack/libaistack.so" in names, names
    assert "aistack/__init__.py" in names and "aistack/sklearn.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], names
    # ctypes, no extension module: a py3-none-<platform> wheel.
    assert re.search(r"-py3-none-linux_\w+\.whl$", wheels[0].name), wheels[0].name

    # A fresh venv that sees the test environment's NumPy (and nothing of the source tree).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], env=env, timeout=300)
    py = venv / "bin" / "python"
    site = _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                env=env).stdout.strip()
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    with open(os.path.join(site, "test-numpy.pth"), "w") as f:
        f.write(numpy_dir + "\n")
    _run([py, "-m", "pip", "install", "--no-index", "--no-deps", wheels[0]], env=env,
         timeout=300)

    code = (
        "import json, sys, numpy as np, aistack\n"
        "m = aistack.Model(sys.argv[1])\n"
        "digits = [int(m.run({'pixels': np.load(f)})['digit'][0]) for f in sys.argv[2:]]\n"
        "print(json.dumps({'file': aistack.__file__, 'lib': aistack.library_path,\n"
        "                  'version': aistack.version(), 'digits': digits}))\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = _run([py, "-c", code, DIGITS, *DIGIT_FILES], env=env, cwd=elsewhere, timeout=300)
    import json
    got = json.loads(p.stdout.strip().splitlines()[-1])
    pkg = os.path.join(site, "aistack")
    assert os.path.dirname(got["file"]) == pkg, got
    assert got["lib"] == os.path.join(pkg, "libaistack.so"), got
    wheel_version = wheels[0].name.split("-")[1]
    assert got["version"] == wheel_version, (got, wheels[0].name)
    labels = [int(re.search(r"label(\d+)", f).group(1)) for f in DIGIT_FILES]
    assert len(labels) >= 3
    assert got["digits"] == labels, got

    assert _tree_state() == before, "the build wrote into the source tree: " + \
        ", ".join(sorted(_tree_state() ^ before))
