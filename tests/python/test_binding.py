"""The Python binding (bindings/python, package aistack): models, sessions, tensors, eager
operators, errors, threads, and installing the package with pip offline.

References are independent of the code under test: NumPy for operators, ONNX's reference
evaluator for the digits model, and the labels in the digit files' names.
"""
import gc
import glob
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import weakref

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "bindings", "python")
DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")
DIGIT_FILES = sorted(p for p in glob.glob(os.path.join(ROOT, "models", "digits", "*.npy"))
                     if re.fullmatch(r"test\d+_label\d+\.npy", os.path.basename(p)))

# Under ctest AISTACK_LIBRARY names the library; in the PyTorch parity run AIS_AISTACK names the
# tool, whose build folder holds the library.
if "AISTACK_LIBRARY" not in os.environ and os.environ.get("AIS_AISTACK"):
    cand = os.path.join(os.path.dirname(os.path.dirname(os.environ["AIS_AISTACK"])),
                        "libaistack.so")
    if os.path.exists(cand):
        os.environ["AISTACK_LIBRARY"] = cand
sys.path.insert(0, PKG)
import aistack  # noqa: E402
from aistack import _tensor  # noqa: E402


@pytest.fixture(scope="module")
def model():
    with aistack.Model(DIGITS) as m:
        yield m


@pytest.fixture(scope="module")
def batch():
    return (np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")),
            np.load(os.path.join(ROOT, "models", "digits", "test_batch_labels.npy")))


def reference(x):
    """The digits model evaluated by ONNX's reference implementation."""
    ref = pytest.importorskip("onnx.reference", reason="onnx is in tests/requirements.txt")
    return ref.ReferenceEvaluator(DIGITS).run(None, {"pixels": x})


# ---- library, model info ----

def test_version_and_library():
    assert re.fullmatch(r"\d+\.\d+\.\d+", aistack.version())
    assert aistack.version() == aistack.__version__
    assert os.path.exists(aistack.library_path)


def test_model_info(model):
    assert [i.name for i in model.inputs] == ["pixels"]
    assert model.inputs[0].dtype == np.float32
    assert model.inputs[0].shape == (None, 64)
    assert model.inputs[0].dim_names[0] == "batch"
    assert [(o.name, o.dtype, o.shape) for o in model.outputs] == [
        ("probabilities", np.float32, (None, 10)), ("digit", np.int64, (None,))]
    assert model.metadata["format"] == "onnx"
    assert model.metadata["producer"] == "pytorch"
    assert model.node_count > 0 and model.weight_bytes > 64 * 64 * 4
    assert "pixels" in repr(model)


# ---- running ----

@pytest.mark.parametrize("path", DIGIT_FILES, ids=os.path.basename)
def test_labelled_digits(model, path):
    label = int(re.search(r"label(\d+)", path).group(1))
    x = np.load(path)
    out = model.run({"pixels": x})
    assert out["digit"].tolist() == [label]
    np.testing.assert_allclose(out["probabilities"], reference(x)[0], rtol=1e-5, atol=1e-6)


def test_batch_matches_reference_and_labels(model, batch):
    x, labels = batch
    with model.session(threads=2) as s:
        out = s.run([x])
    want_probs, want_digit = reference(x)
    np.testing.assert_allclose(out["probabilities"], want_probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["digit"], want_digit)
    assert (out["digit"] == labels).mean() > 0.9


def test_feeds_forms_and_outputs_subset(model, batch):
    x = batch[0][:5]
    with model.session() as s:
        full = s.run({"pixels": x})
        assert s.run([x])["digit"].tolist() == full["digit"].tolist()
        assert s.run(x)["digit"].tolist() == full["digit"].tolist()
        # A Python list is converted to the input's dtype (float32).
        assert s.run([x.tolist()])["digit"].tolist() == full["digit"].tolist()
        only = s.run([x], outputs=["digit"])
        assert list(only) == ["digit"]
        # Fortran order and a strided view are copied to C order first.
        np.testing.assert_array_equal(s.run([np.asfortranarray(x)])["probabilities"],
                                      full["probabilities"])
        wide = np.zeros((5, 128), np.float32)
        wide[:, ::2] = x
        np.testing.assert_array_equal(s.run([wide[:, ::2]])["probabilities"],
                                      full["probabilities"])
        # Big-endian input is converted to native order.
        np.testing.assert_array_equal(s.run([x.astype(">f4")])["probabilities"],
                                      full["probabilities"])
        assert s.nodes and all(b == "cpu" for _, _, b in s.nodes)


