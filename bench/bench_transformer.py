#!/usr/bin/env python3
"""The transformer fusions (issue 11 item 3) measured on BERT-style encoders at sequence 128.

    .venv/bin/python bench/bench_transformer.py harness [harness.py options]
    .venv/bin/python bench/bench_transformer.py fusion [--threads 1,2] [--passes 8] [--onnx F]

`harness` adds two encoders of tests/python/torch_models.py to bench/models.py's catalog for this
run only and calls bench/harness.py's main with the remaining options (the harness is not
changed; its rules hold: alternating passes, outputs checked against PyTorch):
  bert4_d256_s128   4 layers, d=256, 8 heads, ff 1024, batch 1, seq 128 (issue 11's table)
  minilm6_d384_s128 6 layers, d=384, 12 heads, ff 1536, batch 1, seq 128 (MiniLM-L6-sized)
`fusion` times libaistack at optimization level 2 (fused) against level 1 (unfused) and ONNX
Runtime (spinning off) on the same encoders (and on --onnx files of your own, e.g. an exported
all-MiniLM-L6-v2), alternating pass by pass in one process, and prints the ratios.
"""
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import models  # noqa: E402
import torch_models  # noqa: E402

ENCODERS = {
    "bert4_d256_s128": ("BERT-style encoder, 4 layers d=256, batch 1, seq 128",
                        lambda: torch_models.bert(batch=1, seq=128, layers=4, d=256)),
    "minilm6_d384_s128": ("BERT-style encoder, 6 layers d=384 (MiniLM-sized), batch 1, seq 128",
                          lambda: torch_models.bert(batch=1, seq=128, layers=6, d=384)),
}


def onnx_feeds(path, seq):
    """Inputs for an external encoder file: dynamic extents batch 1 and `seq`; ids random in
    [0, 1000), masks ones, token types zeros, floats standard normal."""
    import numpy as np
    import onnx
    m = onnx.load(path, load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(0)
    feeds = {}
    for i in m.graph.input:
        if i.name in init:
            continue
        t = i.type.tensor_type
        dims = [d.dim_value if d.dim_value > 0 else (1 if k == 0 else seq)
                for k, d in enumerate(t.shape.dim)]
        if t.elem_type == onnx.TensorProto.INT64:
            n = i.name.lower()
            feeds[i.name] = (np.ones(dims, np.int64) if "mask" in n else
                             np.zeros(dims, np.int64) if "type" in n else
                             rng.integers(0, 1000, dims).astype(np.int64))
        else:
            feeds[i.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def fusion(argv):
    import argparse
    import numpy as np
    import aistack
    import onnxruntime as ort
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--onnx", action="append", default=[],
                    help="also an encoder file of your own (e.g. an exported all-MiniLM-L6-v2)")
    ap.add_argument("--seq", type=int, default=128, help="sequence length for --onnx files")
    args = ap.parse_args(argv)
    print("| model | threads | fused (level 2) ms | unfused (level 1) ms | ORT ms "
          "| fused / unfused | fused / ORT |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="aistack-xf-") as tmp:
        todo = []
        for key, spec in ENCODERS.items():
            onnx_path, _, npz_path, ins, _ = models.generate(tmp, key, spec)
            todo.append((key, onnx_path, dict(zip(ins, models.load_inputs(npz_path)))))
        for path in args.onnx:
            todo.append((os.path.basename(path), path, onnx_feeds(path, args.seq)))
        for key, onnx_path, feeds in todo:
            for t in [int(x) for x in args.threads.split(",")]:
                aistack.set_num_threads(t)
                run = {lvl: aistack.Model(onnx_path, opt_level=lvl).session(threads=t).run
                       for lvl in (2, 1)}
                o = ort.SessionOptions()
                o.intra_op_num_threads, o.inter_op_num_threads = t, 1
                # its pool would spin after each run and slow the next system in this process
                o.add_session_config_entry("session.intra_op.allow_spinning", "0")
                sess = ort.InferenceSession(onnx_path, o, providers=["CPUExecutionProvider"])
                run["ort"] = lambda f, s=sess: dict(zip([x.name for x in s.get_outputs()],
                                                        s.run(None, f)))
                ref, got = run[1](feeds), run[2](feeds)
                for n in ref:  # the fused graph gives the unfused graph's outputs
                    np.testing.assert_allclose(got[n], ref[n], rtol=1e-4, atol=1e-5)
                times = {k: [] for k in run}
                for _ in range(3):
                    for r in run.values():
                        r(feeds)
                for _ in range(args.passes):
                    for k, r in run.items():
                        for _ in range(args.iters):
                            t0 = time.perf_counter()
                            r(feeds)
                            times[k].append((time.perf_counter() - t0) * 1e3)
                m2, m1, mo = (statistics.median(times[k]) for k in (2, 1, "ort"))
                print(f"| {key} | {t} | {m2:.2f} | {m1:.2f} | {mo:.2f} | {m2 / m1:.2f} "
                      f"| {m2 / mo:.2f} |", flush=True)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("harness", "fusion"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "fusion":
        return fusion(sys.argv[2:])
    models.MODELS.update(ENCODERS)
    import harness
    sys.argv = [os.path.join(HERE, "harness.py")] + sys.argv[2:]
    return harness.main()


if __name__ == "__main__":
    sys.exit(main())
