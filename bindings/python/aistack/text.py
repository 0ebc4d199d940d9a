"""Text to token ids: the WordPiece tokenizer of libaistack (ais_text.h), with the Hugging Face
names, so that code written against `tokenizers`/`transformers` reads the same:

    from aistack.text import WordPieceTokenizer
    tok = WordPieceTokenizer.from_file("tokenizer.json")      # or a BERT vocab.txt
    enc = tok.encode_batch(["A man is eating food."], max_length=128, padding="longest")
    enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]   # int64 [rows, length]

The ids are those of Hugging Face `tokenizers` for the same tokenizer.json. Texts are str (encoded
to UTF-8) or bytes (passed as they are: invalid UTF-8 raises FormatError naming the row and the
byte offset). NUL characters are allowed and dropped by the clean-text step, as in `tokenizers`.
"""
from __future__ import annotations

import ctypes
import os
from typing import Dict, Optional, Sequence, Union

import numpy as np

from . import _errors, _lib
from ._tensor import to_numpy

L = _lib.lib
Text = Union[str, bytes]

_PADDING = {"longest": 1, "max_length": 2}
_TRUNCATION = {False: 0, True: 1, "longest_first": 1, "only_first": 2, "only_second": 3,
               "do_not_truncate": 0}
_OPTIONS = {"lowercase": 1, "strip_accents": 2, "clean_text": 3, "handle_chinese_chars": 4,
            "max_input_chars_per_word": 5}


def _bytes(t: Text, what: str) -> bytes:
    if isinstance(t, bytes):
        return t
    if isinstance(t, str):
        return t.encode("utf-8", "surrogatepass")  # lone surrogates reach the C check
    raise TypeError(f"{what}: expected str or bytes, got {type(t).__name__}")


class WordPieceTokenizer:
    """A loaded tokenizer (ais_tokenizer). Safe to share between threads for encode_batch."""

    def __init__(self, handle: int):
        self._h = handle

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], **options) -> "WordPieceTokenizer":
        """Loads a tokenizer.json or vocab.txt; options (lowercase=, strip_accents=,
        clean_text=, handle_chinese_chars=, max_input_chars_per_word=) override its settings."""
        h = _lib.TokenizerP()
        _errors.check(L.ais_tokenizer_load(os.fsencode(path), ctypes.byref(h)))
        tok = cls(h.value)
        for k, v in options.items():
            tok.set_option(k, v)
        return tok

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "tokenizer") -> "WordPieceTokenizer":
        h = _lib.TokenizerP()
        _errors.check(L.ais_tokenizer_load_memory(data, len(data), name.encode(), ctypes.byref(h)))
        return cls(h.value)

    def set_option(self, name: str, value) -> None:
        if name not in _OPTIONS:
            raise KeyError(f"unknown tokenizer option {name!r} (known: {', '.join(_OPTIONS)})")
        v = -1 if value is None else int(value)
        _errors.check(L.ais_tokenizer_set_option(self._h, _OPTIONS[name], v))

    def get_option(self, name: str) -> int:
        v = ctypes.c_int64()
        _errors.check(L.ais_tokenizer_get_option(self._h, _OPTIONS[name], ctypes.byref(v)))
        return v.value

    @property
    def vocab_size(self) -> int:
        return int(L.ais_tokenizer_vocab_size(self._h))

    def token_to_id(self, token: str) -> Optional[int]:
        v = ctypes.c_int64()
        st = L.ais_tokenizer_token_id(self._h, token.encode("utf-8"), ctypes.byref(v))
        return v.value if st == 0 else None

    def encode_batch(self, texts: Sequence[Text], max_length: Optional[int] = None,
                     padding: str = "longest", truncation: Union[bool, str] = True,
                     pairs: Optional[Sequence[Optional[Text]]] = None) -> Dict[str, np.ndarray]:
        """Token ids, attention mask and token type ids as int64 arrays [len(texts), length].

        max_length counts the special tokens; None takes the tokenizer file's truncation length
        (if any). padding: "longest" (the longest row) or "max_length". truncation: True or
        "longest_first", "only_first", "only_second", or False (a longer row raises LimitError).
        pairs: a second text per row (None entries: that row has none)."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode_batch takes a sequence of texts, not one text")
        if padding not in _PADDING:
            raise ValueError(f"padding must be one of {sorted(_PADDING)}, not {padding!r}")
        if truncation not in _TRUNCATION:
            raise ValueError(f"truncation must be a bool or one of longest_first, only_first, "
                             f"only_second, not {truncation!r}")
        n = len(texts)
        enc = [_bytes(t, f"texts[{i}]") for i, t in enumerate(texts)]
        c_texts = (ctypes.c_char_p * max(n, 1))(*enc)
        c_lens = (ctypes.c_size_t * max(n, 1))(*[len(b) for b in enc])
        c_pairs = c_plens = None
        if pairs is not None:
            if len(pairs) != n:
                raise ValueError(f"pairs has {len(pairs)} entries for {n} texts")
            penc = [None if p is None else _bytes(p, f"pairs[{i}]") for i, p in enumerate(pairs)]
            c_pairs = (ctypes.c_char_p * max(n, 1))(*penc)
            c_plens = (ctypes.c_size_t * max(n, 1))(*[0 if b is None else len(b) for b in penc])
        out = [_lib.TensorP() for _ in range(3)]
        _errors.check(L.ais_tokenizer_encode_batch(
            self._h, c_texts, c_lens, c_pairs, c_plens, n, int(max_length or 0),
            _PADDING[padding], _TRUNCATION[truncation], *(ctypes.byref(o) for o in out)))
        names = ("input_ids", "attention_mask", "token_type_ids")
        return {k: to_numpy(o.value) for k, o in zip(names, out)}

    def close(self) -> None:
        if self._h:
            L.ais_tokenizer_destroy(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self) -> "WordPieceTokenizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_POOLING = {"mean": 1, "cls": 2}


def convert(model: Union[str, os.PathLike], out: Union[str, os.PathLike],
            tokenizer: Union[str, os.PathLike], *, max_length: Optional[int] = None,
            pooling: str = "mean", normalize: bool = False,
            compress: Optional[int] = None) -> None:
    """Writes one .ais file that takes raw text and gives sentence embeddings (ais_text_convert,
    as `aistack convert MODEL OUT.ais --tokenizer ...`): the transformer `model` (ONNX), its
    tokenizer (tokenizer.json or vocab.txt) as a text pipeline, and the pooling ("mean" over
    the attention mask, or "cls"; normalize=True: L2-normalized) as graph nodes, whose one
    output is "sentence_embedding" [rows, hidden]. max_length: tokens per row (None: the
    tokenizer's truncation length). Run it with Session.run_records([{"text": ...}, ...])."""
    from ._model import _Options
    if pooling not in _POOLING:
        raise ValueError(f"pooling must be one of {sorted(_POOLING)}, not {pooling!r}")
    settings = {24: int(max_length or 0), 25: _POOLING[pooling], 26: int(bool(normalize)),
                7: compress}
    with _Options(settings) as o:
        _errors.check(L.ais_text_convert(os.fsencode(model), os.fsencode(tokenizer),
                                         os.fsencode(out), o.handle))