def test_inputs_zero_copy_and_released():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    h, kept = _tensor.wrap_array(a)
    try:
        assert kept is a
        assert aistack._lib.lib.ais_tensor_data(h) == a.ctypes.data
    finally:
        aistack._lib.lib.ais_tensor_destroy(h)
    assert not _tensor._lent  # the release callback dropped the array
    f = np.asfortranarray(a)
    h, kept = _tensor.wrap_array(f)
    try:
        assert kept is not f and kept.flags.c_contiguous
        np.testing.assert_array_equal(kept, a)
    finally:
        aistack._lib.lib.ais_tensor_destroy(h)
    with aistack.Tensor.from_numpy(a) as t:
        assert t.shape == (3, 4) and t.dtype == np.float32
        a[0, 0] = 42.0  # shared memory: the tensor sees the write
        assert t.numpy()[0, 0] == 42.0


def test_outputs_view_library_memory_until_garbage_collected(batch):
    x = batch[0][:3]
    m = aistack.Model(DIGITS)
    s = m.session()
    out = s.run([x])
    probs = out["probabilities"]
    owner = probs.base
    assert isinstance(owner, _tensor._Owner)
    assert probs.__array_interface__["data"][0] == owner.__array_interface__["data"][0]
    expected = probs.copy()
    s.close()
    m.close()
    gc.collect()
    np.testing.assert_array_equal(probs, expected)  # still valid after session and model
    ref = weakref.ref(owner)
    del owner, probs, out
    gc.collect()
    assert ref() is None  # the tensor was destroyed with the last array


def test_out_preallocated_written_in_place(model, batch):
    x = batch[0][:7]
    want = model.run([x])
    probs = np.full((7, 10), np.nan, np.float32)
    digit = np.zeros(7, np.int64)
    with model.session() as s:
        got = s.run([x], out={"probabilities": probs, "digit": digit})
        assert got["probabilities"] is probs and got["digit"] is digit
        np.testing.assert_array_equal(probs, want["probabilities"])
        np.testing.assert_array_equal(digit, want["digit"])
        # List form, with None for an output the library allocates.
        got = s.run([x], outputs=["digit", "probabilities"], out=[None, probs])
        assert got["probabilities"] is probs
        np.testing.assert_array_equal(got["digit"], want["digit"])


def test_out_preallocated_errors(model, batch):
    x = batch[0][:7]
    with model.session() as s:
        with pytest.raises(aistack.ShapeError, match="probabilities|shape"):
            s.run([x], out={"probabilities": np.zeros((6, 10), np.float32)})
        # A destination of the wrong element type is a dtype error naming both dtypes.
        with pytest.raises(aistack.DtypeError, match="f64.*f32"):
            s.run([x], out={"probabilities": np.zeros((7, 10), np.float64)})
        with pytest.raises(aistack.InvalidArgumentError, match="C-contiguous"):
            s.run([x], out={"probabilities": np.zeros((10, 7), np.float32).T})
        ro = np.zeros((7, 10), np.float32)
        ro.flags.writeable = False
        with pytest.raises(aistack.InvalidArgumentError, match="writable"):
            s.run([x], out={"probabilities": ro})
        with pytest.raises(aistack.NotFoundError, match="nope"):
            s.run([x], out={"nope": ro})
        with pytest.raises(aistack.InvalidArgumentError, match="out= has 1 arrays for 2"):
            s.run([x], out=[None])
        # The session still works after the failures, and nothing stayed lent.
        assert s.run([x])["digit"].shape == (7,)
    gc.collect()
    assert not _tensor._lent


# ---- failures carry the library's status and message ----

def test_run_errors(model, batch):
    x = batch[0][:2]
    with model.session() as s:
        with pytest.raises(aistack.DtypeError, match=r"input 'pixels': expected dtype f32, got f64") as e:
            s.run([x.astype(np.float64)])
        assert e.value.status == 4 and e.value.status_name == "AIS_E_DTYPE"
        assert isinstance(e.value, TypeError)
        with pytest.raises(aistack.ShapeError, match=r"input 'pixels'.*\[2, 10\]") as e:
            s.run([x[:, :10]])
        assert isinstance(e.value, ValueError) and "AIS_E_SHAPE" in str(e.value)
        with pytest.raises(aistack.NotFoundError, match="no input 'nope'"):
            s.run({"nope": x})
        with pytest.raises(aistack.NotFoundError, match="no output 'zz'"):
            s.run([x], outputs=["zz"])
        with pytest.raises(aistack.InvalidArgumentError, match="pixels"):
            s.run([])
        with pytest.raises(aistack.InvalidArgumentError, match="2 inputs given"):
            s.run([x, x])
        with pytest.raises(aistack.DtypeError, match="complex64"):
            s.run([x.astype(np.complex64)])
    with pytest.raises(aistack.InvalidArgumentError, match="closed"):
        s.run([x])


