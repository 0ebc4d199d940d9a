#!/usr/bin/env python3
"""The transformer fusions (issue 11 item 3) measured on BERT-style encoders at sequence 128.

    .venv/bin/python bench/bench_transformer.py harness [harness.py options]
    .venv/bin/python bench/bench_transformer.py fusion [--threads 1,2] [--passes 8]

`harness` adds two encoders of tests/python/torch_models.py to bench/models.py's catalog for this
run only and calls bench/harness.py's main with the remaining options (the harness is not
changed; its rules hold: alternating passes, outputs checked against PyTorch):
  bert4_d256_s128   4 layers, d=256, 8 heads, ff 1024, batch 1, seq 128 (issue 11's table)
  minilm6_d384_s128 6 layers, d=384, 12 heads, ff 1536, batch 1, seq 128 (MiniLM-L6-sized)
`fusion` times libaistack alone at optimization level 2 (fused) against level 1 (unfused) on the
same encoders, alternating pass by pass in one process, and prints the ratio.
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


def fusion(argv):
    import argparse
    import aistack
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args(argv)
    print("| model | threads | fused (level 2) ms | unfused (level 1) ms | fused / unfused |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="aistack-xf-") as tmp:
        for key, spec in ENCODERS.items():
            onnx_path, _, npz_path, ins, outs = models.generate(tmp, key, spec)
            feeds = dict(zip(ins, models.load_inputs(npz_path)))
            for t in [int(x) for x in args.threads.split(",")]:
                aistack.set_num_threads(t)
                sess = {lvl: aistack.Model(onnx_path, opt_level=lvl).session(threads=t)
                        for lvl in (2, 1)}
                ref = sess[1].run(feeds)
                got = sess[2].run(feeds)
                for n in outs:  # the fused graph gives the unfused graph's outputs
                    import numpy as np
                    np.testing.assert_allclose(got[n], ref[n], rtol=1e-4, atol=1e-5)
                times = {2: [], 1: []}
                for _ in range(3):
                    for s in sess.values():
                        s.run(feeds)
                for _ in range(args.passes):
                    for lvl, s in sess.items():
                        for _ in range(args.iters):
                            t0 = time.perf_counter()
                            s.run(feeds)
                            times[lvl].append((time.perf_counter() - t0) * 1e3)
                m2, m1 = statistics.median(times[2]), statistics.median(times[1])
                print(f"| {key} | {t} | {m2:.2f} | {m1:.2f} | {m2 / m1:.2f} |", flush=True)


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
