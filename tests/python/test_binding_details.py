"""Details of the Python binding that a newcomer trips over (issue 13, item 9): the pipeline spec
as a dict, a missing file as FileNotFoundError, output dimension names, and a backend without a
device refused when the Model is made. References are independent of the code under test: the
spec written here, the os module's errors, and the dimension names given to onnx.helper."""
import errno
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")

SPEC = {
    "version": 1,
    "inputs": [{"name": "age", "type": "numeric", "missing": "allow"},
               {"name": "city", "type": "categorical"}],
    "features": [
        {"input": "age", "steps": [{"op": "impute", "strategy": "median", "value": 38},
                                   {"op": "scale", "kind": "standard", "mean": 39.2,
                                    "scale": 11.5}]},
        {"input": "city", "steps": [{"op": "onehot", "categories": ["oslo", "rome"],
                                     "unknown": "ignore"}]}],
}


def test_pipeline_spec_is_text_and_spec_dict_a_fresh_dict():
    with aistack.Pipeline(SPEC) as p:
        assert isinstance(p.spec, str)
        d = p.spec_dict
        assert isinstance(d, dict)
        assert d == json.loads(p.spec)
        assert [i["name"] for i in d["inputs"]] == ["age", "city"]
        assert d["features"][1]["steps"][0]["categories"] == ["oslo", "rome"]
        d["inputs"].clear()  # a copy: the pipeline's own spec is untouched
        assert [i["name"] for i in p.spec_dict["inputs"]] == ["age", "city"]
        with aistack.Pipeline(p.spec_dict) as q:  # and it compiles back to the same pipeline
            assert q.output_width == p.output_width == 3
            assert q.input_names == ["age", "city"]


def test_missing_model_file_is_file_not_found(tmp_path):
    missing = tmp_path / "no_such_model.onnx"
    with pytest.raises(FileNotFoundError) as ei:
        aistack.Model(missing)
    e = ei.value
    assert isinstance(e, OSError)
    assert isinstance(e, aistack.AistackIOError) and isinstance(e, aistack.AistackError)
    assert isinstance(e, aistack.AistackFileNotFoundError)
    assert e.errno == errno.ENOENT
    assert e.status == 6 and e.status_name == "AIS_E_IO"
    assert str(missing) in str(e)
    # Tensor files too.
    with pytest.raises(FileNotFoundError):
        aistack.Tensor.load(tmp_path / "no_such.npy")


def test_other_io_errors_are_oserror_but_not_file_not_found(tmp_path):
    # A folder in place of a model file: AIS_E_IO, an OSError, but the file is there.
    with pytest.raises(aistack.AistackIOError) as ei:
        aistack.Model(tmp_path)
    assert isinstance(ei.value, OSError)
    assert not isinstance(ei.value, FileNotFoundError)