def test_load_errors(tmp_path):
    with pytest.raises(aistack.AistackIOError, match="missing.onnx") as e:
        aistack.Model(tmp_path / "missing.onnx")
    assert e.value.status == 6
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(aistack.FormatError, match="bad.onnx"):
        aistack.Model(bad)
    with pytest.raises(aistack.FormatError):
        aistack.Model.from_bytes(b"garbage")
    with pytest.raises(aistack.InvalidArgumentError, match="unknown option 'nope'"):
        aistack.Model(DIGITS, nope=1)
    with pytest.raises(aistack.InvalidArgumentError, match="THREADS.*-3"):
        aistack.Model(DIGITS).session(threads=-3)
    with pytest.raises(aistack.InvalidArgumentError, match="backend"):
        aistack.Model(DIGITS, backend="tpu")
    m = aistack.Model(DIGITS)
    m.close()
    with pytest.raises(aistack.InvalidArgumentError, match="closed"):
        m.session()


def test_error_classes():
    for status in range(1, 15):
        cls = aistack._errors.error_class(status)
        assert issubclass(cls, aistack.AistackError) and cls.status == status
        assert aistack._errors.make(status, "m").status_name.startswith("AIS_E_")
    future = aistack._errors.make(999, "from a newer library")
    assert type(future) is aistack.AistackError and future.status == 999
    assert issubclass(aistack.OutOfMemoryError, MemoryError)


def test_cuda_backend_raises_no_device_or_matches_cpu(model, batch):
    x = batch[0][:4]
    try:
        s = model.session(backend="cuda")
    except aistack.NoDeviceError as e:
        assert e.status == 11 and e.message
        return
    with s:
        np.testing.assert_allclose(s.run([x])["probabilities"], model.run([x])["probabilities"],
                                   rtol=1e-4, atol=1e-5)


def test_from_bytes_and_save_roundtrip(tmp_path, model, batch):
    x = batch[0][:9]
    want = model.run([x])
    with open(DIGITS, "rb") as f:
        data = f.read()
    with aistack.Model.from_bytes(data, threads=1) as m:
        got = m.run([x])
    np.testing.assert_array_equal(got["probabilities"], want["probabilities"])
    for level in (0, 3):
        path = tmp_path / f"digits{level}.ais"
        model.save(path, compression=level)
        with aistack.Model(path) as m2:
            np.testing.assert_array_equal(m2.run([x])["probabilities"], want["probabilities"])


def test_tensor_files(tmp_path):
    src = DIGIT_FILES[0]
    with aistack.Tensor.load(src) as t:
        np.testing.assert_array_equal(t.numpy(), np.load(src))
        t.save_npy(tmp_path / "copy.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "copy.npy"), np.load(src))
    z = aistack.Tensor.zeros((2, 0, 3), np.int32)
    assert z.shape == (2, 0, 3) and z.numpy().shape == (2, 0, 3)
    z.close()
    assert "closed" in repr(z)
    with pytest.raises(aistack.AistackIOError):
        aistack.Tensor.load(tmp_path / "none.npy")
    with pytest.raises(aistack.InvalidArgumentError, match="closed"):
        z.numpy()


# ---- eager operators ----

def test_run_op_against_numpy():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 1, 5)).astype(np.float32)
    b = rng.standard_normal((4, 1)).astype(np.float32)
    np.testing.assert_allclose(aistack.run_op("Add", [a, b])[0], a + b, rtol=1e-6)
    m1 = rng.standard_normal((5, 7)).astype(np.float32)
    m2 = rng.standard_normal((6, 7)).astype(np.float32)
    c = rng.standard_normal((5, 6)).astype(np.float32)
    got = aistack.run_op("Gemm", [m1, m2, c], {"alpha": 0.5, "beta": 2.0, "transB": 1})[0]
    np.testing.assert_allclose(got, 0.5 * m1 @ m2.T + 2.0 * c, rtol=1e-5, atol=1e-5)
    t = aistack.run_op("Transpose", [a], {"perm": [2, 0, 1]})[0]
    np.testing.assert_array_equal(t, a.transpose(2, 0, 1))
    clip = aistack.run_op("Clip", [a, None, np.float32(0.25)])[0]  # omitted optional min
    np.testing.assert_array_equal(clip, np.minimum(a, 0.25))
    e = aistack.run_op("Add", [np.zeros((0, 3), np.float32), np.ones(3, np.float32)])[0]
    assert e.shape == (0, 3)
    top = aistack.run_op("TopK", [m1, np.array([2], np.int64)], num_outputs=2)
    np.testing.assert_allclose(top[0], -np.sort(-m1, axis=1)[:, :2], rtol=1e-6)


