"""The Python binding (bindings/python, package aistack): models, sessions, tensors, eager
operators, errors and threads (installing the wheel: test_wheel.py).

References are independent of the code under test: NumPy for operators, ONNX's reference
evaluator for the digits model, and the labels in the digit files' names.
"""
import ctypes
import gc
import glob
import os
import re
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


def test_misaligned_arrays_are_copied_not_lent():
    # A float32 view at an odd byte offset: the library refuses the pointer (kernels load
    # whole elements), so the binding copies it into aligned memory.
    raw = np.zeros(4 * 12 + 1, dtype=np.uint8)
    v = raw[1:].view(np.float32).reshape(3, 4)
    assert v.ctypes.data % 4 != 0 and v.flags.c_contiguous
    v[...] = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    shape = (ctypes.c_int64 * 2)(3, 4)
    out = aistack._lib.TensorP()
    st = aistack._lib.lib.ais_tensor_wrap(1, shape, 2, ctypes.c_void_p(v.ctypes.data), v.nbytes,
                                          aistack._lib.RELEASE_FN(), None, ctypes.byref(out))
    assert st != 0 and not out.value
    assert "not aligned" in aistack._lib.lib.ais_last_error().decode()
    h, kept = _tensor.wrap_array(v)
    try:
        assert kept is not v and kept.ctypes.data % 4 == 0
        np.testing.assert_array_equal(kept, v)
    finally:
        aistack._lib.lib.ais_tensor_destroy(h)
    with aistack.Tensor.from_numpy(v) as t:
        np.testing.assert_array_equal(t.numpy(), v)
    # The same through an operator: the result is computed from the copied values.
    np.testing.assert_array_equal(aistack.run_op("Relu", [v])[0], np.maximum(v, 0))
    # One-byte elements have no alignment: still lent without a copy.
    b = raw[1:13]
    h, kept = _tensor.wrap_array(b)
    try:
        assert kept is b
    finally:
        aistack._lib.lib.ais_tensor_destroy(h)


def test_outputs_view_library_memory_until_garbage_collected(batch):
    # above _tensor.COPY_MAX bytes an output is a view (smaller ones are copies, below)
    rows = _tensor.COPY_MAX // 40 + 1
    x = np.ascontiguousarray(np.resize(batch[0], (rows, batch[0].shape[1])))
    m = aistack.Model(DIGITS)
    s = m.session()
    out = s.run([x])
    probs = out["probabilities"]
    assert probs.nbytes > _tensor.COPY_MAX
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