def test_output_dim_names_have_one_entry_per_axis(tmp_path):
    with aistack.Model(DIGITS) as m:
        for info in m.inputs + m.outputs:
            assert len(info.dim_names) == len(info.shape), info
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", "batch", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"]),
                               helper.make_node("Unsqueeze", ["x", "axes"], ["z"])],
                              "g", [x], [y, z],
                              initializer=[helper.make_tensor("axes", TensorProto.INT64, [1],
                                                              [0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "named.onnx"
    onnx.save(model, str(path))
    with aistack.Model(path) as m:
        assert m.inputs[0].dim_names == ("batch", None)
        assert [o.name for o in m.outputs] == ["y", "z"]
        assert m.outputs[0].shape == (None, 4)
        assert m.outputs[0].dim_names == ("batch", None)
        assert m.outputs[1].dim_names == ("n", "batch", None)


def test_backend_without_device_fails_when_the_model_is_made():
    try:
        m = aistack.Model(DIGITS, backend="cuda")
    except aistack.AistackError as e:
        # A CPU-only build or a machine without a GPU: the error comes here, not at session().
        assert isinstance(e, (aistack.NoDeviceError, aistack.UnsupportedError)), repr(e)
        assert "backend 'cuda'" in str(e) and DIGITS in str(e)
        return
    # A GPU is present: the model works on it from the start.
    import numpy as np
    with m:
        out = m.run({"pixels": np.load(os.path.join(ROOT, "models", "digits",
                                                    "test0_label2.npy"))})
        assert int(out["digit"][0]) == 2


def test_cpu_backend_makes_no_session_up_front():
    with aistack.Model(DIGITS, backend="cpu") as m:
        assert m._default is None
        assert int(m.run({"pixels": __import__("numpy").zeros((1, 64), "float32")})["digit"]
                   .shape[0]) == 1


def test_library_lookup_order_is_the_documented_one(tmp_path):
    """bindings/python/README.md: AISTACK_LIBRARY, the package folder, then (in a source
    checkout) build/ before build-release/, never another build* folder."""
    import shutil
    import subprocess
    lib = aistack.library_path
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "bindings", "python", "aistack"),
                    src / "bindings" / "python" / "aistack",
                    ignore=shutil.ignore_patterns("__pycache__", "libaistack.so*"))
    (src / "include" / "aistack").mkdir(parents=True)
    (src / "include" / "aistack" / "aistack.h").write_text("/* marks a source checkout */\n")
    env = {k: v for k, v in os.environ.items() if k not in ("AISTACK_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(src / "bindings" / "python")

    def run(**extra):
        return subprocess.run([sys.executable, "-B", "-c",
                               "import aistack; print(aistack.library_path)"],
                              capture_output=True, text=True, cwd=tmp_path,
                              env=dict(env, **extra), timeout=120)

    def loaded(**extra):
        p = run(**extra)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    def put(folder):
        (src / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, src / folder / "libaistack.so")
        return str(src / folder / "libaistack.so")

    put("build-asan")  # not a candidate: only build/ and build-release/ are
    p = run()
    if p.returncode == 0:  # a libaistack installed on the system is the last resort
        assert "build-asan" not in p.stdout
    else:
        assert "ImportError" in p.stderr and "build-asan" not in p.stderr, p.stderr
    release = put("build-release")
    assert loaded() == release
    build = put("build")
    assert loaded() == build  # build/ before build-release/, whichever came first
    in_pkg = put(os.path.join("bindings", "python", "aistack"))
    assert loaded() == in_pkg  # the package folder (the wheel's copy) before any build tree
    assert loaded(AISTACK_LIBRARY=release) == release  # the override before everything


def test_version_is_the_loaded_library_and_the_header():
    """aistack.__version__ comes from the loaded library (it was a literal "0.1.0" that did not
    follow the header); it equals the AIS_VERSION_* macros of include/aistack/ais_base.h, the
    source of the wheel's version, and ais_version_number."""
    import re
    with open(os.path.join(ROOT, "include", "aistack", "ais_base.h")) as f:
        head = f.read()
    parts = [int(re.search(rf"#define AIS_VERSION_{p} (\d+)", head).group(1))
             for p in ("MAJOR", "MINOR", "PATCH")]
    assert aistack.__version__ == "%d.%d.%d" % tuple(parts)
    assert aistack.__version__ == aistack.version()
    from aistack import _lib
    assert int(_lib.lib.ais_version_number()) == parts[0] * 10000 + parts[1] * 100 + parts[2]


def test_run_fast_path_keeps_results_and_errors_across_name_sets():
    """Session.run caches its ctypes name arrays per name set and wraps plain arrays on a short
    path (issue 11 item 5): alternating name sets, input kinds and errors must give what a
    first call gives, and outputs must stay valid after the input, the session and the model
    are gone."""
    import gc
    x = np.load(os.path.join(ROOT, "models", "digits", "test0_label2.npy"))
    m = aistack.Model(DIGITS)
    s = m.session()
    ref = s.run({"pixels": x})
    assert ref["digit"].tolist() == [2]
    ro = x.copy()
    ro.flags.writeable = False  # no c_char.from_buffer: the general address
    kept = []
    for i in range(50):
        for feeds, outputs in (({"pixels": x}, None), ([ro], ["digit"]),
                               ({"pixels": np.asfortranarray(np.repeat(x, 2, 0))},
                                ["digit", "probabilities"]),
                               ({"pixels": x.astype(">f4")}, ("probabilities",))):
            r = s.run(feeds, outputs)
            assert list(r) == (list(outputs) if outputs else ["probabilities", "digit"])
            assert (r["digit"] == 2).all() if "digit" in r else True
            if "probabilities" in r:
                np.testing.assert_allclose(r["probabilities"][:1], ref["probabilities"],
                                       rtol=1e-4, atol=1e-7)
            kept.append(r)
        with pytest.raises(aistack.NotFoundError, match="no input 'pixel'"):
            s.run({"pixel": x})
        with pytest.raises(aistack.NotFoundError, match="no output 'nope'"):
            s.run(x, outputs=["nope"])
        with pytest.raises(aistack.NotFoundError, match="no input '1'"):
            s.run({1: x})
    assert s.run({"pixels": x[:0]})["digit"].shape == (0,)
    s.close()
    with pytest.raises(aistack.InvalidArgumentError, match="session is closed"):
        s.run({"pixels": x})
    m.close()
    del s, m, x, ro
    gc.collect()
    for r in kept:  # library-owned outputs outlive everything they came from
        if "probabilities" in r:
            np.testing.assert_allclose(r["probabilities"][:1], ref["probabilities"],
                                       rtol=1e-4, atol=1e-7)