def test_run_op_opset_semantics():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)

    def softmax(v, axis):
        e = np.exp(v - v.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    # Opset 11 flattens from `axis` on; opset 13 normalizes along `axis` alone.
    got11 = aistack.run_op("Softmax", [x], {"axis": 1}, opset=11)[0]
    np.testing.assert_allclose(got11, softmax(x.reshape(2, 12), 1).reshape(2, 3, 4), rtol=1e-5)
    got13 = aistack.run_op("Softmax", [x], {"axis": 1}, opset=13)[0]
    np.testing.assert_allclose(got13, softmax(x, 1), rtol=1e-5)
    assert aistack.op_exists("Softmax") and not aistack.op_exists("NoSuchOp")
    assert aistack.max_opset() >= 13


def test_run_op_errors():
    f = np.ones(3, np.float32)
    with pytest.raises(aistack.ShapeError, match=r"Add.*\[3\] and \[4\]"):
        aistack.run_op("Add", [f, np.ones(4, np.float32)])
    with pytest.raises(aistack.DtypeError, match="Add.*f32.*i32"):
        aistack.run_op("Add", [f, np.ones(3, np.int32)])
    with pytest.raises(aistack.UnsupportedError, match="NoSuchOp"):
        aistack.run_op("NoSuchOp", [f])
    with pytest.raises(aistack.InvalidArgumentError, match="attribute 'perm'"):
        aistack.run_op("Transpose", [f], {"perm": [0, "x"]})
    with pytest.raises(aistack.InvalidArgumentError, match="attribute 'perm'.*dict"):
        aistack.run_op("Transpose", [f], {"perm": {}})
    gc.collect()
    assert not _tensor._lent


# ---- threads ----

def test_four_threads_own_sessions_match_single_thread(model, batch):
    x = batch[0]
    with model.session() as s:
        want = s.run([x])
    results, errors = [None] * 4, []

    def worker(i):
        try:
            with model.session() as s2:
                for _ in range(20):
                    r = s2.run([x])
                results[i] = r
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        np.testing.assert_array_equal(r["probabilities"], want["probabilities"])
        np.testing.assert_array_equal(r["digit"], want["digit"])


def test_gil_released_during_library_calls():
    # One long library call (a 1024^3 MatMul, tens of milliseconds) on a worker thread while this
    # thread counts. With the GIL held for the call this thread could not run at all inside it.
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    aistack.set_num_threads(1)
    window = {}

    def long_call():
        window["start"] = time.perf_counter()
        aistack.run_op("MatMul", [a, a])
        window["end"] = time.perf_counter()
    ticks = []
    t = threading.Thread(target=long_call)
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
    t.join()
    start, end = window["start"], window["end"]
    inside = [x for x in ticks if start < x < end]
    assert end - start > 0.01
    assert len(inside) > 100, (len(inside), end - start)


# ---- packaging ----

def test_pip_install_offline_into_temporary_venv(tmp_path):
    venv = tmp_path / "venv"
    p = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot create a virtual environment here: {p.stderr.strip()[-300:]}")
    py = venv / "bin" / "python"
    # Build from a copy, so that pip's build folders never land in the source tree.
    src = tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-build-isolation", "--no-index", str(src)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    env = dict(os.environ, AISTACK_LIBRARY=aistack.library_path)
    env.pop("PYTHONPATH", None)
    code = ("import aistack, numpy as np; print(aistack.__file__); m = aistack.Model(%r); "
            "print(int(m.run([np.load(%r)])['digit'][0]))" % (DIGITS, DIGIT_FILES[0]))
    p = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    where, digit = p.stdout.split()
    assert where.startswith(str(venv))
    assert digit == re.search(r"label(\d+)", DIGIT_FILES[0]).group(1)
    # Without AISTACK_LIBRARY and outside the source tree, a library copied into the installed
    # package folder is found.
    env.pop("AISTACK_LIBRARY")
    shutil.copy(aistack.library_path, os.path.join(os.path.dirname(where), "libaistack.so"))
    p = subprocess.run([str(py), "-c", "import aistack; print(aistack.library_path)"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().startswith(str(venv))


def test_missing_library_is_a_clear_import_error(tmp_path):
    env = dict(os.environ, AISTACK_LIBRARY=str(tmp_path / "libnothing.so"), PYTHONPATH=PKG)
    p = subprocess.run([sys.executable, "-c", "import aistack"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode != 0
    assert "AISTACK_LIBRARY" in p.stderr and "libnothing.so" in p.stderr
