"""The benchmark's model set, with random (seeded) weights, as ONNX files plus their inputs.

Two sources:
  * PyTorch builders of tests/python/torch_models.py (shared with the parity tests, imported
    rather than copied), exported to ONNX: an MLP, torchvision CNNs, BERT-style encoders;
  * the ONNX "light" real-architecture CNNs that ship inside the onnx wheel
    (onnx/backend/test/data/light). Those files keep the graph but replace every weight by a
    ConstantOfShape node filled with 0.02 (that is what makes them light), so a run on them would
    measure constant-folding and denormal-free arithmetic on a degenerate network. We generate
    the weights instead: each ConstantOfShape (and each float initializer) becomes a seeded random
    initializer of the same shape, scaled by its role (He-normal for Conv/Gemm weights, positive
    variances and near-1 scales for BatchNormalization), and the initializers leave the input
    list, so every runtime sees constant weights it may pack at load.

    python bench/models.py OUT_DIR [--quick] [--models a,b]   # writes OUT_DIR/<key>.onnx, .npz
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))


def _torch(builder):
    return ("torch", builder)


def _light(name):
    return ("light", name)


def _tm():
    import torch_models  # noqa: E402 - needs torch, imported only when a torch model is built
    return torch_models


# key -> (description, (source, builder or light-model name))
MODELS = {
    "mlp_b1": ("MLP 256-512-512-256-10, batch 1", _torch(lambda: _tm().mlp(batch=1))),
    "mlp_b256": ("MLP 256-512-512-256-10, batch 256", _torch(lambda: _tm().mlp(batch=256))),
    "resnet18_b1": ("torchvision resnet18, 1x3x224x224",
                    _torch(lambda: _tm().torchvision_cnn("resnet18", 1, 224))),
    "mobilenet_v2_b1": ("torchvision mobilenet_v2, 1x3x224x224",
                        _torch(lambda: _tm().torchvision_cnn("mobilenet_v2", 1, 224))),
    "squeezenet1_0_b1": ("torchvision squeezenet1_0, 1x3x224x224",
                         _torch(lambda: _tm().torchvision_cnn("squeezenet1_0", 1, 224))),
    "bert_s128": ("BERT-style encoder, 2 layers d=128, batch 1, seq 128",
                  _torch(lambda: _tm().bert(batch=1, seq=128))),
    "bert6_d384_s128": ("BERT-style encoder, 6 layers d=384 (12 heads, ff 1536), batch 1, seq 128",
                        _torch(lambda: _tm().bert(batch=1, seq=128, layers=6, d=384))),
    "alexnet": ("ONNX light bvlc_alexnet, 1x3x224x224", _light("light_bvlc_alexnet")),
    "densenet121": ("ONNX light densenet121, 1x3x224x224", _light("light_densenet121")),
    "inception_v1": ("ONNX light inception_v1, 1x3x224x224", _light("light_inception_v1")),
    "inception_v2": ("ONNX light inception_v2, 1x3x224x224", _light("light_inception_v2")),
    "resnet50": ("ONNX light resnet50, 1x3x224x224", _light("light_resnet50")),
    "shufflenet": ("ONNX light shufflenet, 1x3x224x224", _light("light_shufflenet")),
    "squeezenet": ("ONNX light squeezenet, 1x3x224x224", _light("light_squeezenet")),
    "vgg19": ("ONNX light vgg19, 1x3x224x224", _light("light_vgg19")),
    "zfnet512": ("ONNX light zfnet512, 1x3x224x224", _light("light_zfnet512")),
}

# --quick: the same kinds of model, small enough for a smoke test in ctest.
QUICK = {
    "mlp_b1": MODELS["mlp_b1"],
    "squeezenet1_0_b1": ("torchvision squeezenet1_0, 1x3x64x64",
                         _torch(lambda: _tm().torchvision_cnn("squeezenet1_0", 1, 64))),
    "bert_s32": ("BERT-style encoder, 1 layer d=64, batch 1, seq 32",
                 _torch(lambda: _tm().bert(batch=1, seq=32, layers=1, d=64))),
    "squeezenet": MODELS["squeezenet"],
}


def light_dir():
    import onnx
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def _roles(graph):
    """name -> (op_type, input index, transB) of the first consumer of each value."""
    roles = {}
    for n in graph.node:
        trans_b = any(a.name == "transB" and a.i for a in n.attribute)
        for i, name in enumerate(n.input):
            roles.setdefault(name, (n.op_type, i, trans_b))
    return roles


def _random_weight(rng, shape, role):
    import numpy as np
    op, idx, trans_b = role if role else ("", -1, False)
    shape = tuple(int(d) for d in shape)
    size = int(np.prod(shape)) if shape else 1
    if op == "BatchNormalization":  # X, scale, B, mean, var
        if idx == 1:
            w = rng.uniform(0.8, 1.2, size)
        elif idx == 4:
            w = rng.uniform(0.5, 1.5, size)
        else:
            w = rng.normal(0.0, 0.1, size)
    elif op in ("Conv", "Gemm", "MatMul", "ConvTranspose") and idx == 1 and len(shape) >= 2:
        fan_in = size // shape[0] if op == "Conv" or (op == "Gemm" and trans_b) else shape[0]
        w = rng.normal(0.0, (2.0 / max(1, fan_in)) ** 0.5, size)
    elif op == "Mul":
        w = rng.uniform(0.8, 1.2, size)
    else:  # biases, additive constants
        w = rng.normal(0.0, 0.05, size)
    return w.astype(np.float32).reshape(shape)


def light_model(name, out_path, seed=7):
    """Writes the light model `name` with generated weights to out_path; returns its input's
    name and the benchmark's input for it."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(light_dir(), name + ".onnx"))
    g = m.graph
    rng = np.random.default_rng(seed)
    roles = _roles(g)
    inits = {t.name: t for t in g.initializer}
    new_inits, keep_nodes = [], []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input and n.input[0] in inits:
            shape = numpy_helper.to_array(inits[n.input[0]])
            w = _random_weight(rng, shape, roles.get(n.output[0]))
            new_inits.append(numpy_helper.from_array(w, n.output[0]))
        else:
            keep_nodes.append(n)
    used = {x for n in keep_nodes for x in n.input} | {o.name for o in g.output}
    for t in g.initializer:  # shapes (int64) stay; float weights are generated like the rest
        if t.name not in used:
            continue
        if t.data_type == onnx.TensorProto.FLOAT:
            new_inits.append(numpy_helper.from_array(
                _random_weight(rng, t.dims, roles.get(t.name)), t.name))
        else:
            new_inits.append(t)
    init_names = {t.name for t in new_inits}
    real_inputs = [i for i in g.input if i.name not in init_names and i.name in used]
    del g.node[:]
    g.node.extend(keep_nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    del g.input[:]
    g.input.extend(real_inputs)
    m.ir_version = max(m.ir_version, 4)  # initializers need not be graph inputs from IR 4 on
    x = real_inputs[0]
    shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
    feed = np.random.default_rng(seed + 4).standard_normal(shape).astype(np.float32)
    _calibrate_logits(m, x.name, feed)
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    return x.name, feed


def _calibrate_logits(m, in_name, feed, target_std=2.0):
    """Random BatchNormalization statistics do not normalize, so activations grow through a deep
    network and a final Softmax saturates into a one-hot vector, which every runtime reproduces
    exactly and which checks nothing. When the graph ends in Softmax after a Gemm or Conv
    (through Reshape/Flatten and the like), that layer's weight and bias are scaled so the
    logits have standard deviation `target_std` on the benchmark's input (ONNX Runtime computes
    them once; without it the model is left as it is)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    last = producer.get(g.output[0].name)
    if last is None or last.op_type != "Softmax":
        return
    node = producer.get(last.input[0])
    while node is not None and node.op_type in ("Reshape", "Flatten", "Squeeze", "Identity",
                                                "Dropout", "GlobalAveragePool", "AveragePool"):
        node = producer.get(node.input[0])
    if node is None or node.op_type not in ("Gemm", "Conv"):
        return
    try:
        import onnxruntime as ort
    except ImportError:
        return
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(last.input[0]))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    logits = sess.run([last.input[0]], {in_name: feed})[0]
    std = float(np.std(logits.astype(np.float64)))
    if not std > 0:
        return
    inits = {t.name: t for t in g.initializer}
    for name in node.input[1:3]:
        if name in inits:
            t = inits[name]
            t.CopyFrom(numpy_helper.from_array(
                (numpy_helper.to_array(t) * (target_std / std)).astype(np.float32), name))


def generate(out_dir, key, spec, opset=13):
    """Writes <key>.onnx and <key>.npz (inputs in order); returns
    (onnx path, npz path, input names, output names)."""
    import numpy as np
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, key)
    source, what = spec[1]
    if source == "light":
        import onnx
        in_name, x = light_model(what, base + ".onnx")
        in_names, feeds = [in_name], [x]
        out_names = [o.name for o in onnx.load(base + ".onnx").graph.output]
    else:
        built = what()
        _, inputs, in_names, out_names, _ = built
        _tm().export(built, base + ".onnx", opset=opset)
        feeds = [t.numpy() for t in inputs]
    np.savez(base + ".npz", **{f"{i:02d}_{n}": t for i, (n, t) in enumerate(zip(in_names, feeds))})
    return base + ".onnx", base + ".npz", list(in_names), list(out_names)


def load_inputs(npz_path):
    """The inputs in order, with their names."""
    import numpy as np
    with np.load(npz_path) as z:
        keys = sorted(z.files)
        return [k[3:] for k in keys], [z[k] for k in keys]


if __name__ == "__main__":
    out = sys.argv[1]
    cat = QUICK if "--quick" in sys.argv else MODELS
    if "--models" in sys.argv:
        cat = {k: MODELS.get(k) or QUICK[k] for k in sys.argv[sys.argv.index("--models") + 1].split(",")}
    for k, s in cat.items():
        print(generate(out, k, s)[0])
