"""What the fusion tests (test_qdq_fusion.py, test_dynq_fusion.py) share: a model run through
libaistack with the operators its plan holds counted (so a test sees whether a pass fired), and
the same model run through ONNX Runtime.

Import it after the test has put bindings/python on sys.path (and set AISTACK_LIBRARY if it
chooses the library): it imports aistack.
"""
import collections

import numpy as np
import pytest

import aistack


def run_ours(src, feeds, **settings):
    """(outputs, Counter of the plan's operator types) of one single-threaded run; src: the
    model's bytes or a path; settings: the model's load settings (qdq_fusion=0, ...)."""
    m = (aistack.Model.from_bytes(src, **settings) if isinstance(src, bytes)
         else aistack.Model(str(src), **settings))
    s = m.session(threads=1)
    out = {k: np.asarray(v) for k, v in s.run(feeds).items()}
    ops = collections.Counter(op for _, op, _ in s.nodes)
    s.close()
    m.close()
    return out, ops


def run_ort(src, feeds, optimize=False, threads=1):
    """ONNX Runtime's outputs by name: the file as written (optimize=False) or with all of its
    graph optimizations, its own fused kernels (optimize=True)."""
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.intra_op_num_threads = threads
    s = ort.InferenceSession(src if isinstance(src, bytes) else str(src), so,
                             providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