def test_small_outputs_are_copies(model, batch):
    # Outputs of at most COPY_MAX bytes come back as arrays NumPy owns (the library's tensor is
    # destroyed in the call), equal to what the view path gives; one library call describes
    # all outputs (ais_tensor_describe).
    x = batch[0][:3]
    with model.session() as s:
        got = s.run([x])
        assert got["probabilities"].flags.owndata and got["digit"].flags.owndata
        assert got["probabilities"].flags.writeable
        big = s.run([np.ascontiguousarray(np.resize(x, (_tensor.COPY_MAX // 40 + 1, x.shape[1])))])
        assert not big["probabilities"].flags.owndata
        # (batch 3 and batch 410 take different GEMM paths: rounding differs)
        np.testing.assert_allclose(got["probabilities"], big["probabilities"][:3], rtol=1e-4,
                                   atol=1e-7)
        np.testing.assert_array_equal(got["digit"], big["digit"][:3])
        assert got["probabilities"].shape == (3, 10) and got["digit"].shape == (3,)
        # a run's arrays are its own: the next run does not change them
        keep = got["probabilities"].copy()
        s.run([batch[0][3:6]])
        np.testing.assert_array_equal(got["probabilities"], keep)


def test_tensor_describe(batch):
    x = np.ascontiguousarray(batch[0][:2])
    h, _ = _tensor.wrap_array(x)
    try:
        arr = (aistack._lib.TensorP * 1)(h)
        d = _tensor.Described(1)
        assert aistack._lib.tensor_describe(arr, 1, d.dtypes, d.ndims, d.dims, d.data,
                                            d.nbytes) == 0
        assert d.dtypes[0] == 1 and d.ndims[0] == 2 and list(d.dims[:2]) == list(x.shape)
        assert d.data[0] == x.ctypes.data and d.nbytes[0] == x.nbytes
        arr[0] = None  # a NULL tensor is refused with a message
        assert aistack._lib.tensor_describe(arr, 1, d.dtypes, d.ndims, d.dims, d.data,
                                            d.nbytes) == 1
        assert b"tensor 0 is NULL" in aistack._lib.lib.ais_last_error()
    finally:
        aistack._lib.lib.ais_tensor_destroy(h)


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


# ---- string tensors ----
# References: the NumPy arrays themselves (round trips), ONNX Runtime 1.19.2 on the same models,
# onnx.numpy_helper for TensorProto files, and scikit-learn's predict.

UNICODE = ["plain", "", "naïve café", "日本語", "😀🚀", "Ω≈ç√", " spaced ", "a" * 1000, "\t\n"]


def _random_strings(rng, n):
    """Seeded strings mixing ASCII, 2-, 3- and 4-byte UTF-8 characters, empty ones included."""
    alphabet = list("abcXYZ 019_-") + ["é", "ß", "Ж", "中", "€", "😀", "𝄞"]
    return [("".join(rng.choice(alphabet, size=rng.integers(0, 12)))) for _ in range(n)]


def _ort_session(onx):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(onx, providers=["CPUExecutionProvider"])


def _assert_strings_equal(got, want):
    assert isinstance(got, np.ndarray) and got.dtype == object
    want = np.asarray(want, dtype=object)
    assert got.shape == want.shape
    assert all(type(v) is str for v in got.reshape(-1).tolist())
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("kind", ["U", "S", "O", "list"])
def test_strings_identity_round_trip(kind):
    rng = np.random.default_rng(11)
    values = UNICODE + _random_strings(rng, 31)
    want = np.array(values, dtype=object).reshape(5, 8)
    if kind == "U":
        x = np.array(values).reshape(5, 8)
    elif kind == "S":
        x = np.array([v.encode() for v in values]).reshape(5, 8)
    elif kind == "O":
        x = want.copy()
    else:
        x = want.tolist()
    (got,) = aistack.run_op("Identity", [x])
    _assert_strings_equal(got, want)
    # a non-contiguous view and big-endian-free fixed widths need no special handling
    (got,) = aistack.run_op("Identity", [np.array(values).reshape(5, 8)[:, ::3]])
    _assert_strings_equal(got, want[:, ::3])


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (0, 2, 2), (1,), (2, 1, 3)])
def test_strings_shapes_zero_d_and_empty(shape):
    rng = np.random.default_rng(sum(shape) + len(shape))
    n = int(np.prod(shape))
    want = np.array(_random_strings(rng, n) or [], dtype=object).reshape(shape)
    (got,) = aistack.run_op("Identity", [want])
    _assert_strings_equal(got, want)
    with aistack.Tensor.from_numpy(want) as t:
        assert t.shape == shape and t.dtype == object
        _assert_strings_equal(t.numpy(), want)
    (got,) = aistack.run_op("Identity", [np.array("0-d ü")])
    _assert_strings_equal(got, np.array("0-d ü", dtype=object))


def test_strings_reshape_and_concat():
    rng = np.random.default_rng(5)
    a = np.array(_random_strings(rng, 12), dtype=object).reshape(3, 4)
    b = np.array(_random_strings(rng, 8)).reshape(2, 4)  # <U: mixed with an object array
    (r,) = aistack.run_op("Reshape", [a, np.array([2, -1, 3], np.int64)])
    _assert_strings_equal(r, a.reshape(2, -1, 3))
    (c,) = aistack.run_op("Concat", [a, b], {"axis": 0})
    _assert_strings_equal(c, np.concatenate([a, b.astype(object)], axis=0))
    (c1,) = aistack.run_op("Concat", [a[:2], b, np.zeros((2, 0), "U1")], {"axis": 1})
    _assert_strings_equal(c1, np.concatenate([a[:2], b.astype(object)], axis=1))
    (g,) = aistack.run_op("Gather", [a, np.array([2, 0, 2], np.int64)], {"axis": 0})
    _assert_strings_equal(g, a[[2, 0, 2]])
    (t,) = aistack.run_op("Transpose", [a], {"perm": [1, 0]})
    _assert_strings_equal(t, a.T)


def test_strings_bytes_and_invalid_utf8():
    """bytes_ elements are taken as UTF-8; bytes that are not valid UTF-8 come back as
    surrogate escapes, which encode back to the same bytes."""
    raw = [b"ok", "é".encode(), b"\xff\xfe", b"", b"\xc3"]
    (got,) = aistack.run_op("Identity", [np.array(raw, dtype=object)])
    assert got.tolist() == [b.decode("utf-8", "surrogateescape") for b in raw]
    assert [s.encode("utf-8", "surrogateescape") for s in got.tolist()] == raw
    (again,) = aistack.run_op("Identity", [got])  # the escaped str goes back as the same bytes
    assert again.tolist() == got.tolist()
    (s_arr,) = aistack.run_op("Identity", [np.array(raw)])  # dtype S
    assert s_arr.tolist() == got.tolist()


def test_strings_bad_elements_are_named():
    for bad, cls, msg in [
            (np.array(["a", None], dtype=object), TypeError, r"element 1 is None.*no missing"),
            (np.array([["a", "b"], ["c", 3]], dtype=object), TypeError,
             r"element \(1, 1\) is int, expected str or bytes"),
            (np.array(["a", 1.5], dtype=object), TypeError, "element 1 is float"),
            (["x", 2], TypeError, "element 1 is int"),  # NumPy would make "2" of it
            (np.array(["ok", "a\0b"]), ValueError, "element 1 holds a NUL character"),
            (np.array(["\ud800"], dtype=object), ValueError, "cannot be encoded as UTF-8")]:
        with pytest.raises(cls, match=msg) as e:
            aistack.run_op("Identity", [bad])
        assert isinstance(e.value, aistack.AistackError)
        assert "Identity input 0" in str(e.value)
    with pytest.raises(TypeError, match="the array: element 0 is dict"):
        aistack.Tensor.from_numpy(np.array([{}], dtype=object))


def test_strings_tensor_class(tmp_path):
    onnx_helper = pytest.importorskip("onnx.numpy_helper")
    want = np.array([["α", ""], ["b", "😀"], ["c d", "e"]], dtype=object)
    with aistack.Tensor.from_numpy(want) as t:
        assert "string" in repr(t) and t.shape == (3, 2) and t.dtype == object
        _assert_strings_equal(t.numpy(), want)
        with pytest.raises(aistack.DtypeError):
            t.save_npy(tmp_path / "s.npy")  # .npy cannot hold string tensors
    with aistack.Tensor.zeros((2, 3), object) as z:
        _assert_strings_equal(z.numpy(), np.full((2, 3), "", dtype=object))
    # a TensorProto .pb of strings, written by onnx, read by the library
    (tmp_path / "s.pb").write_bytes(onnx_helper.from_array(want, "s").SerializeToString())
    with aistack.Tensor.load(tmp_path / "s.pb") as t:
        _assert_strings_equal(t.numpy(), want)


def _string_model(normalizer):
    """s (string [N]) -> [StringNormalizer ->] norm -> LabelEncoder -> code (int64)
    -> LabelEncoder -> back (string); ONNX Runtime needs an installed locale for
    StringNormalizer (C.UTF-8 here)."""
    from onnx import TensorProto as T
    from onnx import helper
    nodes = []
    src = "s"
    if normalizer:
        nodes.append(helper.make_node("StringNormalizer", ["s"], ["norm"],
                                      case_change_action="LOWER", locale="C.UTF-8",
                                      stopwords=["the", "drop me"]))
        src = "norm"
    nodes += [
        helper.make_node("LabelEncoder", [src], ["code"], domain="ai.onnx.ml",
                         keys_strings=["apple", "日本語", "😀", "", "naïve"],
                         values_int64s=[1, 2, 3, 4, 5], default_int64=-1),
        helper.make_node("LabelEncoder", ["code"], ["back"], domain="ai.onnx.ml",
                         keys_int64s=[1, 2, 3, 4, -1], values_strings=["APPLE", "ニホン", "☺",
                                                                        "(empty)", ""],
                         default_string="??")]
    shape = [None] if normalizer else None
    outs = ([helper.make_tensor_value_info("norm", T.STRING, [None])] if normalizer else [])
    outs += [helper.make_tensor_value_info("code", T.INT64, shape),
             helper.make_tensor_value_info("back", T.STRING, shape)]
    g = helper.make_graph(nodes, "strings", [helper.make_tensor_value_info("s", T.STRING, shape)],
                          outs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    return m.SerializeToString()


def test_string_model_matches_onnxruntime():
    pytest.importorskip("onnx")
    onx = _string_model(normalizer=True)
    ort_s = _ort_session(onx)
    rng = np.random.default_rng(3)
    # StringNormalizer maps case in ASCII only (lib/ops/string_ops.c), ONNX Runtime by locale:
    # the inputs change case only in ASCII letters.
    x = np.array(["Apple", "APPLE", "the", "THE", "日本語", "😀", "", "naïve", "NAïVE", "drop me",
                  "zzz", " apple"] + _random_strings(rng, 20), dtype=object)
    x = np.array([v for v in x.tolist() if v.lower() == v.translate(
        str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))],
        dtype=object)
    want = dict(zip(["norm", "code", "back"], ort_s.run(None, {"s": x})))
    with aistack.Model.from_bytes(onx) as m:
        assert m.inputs[0].dtype == object
        assert [o.dtype for o in m.outputs] == [object, np.int64, object]
        for feed in (x, x.astype(str), [v.encode() for v in x.tolist()], x.tolist()):
            got = m.run({"s": np.asarray(feed) if isinstance(feed, list) and
                         isinstance(feed[0], bytes) else feed})
            _assert_strings_equal(got["norm"], want["norm"])
            np.testing.assert_array_equal(got["code"], want["code"])
            _assert_strings_equal(got["back"], want["back"])
        with m.session() as s:
            got = s.run([x], outputs=["back"])
        _assert_strings_equal(got["back"], want["back"])


@pytest.mark.parametrize("shape", [(), (0,), (2, 3), (4, 0, 2)])
def test_string_model_shapes_match_onnxruntime(shape):
    pytest.importorskip("onnx")
    onx = _string_model(normalizer=False)
    ort_s = _ort_session(onx)
    rng = np.random.default_rng(len(shape))
    pool = ["apple", "日本語", "😀", "", "naïve", "pear"] + _random_strings(rng, 4)
    x = np.array([pool[i] for i in rng.integers(0, len(pool), int(np.prod(shape)))],
                 dtype=object).reshape(shape)
    code, back = ort_s.run(None, {"s": x})
    with aistack.Model.from_bytes(onx) as m:
        got = m.run({"s": x})
    assert got["code"].shape == shape
    np.testing.assert_array_equal(got["code"], code)
    _assert_strings_equal(got["back"], back)


def test_string_model_errors():
    pytest.importorskip("onnx")
    onx = _string_model(normalizer=False)
    with aistack.Model.from_bytes(onx) as m, m.session() as s:
        with pytest.raises(TypeError, match=r"input 's': element 2 is None"):
            s.run({"s": np.array(["a", "b", None], dtype=object)})
        with pytest.raises(TypeError, match=r"input 's': element 0 is int"):
            s.run({"s": [7]})  # a list for a string input is made an object array
        with pytest.raises(aistack.DtypeError, match="s.*string.*f32|s.*f32.*string"):
            s.run({"s": np.zeros(3, np.float32)})
        # string outputs cannot be preallocated; numeric ones still can
        with pytest.raises(aistack.InvalidArgumentError, match="'back'.*string outputs"):
            s.run({"s": np.array(["apple"])}, out={"back": np.empty(1, dtype=object)})
        code = np.full(1, 99, np.int64)
        got = s.run({"s": np.array(["apple"])}, out={"code": code})
        assert got["code"] is code and code[0] == 1
        _assert_strings_equal(got["back"], ["APPLE"])
    with aistack.Model(DIGITS) as m:
        with pytest.raises(aistack.DtypeError, match="pixels.*f32.*string"):
            m.run({"pixels": np.array([["x"] * 64])})


@pytest.fixture
def skl2onnx_to_onnx(monkeypatch):
    """skl2onnx's to_onnx; skl2onnx 1.17.0 passes bools in int list attributes, which protobuf 5
    refuses, so they are converted as older protobuf did (as tests/python/test_onnx_ml.py)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skl2onnx")
    import onnx.helper
    from skl2onnx import to_onnx
    make_attribute = onnx.helper.make_attribute

    def ints_not_bools(key, value, *args, **kwargs):
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
            value = [int(v) for v in value]
        return make_attribute(key, value, *args, **kwargs)
    monkeypatch.setattr(onnx.helper, "make_attribute", ints_not_bools)
    return to_onnx


def test_skl2onnx_classifier_string_labels(skl2onnx_to_onnx):
    """A skl2onnx 1.17.0 classifier fitted on iris with the species names as labels: the string
    label output equals scikit-learn's predict, and ONNX Runtime's."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    iris = load_iris()
    X = iris.data.astype(np.float32)
    y = np.array(iris.target_names)[iris.target]  # "setosa", "versicolor", "virginica"
    for est in (LogisticRegression(max_iter=2000), DecisionTreeClassifier(random_state=0),
                RandomForestClassifier(n_estimators=10, random_state=0)):
        est.fit(X[::2], y[::2])
        onx = skl2onnx_to_onnx(est, X[:1], options={id(est): {"zipmap": False}})
        onx = onx.SerializeToString()
        with aistack.Model.from_bytes(onx) as m:
            assert m.outputs[0].dtype == object
            got = m.run({"X": X[1::2]})
        labels, proba = got["label"], got["probabilities"]
        _assert_strings_equal(labels, est.predict(X[1::2]).astype(object))
        np.testing.assert_allclose(proba, est.predict_proba(X[1::2]), rtol=1e-5, atol=1e-5)
        o_labels, _ = _ort_session(onx).run(None, {"X": X[1::2]})
        assert labels.tolist() == o_labels.tolist()


def test_skl2onnx_string_input_one_hot(skl2onnx_to_onnx):
    """A string input (StringTensorType [N, 4]): OneHotEncoder on strings (non-ASCII, empty and
    an unseen value included) and LogisticRegression with string labels, against scikit-learn
    and ONNX Runtime."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from skl2onnx.common.data_types import StringTensorType

    iris = load_iris()
    names = [["ß-low", "mid 😀", "高"], ["a", "b", "c"], ["", "x", "yy"], ["p", "q", "r"]]
    cols = [np.array(n, dtype=object)[np.digitize(iris.data[:, j],
                                                  np.quantile(iris.data[:, j], [0.33, 0.66]))]
            for j, n in enumerate(names)]
    S = np.stack(cols, axis=1)
    y = np.array(iris.target_names)[iris.target]
    est = make_pipeline(OneHotEncoder(handle_unknown="ignore"),
                        LogisticRegression(max_iter=2000)).fit(S[::2], y[::2])
    onx = skl2onnx_to_onnx(est, initial_types=[("S", StringTensorType([None, 4]))],
                           options={id(est[-1]): {"zipmap": False}}).SerializeToString()
    t = S[1::2].copy()
    t[0, 0] = "unseen"
    o_labels, o_proba = _ort_session(onx).run(None, {"S": t})
    with aistack.Model.from_bytes(onx) as m:
        assert m.inputs[0].dtype == object and m.inputs[0].shape == (None, 4)
        for feed in (t, t.astype(str), t.tolist()):
            got = m.run({"S": feed})
            _assert_strings_equal(got["label"], est.predict(t).astype(object))
            assert got["label"].tolist() == o_labels.tolist()
            np.testing.assert_allclose(got["probabilities"], est.predict_proba(t), rtol=1e-5,
                                       atol=1e-5)
            np.testing.assert_allclose(got["probabilities"], o_proba, rtol=1e-5, atol=1e-5)


# ---- packaging (the wheel: tests/python/test_wheel.py) ----

def test_missing_library_is_a_clear_import_error(tmp_path):
    env = dict(os.environ, AISTACK_LIBRARY=str(tmp_path / "libnothing.so"), PYTHONPATH=PKG)
    p = subprocess.run([sys.executable, "-c", "import aistack"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode != 0
    assert "AISTACK_LIBRARY" in p.stderr and "libnothing.so" in p.stderr
