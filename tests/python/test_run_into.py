"""Session.run's one-call path (bindings/python/aistack/_fastrun.py, ais_session_run_into):
one foreign call a run once the input shapes are known, results equal to the tensor path's
and never overwritten by later runs, and every case it does not take (new shapes, large
outputs, arrays that need a copy, strings, errors) ending as the tensor path ends.

References: the tensor path (Session._run) for the library's own results, NumPy for the small
two-input graph, ONNX's reference evaluator for the digits model.
"""
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402
from aistack import _fastrun, _model, _tensor  # noqa: E402

onnx = pytest.importorskip("onnx", reason="onnx is in tests/requirements.txt")
from onnx import TensorProto, helper  # noqa: E402

DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")
pytestmark = pytest.mark.skipif(_fastrun.run_into is None,
                                reason="the library has no ais_session_run_into")


@pytest.fixture()
def counts(monkeypatch):
    """Counts the library's run calls of each path."""
    n = {"into": 0, "tensor": 0}
    raw, tensor_run = _fastrun._run_raw, _model._session_run

    def into(*a):
        n["into"] += 1
        return raw(*a)

    def tensor(*a):
        n["tensor"] += 1
        return tensor_run(*a)

    monkeypatch.setattr(_fastrun, "_run_raw", into)
    monkeypatch.setattr(_model, "_session_run", tensor)
    return n


@pytest.fixture(scope="module")
def batch():
    return np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy"))


