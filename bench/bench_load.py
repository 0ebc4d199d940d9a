#!/usr/bin/env python3
"""Model loading: time and peak memory for .onnx (inline and external data) and .ais (raw and
zstd), with ONNX Runtime's session creation on the same file as the peer.

    .venv/bin/python bench/bench_load.py --build build-release [--mb 128] [--runs 7] [--json F]

Generates an MLP with about --mb megabytes of float32 weights with PyTorch (random weights drawn
like a trained layer's), exports it, converts it with `aistack convert`, then for every file runs,
in fresh processes, `bench_model FILE --iters 1`: the load time measured inside the process and
how much the load raised the process's peak resident memory (VmHWM less VmRSS before loading,
from /proc/self/status); medians of --runs. Files are read once before timing, so every system reads from the page cache.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def measure_load(bench_model, path, verify=1):
    """(load ms, MiB the load added to the process's peak resident memory), measured inside a
    fresh bench_model process (from /proc/self/status, so this harness's size does not count)."""
    out = subprocess.run([bench_model, path, "--iters", "1", "--warmup", "0", "--verify", str(verify)],
                         capture_output=True, text=True, check=True).stdout
    vals = dict(tok.split("=", 1) for tok in out.split() if "=" in tok)
    return float(vals["load_ms"]), float(vals["load_peak_mb"])


def ort_load(path, runs):
    code = ("import sys, time, onnxruntime as ort\n"
            "o = ort.SessionOptions(); o.intra_op_num_threads = 1\n"
            "t = time.perf_counter(); ort.InferenceSession(sys.argv[1], o, providers=['CPUExecutionProvider'])\n"
            "print((time.perf_counter() - t) * 1e3)\n")
    times = [float(subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(runs)]
    return statistics.median(times)


def make_model(path_inline, path_external, mb):
    import numpy as np
    import onnx
    import torch
    width = 2048
    layers = max(1, int(mb * 1e6 / (width * width * 4)))
    torch.manual_seed(0)
    mods = []
    for _ in range(layers):
        lin = torch.nn.Linear(width, width)
        torch.nn.init.normal_(lin.weight, std=1.0 / np.sqrt(width))
        mods += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods).eval()
    torch.onnx.export(model, torch.randn(1, width), path_inline, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
    m = onnx.load(path_inline)
    onnx.save_model(m, path_external, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(path_external) + ".data", size_threshold=1024)
    return layers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-release")
    ap.add_argument("--mb", type=float, default=128)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    tool = os.path.join(args.build, "examples", "aistack")
    bench_model = os.path.join(args.build, "bench", "bench_model")
    work = tempfile.mkdtemp(prefix="ais-load-")
    inline = os.path.join(work, "mlp.onnx")
    external = os.path.join(work, "mlp_ext.onnx")
    layers = make_model(inline, external, args.mb)
    ais_raw = os.path.join(work, "mlp.ais")
    ais_zstd = os.path.join(work, "mlp_zstd.ais")
    subprocess.run([tool, "convert", inline, ais_raw, "--compress", "none"], check=True, capture_output=True)
    subprocess.run([tool, "convert", inline, ais_zstd, "--compress", "1"], check=True, capture_output=True)

    # verify 0: AIS_OPT_VERIFY_CHECKSUMS=0, the .ais tensor checksums skipped
    files = [("onnx (inline weights)", inline, 1), ("onnx (external data)", external, 1),
             ("ais raw", ais_raw, 1), ("ais raw, tensor checksums not verified", ais_raw, 0),
             ("ais zstd-1 + shuffle", ais_zstd, 1)]
    rows = []
    for label, path, verify in files:
        size = os.path.getsize(path) + (os.path.getsize(external + ".data") if path == external else 0)
        for _ in range(2):  # into the page cache
            subprocess.run([tool, "info", path], capture_output=True)
        runs = [measure_load(bench_model, path, verify) for _ in range(args.runs)]
        load_peak = statistics.median(r[1] for r in runs)
        row = {"file": label, "bytes": size, "load_ms": statistics.median(r[0] for r in runs),
               "load_peak_mib": load_peak, "peak_over_file": load_peak * 1048576 / size}
        if path.endswith(".onnx") and verify:
            row["ort_load_ms"] = ort_load(path, args.runs)
        rows.append(row)

    print(f"MLP, {layers} x Linear(2048, 2048): {rows[0]['bytes'] / 1e6:.1f} MB of ONNX; "
          f"{args.runs} runs, medians")
    print("| file | size MB | libaistack load ms | ONNX Runtime session ms | memory added by the load, MiB | that / file size |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ort = f"{r['ort_load_ms']:.1f}" if "ort_load_ms" in r else "-"
        print(f"| {r['file']} | {r['bytes'] / 1e6:.1f} | {r['load_ms']:.2f} | {ort} | {r['load_peak_mib']:.1f} | {r['peak_over_file']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bench": "load", "layers": layers, "results": rows,
                       "time": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=1)


if __name__ == "__main__":
    main()
