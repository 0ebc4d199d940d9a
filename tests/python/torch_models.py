"""PyTorch models exported to ONNX for the parity tests and the benchmark harness.

Each builder returns (module, example_inputs, input_names, output_names, dynamic_axes). Weights are
random (seeded): the tests compare libaistack with PyTorch on fresh random inputs, so trained
weights are not needed, only realistic architectures.
"""
import math

import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, d_in=256, hidden=512, d_out=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden),
            nn.Linear(hidden, hidden // 2), nn.Tanh(),
            nn.Linear(hidden // 2, d_out))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=-1)


class EncoderLayer(nn.Module):
    """A BERT layer written out: attention with MatMul/Softmax, LayerNorm, GELU (erf form)."""

    def __init__(self, d=128, heads=4, ff=512):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d, eps=1e-12)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x, mask_bias):
        b, s, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.reshape(b, s, self.heads, self.dh).transpose(1, 2)
        k = k.reshape(b, s, self.heads, self.dh).transpose(1, 2)
        v = v.reshape(b, s, self.heads, self.dh).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + mask_bias
        att = torch.softmax(att, dim=-1)
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, s, d)
        x = self.ln1(x + self.proj(ctx))
        h = self.ff2(torch.nn.functional.gelu(self.ff1(x)))
        return self.ln2(x + h)


class BertEncoder(nn.Module):
    def __init__(self, vocab=1000, d=128, layers=2, heads=4, ff=512, max_len=512):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.typ = nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, ff) for _ in range(layers)])
        self.pool = nn.Linear(d, d)

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        pos = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = self.ln(self.tok(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_bias)
        return x, torch.tanh(self.pool(x[:, 0]))


def mlp(batch=1):
    torch.manual_seed(1)
    m = MLP().eval()
    return m, (torch.randn(batch, 256),), ["x"], ["probs"], {"x": {0: "batch"}, "probs": {0: "batch"}}


def bert(batch=1, seq=128, layers=2, d=128):
    torch.manual_seed(2)
    m = BertEncoder(layers=layers, d=d, heads=max(1, d // 32), ff=4 * d).eval()
    ids = torch.randint(0, 1000, (batch, seq), dtype=torch.long)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[:, seq - seq // 4:] = 0
    return (m, (ids, mask), ["input_ids", "attention_mask"], ["hidden", "pooled"],
            {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
             "hidden": {0: "batch", 1: "seq"}, "pooled": {0: "batch"}})


def torchvision_cnn(name, batch=1, size=224):
    import torchvision
    torch.manual_seed(3)
    m = getattr(torchvision.models, name)(weights=None).eval()
    return m, (torch.randn(batch, 3, size, size),), ["image"], ["logits"], {"image": {0: "batch"}, "logits": {0: "batch"}}


def export(builder_result, path, opset=13):
    m, inputs, in_names, out_names, dyn = builder_result
    with torch.no_grad():
        torch.onnx.export(m, inputs, path, input_names=in_names, output_names=out_names,
                          dynamic_axes=dyn, opset_version=opset, do_constant_folding=True)
    return m