def two_input_model(tmp_path):
    """s = a + b, nz = NonZero(Relu(s)): an output whose shape depends on the values."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", 3])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["n", 3])
    nz = helper.make_tensor_value_info("nz", TensorProto.INT64, [2, None])
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["s"]),
                           helper.make_node("Relu", ["s"], ["r"]),
                           helper.make_node("NonZero", ["r"], ["nz"])], "g", [a, b], [s, nz])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = str(tmp_path / "two.onnx")
    onnx.save(m, path)
    return path


def test_one_foreign_call_per_run(counts, batch):
    x = np.ascontiguousarray(batch[:1])
    with aistack.Model(DIGITS, threads=1) as m, m.session() as s:
        first = s.run({"pixels": x})  # new input shape: the tensor path, sizes learned
        assert counts == {"into": 0, "tensor": 1}
        for i in range(5):
            got = s.run({"pixels": x})
            assert counts == {"into": i + 1, "tensor": 1}
            assert list(got) == ["probabilities", "digit"]
            for k in got:
                np.testing.assert_array_equal(got[k], first[k])
                assert got[k].dtype == first[k].dtype and got[k].shape == first[k].shape
                assert got[k].flags.owndata and got[k].flags.writeable
        ref = pytest.importorskip("onnx.reference").ReferenceEvaluator(DIGITS)
        want = ref.run(None, {"pixels": x})
        np.testing.assert_allclose(got["probabilities"], want[0], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(got["digit"], want[1])
        # a list in input order and a bare array take the same path
        np.testing.assert_array_equal(s.run([x])["digit"], first["digit"])
        np.testing.assert_array_equal(s.run(x)["digit"], first["digit"])
        assert counts == {"into": 7, "tensor": 1}
        # Model.run goes through its default session, so it learns once too
        m.run({"pixels": x})
        m.run({"pixels": x})
        assert counts == {"into": 8, "tensor": 2}


def test_results_are_never_overwritten(batch):
    with aistack.Model(DIGITS, threads=1) as m, m.session() as s:
        x = np.ascontiguousarray(batch[:2])
        for _ in range(2):
            s.run({"pixels": x})
        kept = [s.run({"pixels": np.ascontiguousarray(batch[i:i + 2])}) for i in range(0, 8, 2)]
        copies = [{k: v.copy() for k, v in r.items()} for r in kept]
        for r in kept:  # the caller writes to its arrays: later runs do not see it
            r["probabilities"][:] = -1
        for i, c in zip(range(0, 8, 2), copies):
            again = s.run({"pixels": np.ascontiguousarray(batch[i:i + 2])})
            for k in c:
                np.testing.assert_array_equal(again[k], c[k])
        assert all((r["probabilities"] == -1).all() for r in kept)


def test_shapes_back_and_forth_match_the_tensor_path(counts, batch):
    with aistack.Model(DIGITS, threads=1) as m, m.session() as s:
        for rows in (1, 3, 1, 7, 3, 3, 1, 7):
            x = np.ascontiguousarray(batch[10:10 + rows])
            got = s.run({"pixels": x})
            want = s._run({"pixels": x}, None, None)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k])
                assert got[k].shape == want[k].shape
        # three shapes learned once each, then the one call (the references add 8)
        assert counts == {"into": 5, "tensor": 3 + 8}


def test_large_outputs_keep_the_zero_copy_tensor_path(counts, batch):
    rows = _tensor.COPY_MAX // 40 + 1
    x = np.ascontiguousarray(np.resize(batch[0], (rows, batch.shape[1])))
    with aistack.Model(DIGITS, threads=1) as m, m.session() as s:
        for _ in range(3):
            out = s.run({"pixels": x})
            assert isinstance(out["probabilities"].base, _tensor._Owner)
        assert counts == {"into": 0, "tensor": 3}


def test_inputs_that_need_a_copy(counts, batch):
    x = np.ascontiguousarray(batch[:3])
    with aistack.Model(DIGITS, threads=1) as m, m.session() as s:
        want = s.run({"pixels": x})
        s.run({"pixels": x})
        base = dict(counts)
        ro = x.copy()
        ro.setflags(write=False)  # read-only: the one call still (a.ctypes.data)
        np.testing.assert_array_equal(s.run({"pixels": ro})["probabilities"],
                                      want["probabilities"])
        assert counts["into"] == base["into"] + 1
        fortran = np.asfortranarray(x)  # not C-contiguous: the tensor path copies
        raw = np.zeros(x.nbytes + 4, np.uint8)
        odd = raw[1:1 + x.nbytes].view(np.float32).reshape(x.shape)  # misaligned
        odd[...] = x
        for a in (fortran, odd, x.tolist()):
            np.testing.assert_array_equal(s.run({"pixels": a})["probabilities"],
                                          want["probabilities"])
        assert counts["into"] == base["into"] + 1
        assert counts["tensor"] == base["tensor"] + 3


def test_errors_are_the_tensor_paths(batch):
    x = np.ascontiguousarray(batch[:1])
    with aistack.Model(DIGITS, threads=1) as m, m.session() as s:
        s.run({"pixels": x})
        s.run({"pixels": x})
        with pytest.raises(aistack.DtypeError, match=r"'pixels'.*f32.*f64"):
            s.run({"pixels": x.astype(np.float64)})
        with pytest.raises(aistack.ShapeError, match=r"'pixels'.*\[1, 63\]"):
            s.run({"pixels": np.ascontiguousarray(x[:, :63])})
        with pytest.raises(aistack.NotFoundError, match="'nope'"):
            s.run({"nope": x})
        with pytest.raises(aistack.NotFoundError):
            s.run({"pixels": x}, outputs=["nope"])
        got = s.run({"pixels": x})  # the session is fine afterwards
        assert got["digit"].shape == (1,)
        s.close()
        with pytest.raises(aistack.InvalidArgumentError, match="closed"):
            s.run({"pixels": x})


def test_two_inputs_value_dependent_output(counts, tmp_path):
    rng = np.random.default_rng(0)
    with aistack.Model(two_input_model(tmp_path), threads=1) as m, m.session() as s:
        a = rng.standard_normal((4, 3)).astype(np.float32)
        b = rng.standard_normal((4, 3)).astype(np.float32)
        s.run({"b": b, "a": a})
        for i in range(6):  # same shapes, different values: NonZero's result changes shape
            a = rng.standard_normal((4, 3)).astype(np.float32)
            b = rng.standard_normal((4, 3)).astype(np.float32) * (i % 3)
            got = s.run({"b": b, "a": a})  # keys in another order than the model's
            np.testing.assert_array_equal(got["s"], a + b)
            np.testing.assert_array_equal(got["nz"], np.array(np.nonzero(np.maximum(a + b, 0))))
            only = s.run([a, b], outputs=["nz"])
            assert list(only) == ["nz"]
            np.testing.assert_array_equal(only["nz"], got["nz"])
            rev = s.run({"a": a, "b": b}, outputs=["nz", "s"])
            assert list(rev) == ["nz", "s"]
            np.testing.assert_array_equal(rev["s"], a + b)
        # each output set learned once (3 tensor-path calls), then one call each
        assert counts == {"into": 6 * 3 - 2, "tensor": 3}


def test_string_outputs_keep_the_tensor_path(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.STRING, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.STRING, ["n"])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = str(tmp_path / "s.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    with aistack.Model(path) as m, m.session() as s:
        assert s._fast is None
        for _ in range(2):
            assert s.run({"x": np.array(["a", "bc"])})["y"].tolist() == ["a", "bc"]
