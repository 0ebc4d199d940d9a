"""Image pipelines (docs/pipeline-spec.md, "Image inputs") against torchvision's transforms on
PIL images (Debian's python3-torchvision and python3-pil), on images generated here
(image_util.py): the preprocessed tensors agree within 1/255 of the [0, 1] scale (for the PNGs
and for JPEGs, whose decoders are the same libjpeg-turbo, the bytes agree exactly)."""
import io
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bindings", "python"))
import aistack  # noqa: E402
from image_util import (IMAGENET_STEPS, imagenet_torchvision, make_images, pil_open, spec)

T = pytest.importorskip("torchvision.transforms")
torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

IMAGES = make_images()
TOL = 1.0 / 255 + 1e-6


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    for name, data in IMAGES.items():
        (d / name).write_bytes(data)
    return d


def run(steps, records):
    with aistack.Pipeline(spec(steps)) as p:
        return p.run_records(records)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_imagenet_recipe_matches_torchvision(name, files):
    got = run(IMAGENET_STEPS, [{"image": str(files / name)}])
    want = imagenet_torchvision()(pil_open(IMAGES[name])).numpy()[None]
    assert got.shape == want.shape == (1, 3, 224, 224)
    # normalize divides by std (about 0.225): 1/255 before it is 1/(255 * std) after
    diff = np.abs(got - want) * np.array([0.229, 0.224, 0.225])[None, :, None, None]
    assert diff.max() <= TOL, f"{name}: max difference {diff.max() * 255:.3f}/255"


CASES = {
    "resize_hw": ([{"op": "resize", "size": [200, 300]}, {"op": "to_tensor"}],
                  lambda: T.Compose([T.Resize((200, 300)), T.ToTensor()])),
    "resize_up": ([{"op": "resize", "size": 600}, {"op": "center_crop", "size": [500, 410]},
                   {"op": "to_tensor"}],
                  lambda: T.Compose([T.Resize(600), T.CenterCrop((500, 410)), T.ToTensor()])),
    "nearest": ([{"op": "resize", "size": 128, "interpolation": "nearest"},
                 {"op": "center_crop", "size": 100}, {"op": "to_tensor"}],
                lambda: T.Compose([T.Resize(128, T.InterpolationMode.NEAREST), T.CenterCrop(100),
                                   T.ToTensor()])),
    "crop_larger": ([{"op": "center_crop", "size": [301, 517]}, {"op": "to_tensor"}],
                    lambda: T.Compose([T.CenterCrop((301, 517)), T.ToTensor()])),
    "crop_odd": ([{"op": "resize", "size": 101}, {"op": "center_crop", "size": [64, 33]},
                  {"op": "to_tensor"}],
                 lambda: T.Compose([T.Resize(101), T.CenterCrop((64, 33)), T.ToTensor()])),
    "pad": ([{"op": "resize", "size": [96, 80]}, {"op": "pad", "padding": [3, 5, 7, 2],
                                                   "fill": [10, 20, 30]},
             {"op": "to_tensor"}],
            lambda: T.Compose([T.Resize((96, 80)), T.Pad([3, 5, 7, 2], fill=(10, 20, 30)),
                               T.ToTensor()])),
    "no_scale": ([{"op": "resize", "size": [50, 70]}],
                 lambda: T.Compose([T.Resize((50, 70)), T.PILToTensor(),
                                    T.Lambda(lambda t: t.float())])),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", ["gradient.png", "text.png", "photo_q75.jpg", "exif6.jpg",
                                  "alpha.png", "gray.jpg", "small.png"])
def test_steps_match_torchvision(case, name, files):
    steps, tf = CASES[case]
    got = run(steps, [{"image": str(files / name)}])[0]
    want = tf()(pil_open(IMAGES[name])).numpy()
    assert got.shape == want.shape
    scale = 255.0 if case == "no_scale" else 1.0
    assert np.abs(got - want).max() <= TOL * scale, (case, name, np.abs(got - want).max())


def test_bgr_hwc_and_batch(files):
    names = ["gradient.png", "photo_q30.jpg", "exif8.jpg", "gray.png"]
    steps = IMAGENET_STEPS[:2] + [{"op": "channels", "order": "bgr"}, {"op": "to_tensor"},
                                  {"op": "layout", "order": "hwc"}]
    got = run(steps, [{"image": str(files / n)} for n in names])
    assert got.shape == (4, 224, 224, 3)
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    for i, n in enumerate(names):
        want = tf(pil_open(IMAGES[n])).numpy()[::-1].transpose(1, 2, 0)
        assert np.abs(got[i] - want).max() <= TOL


def test_antialias_off_matches_torch_interpolate(files):
    """antialias false: plain bilinear with align_corners=False (torch's interpolate on the
    tensor); ours rounds to 8 bits after each of its two passes, hence the looser bound."""
    for n in ["noise.png", "photo_q95.jpg"]:
        img = pil_open(IMAGES[n])
        for size in ([120, 90], [400, 700]):
            got = run([{"op": "resize", "size": size, "antialias": False}], [{"image": str(files / n)}])
            x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float()
            want = torch.nn.functional.interpolate(x, size=size, mode="bilinear",
                                                   align_corners=False).numpy()
            assert np.abs(got - want).max() <= 1.0 + 1e-3, (n, size)


def test_exif_orientation_applied(files):
    for o in (3, 6, 8):
        got = run([{"op": "center_crop", "size": [420, 300] if o != 3 else [300, 420]}],
                  [{"image": str(files / f"exif{o}.jpg")}])[0]
        want = np.asarray(pil_open(IMAGES[f"exif{o}.jpg"])).transpose(2, 0, 1)
        assert got.shape == want.shape and np.array_equal(got, want)


def test_png_16_bit_scaled(tmp_path):
    """16-bit samples become round(v * 255 / 65535) (libpng's png_set_scale_16)."""
    import struct
    import zlib
    v = np.random.default_rng(3).integers(0, 65536, (6, 9, 3)).astype(">u2")
    raw = b"".join(b"\0" + v[y].tobytes() for y in range(6))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9, 6, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    got = run([{"op": "center_crop", "size": [6, 9]}], [{"image": png}])[0]
    want = np.floor(v.astype(np.float64) * 255 / 65535 + 0.5).transpose(2, 0, 1)
    assert np.abs(got - want).max() <= 1.0


def test_sources_agree(files):
    """A path, the bytes, a NumPy HWC array, JSON lines and columns give the same tensor."""
    name = "photo_q75.jpg"
    path = str(files / name)
    pixels = np.asarray(pil_open(IMAGES[name]))
    with aistack.Pipeline(spec(IMAGENET_STEPS)) as p:
        a = p.run_records([{"image": path}, {"image": IMAGES[name]}, {"image": pixels},
                           {"image": pixels[..., 0]}])
        b = p.run_json_rows(json.dumps({"image": path}) + "\n")
        c = p.run_columns({"image": np.array([path], dtype=object)})
    assert np.array_equal(a[0], a[1]) and np.array_equal(a[0], a[2])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[0], c[0])
    want = imagenet_torchvision()(Image.fromarray(pixels[..., 0]).convert("RGB")).numpy()
    assert np.abs(a[3] - want).max() <= TOL / 0.224


def test_bad_images_name_row_and_field(files, tmp_path):
    bad = {"truncated": IMAGES["photo_q75.jpg"][:2000], "magic": b"GIF89a...",
           "cmyk": None, "missing": str(tmp_path / "nope.jpg")}
    b = io.BytesIO()
    pil_open(IMAGES["photo_q75.jpg"]).convert("CMYK").save(b, "JPEG")
    bad["cmyk"] = b.getvalue()
    recs = [{"image": str(files / "gradient.png")}] + [{"image": v} for v in bad.values()]
    with aistack.Pipeline(spec(IMAGENET_STEPS)) as p:
        with pytest.raises(aistack.SchemaError) as e:
            p.run_records(recs)
    probs = e.value.problems
    assert [q[0] for q in probs] == [1, 2, 3, 4]
    assert all(q[1] == "image" for q in probs)
    text = " | ".join(q[2] for q in probs)
    for needle in ("truncated", "not a JPEG or PNG", "CMYK", "nope.jpg"):
        assert needle in text, text
    assert "row 1" in str(e.value) and '"image"' in str(e.value)


def calibrate_head(m, arch, x):
    """A randomly initialized network gives nearly the same logits for every image (one or two
    classes win everywhere). Its last layer is redrawn (seeded) over the features centered and
    scaled on these images, so that top-1 varies with the image and is a real check."""
    attr, idx = ("fc", None) if arch == "resnet18" else ("classifier", 1)
    holder = m if idx is None else getattr(m, attr)
    key = attr if idx is None else idx
    head = holder[key] if idx is not None else getattr(holder, key)
    if idx is None:
        setattr(holder, key, torch.nn.Identity())
    else:
        holder[key] = torch.nn.Identity()
    with torch.no_grad():
        f = m(x)
        g = torch.Generator().manual_seed(5)
        head.weight.copy_(torch.randn(head.weight.shape, generator=g) / f.std(0).mean())
        head.bias.copy_(-head.weight @ f.mean(0))
    if idx is None:
        setattr(holder, key, head)
    else:
        holder[key] = head


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v2"])
def test_aistack_run_classifier_top1(arch, aistack, files, tmp_path):
    """`aistack convert --image-preprocess imagenet` on a torchvision classifier exported with
    a fixed batch of 1 (random weights, seeded: no pretrained weights offline), then `aistack
    run --records images.jsonl`: every test image gets torch's top-1 on torchvision's pipeline,
    the records running in chunks of the model's batch."""
    from torch_models import torchvision_cnn
    m, inputs, in_names, out_names, _ = torchvision_cnn(arch)
    names = sorted(IMAGES)
    tf = imagenet_torchvision()
    x = torch.stack([tf(pil_open(IMAGES[n])) for n in names])
    calibrate_head(m, arch, x)
    onnx_path, ais = tmp_path / f"{arch}.onnx", tmp_path / f"{arch}.ais"
    with torch.no_grad():
        torch.onnx.export(m, inputs, str(onnx_path), input_names=in_names,
                          output_names=out_names, opset_version=13)
    aistack("convert", onnx_path, ais, "--image-preprocess", "imagenet")
    jsonl = tmp_path / "images.jsonl"
    jsonl.write_text("".join(json.dumps({"image": str(files / n)}) + "\n" for n in names))
    aistack("run", ais, "--records", jsonl, "--output-dir", tmp_path / "out")
    got = np.load(tmp_path / "out" / "logits.npy")
    with torch.no_grad():
        want = m(x).numpy()
    assert len(set(want.argmax(1))) >= 5  # the test images are told apart
    assert got.shape == want.shape == (len(names), 1000)
    assert np.abs(got - want).max() <= 1e-3 * np.abs(want).max()
    top = want.argmax(1)
    assert list(got.argmax(1)) == list(top), [n for n, a, b in zip(names, got.argmax(1), top) if a != b]


def test_fixed_batch_model_runs_records_in_chunks(tmp_path):
    """A model that takes exactly [2, 3] gets 5 records as chunks of 2 (the last padded) and
    returns their 5 rows in record order; for a tabular pipeline as for images."""
    import onnx
    from onnx import TensorProto, helper
    w = np.arange(6, dtype=np.float32).reshape(3, 2) - 2
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        [onnx.numpy_helper.from_array(w, "w")])
    path = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    spec = {"version": 1, "inputs": [{"name": k, "type": "numeric"} for k in "abc"],
            "features": [{"input": k, "steps": []} for k in "abc"]}
    with aistack.Model(path) as m:
        m.save(tmp_path / "fixed.ais", pipeline=spec)
    recs = [{"a": i, "b": 2 * i - 1, "c": 0.5 * i} for i in range(5)]
    with aistack.Model(tmp_path / "fixed.ais") as m, m.session() as s:
        y = s.run_records(recs)["y"]
        y2 = s.run_records(recs[:2])["y"]
    x = np.array([[r["a"], r["b"], r["c"]] for r in recs], dtype=np.float32)
    assert y.shape == (5, 2)
    np.testing.assert_allclose(y, x @ w, rtol=1e-6)
    np.testing.assert_allclose(y2, x[:2] @ w, rtol=1e-6)


def test_session_run_records_takes_bytes_and_arrays(tmp_path, files):
    """Session.run_records on a model with an image pipeline: a path, bytes and a NumPy array
    reach the model as the pipeline's tensor (the model averages each image's channels)."""
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)], "mean",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])])
    path = tmp_path / "mean.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    steps = [{"op": "resize", "size": 20}, {"op": "center_crop", "size": 16}, {"op": "to_tensor"}]
    with aistack.Model(path) as m:
        m.save(tmp_path / "mean.ais", pipeline=spec(steps))
    name = "text_q90.jpg"
    pixels = np.asarray(pil_open(IMAGES[name]))
    recs = [{"image": files / name}, {"image": IMAGES[name]}, {"image": pixels}]
    with aistack.Model(tmp_path / "mean.ais") as m, m.session() as s:
        y = s.run_records(recs)["y"]
    with aistack.Pipeline(spec(steps)) as p:
        want = p.run_records(recs[:1]).mean(axis=(2, 3))[0]
    assert y.shape == (3, 3)
    for row in y:
        np.testing.assert_allclose(row, want, rtol=1e-5)


def test_cli_spec_file_info_and_hostile_images(aistack, files, tmp_path):
    """convert --image-preprocess SPEC.json, info names the image input, and run --records
    refuses hostile images cleanly: one `row R, field "image": reason` line each, exit 1."""
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)], "mean",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              str(tmp_path / "mean.onnx"))
    sp = tmp_path / "spec.json"
    sp.write_text(spec([{"op": "resize", "size": 40}, {"op": "center_crop", "size": 32},
                        {"op": "to_tensor"}]))
    aistack("convert", tmp_path / "mean.onnx", tmp_path / "mean.ais", "--image-preprocess", sp)
    assert "image: image" in aistack("info", tmp_path / "mean.ais").stdout
    bad = aistack("convert", tmp_path / "mean.onnx", tmp_path / "x.ais", "--image-preprocess",
                  tmp_path / "nope.json", check=False)
    assert bad.returncode != 0 and "nope.json" in bad.stderr
    hostile = {"truncated.jpg": IMAGES["photo_q75.jpg"][:3000], "cmyk.jpg": None,
               "huge.png": None, "zero.png": None, "wrong.jpg": b"GIF89a" + bytes(100)}
    import struct
    import zlib

    def png(w, h):
        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    hostile["huge.png"], hostile["zero.png"] = png(60000, 60000), png(0, 5)
    b = io.BytesIO()
    pil_open(IMAGES["gradient.png"]).convert("CMYK").save(b, "JPEG")
    hostile["cmyk.jpg"] = b.getvalue()
    names = ["gradient.png"] + sorted(hostile)
    for n, data in hostile.items():
        (tmp_path / n).write_bytes(data)
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text("".join(json.dumps({"image": str((files if n == "gradient.png" else tmp_path) / n)}) + "\n"
                             for n in names))
    r = aistack("run", tmp_path / "mean.ais", "--records", jsonl, check=False)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("row ")]
    assert len(lines) == len(hostile), r.stderr
    for i, ln in enumerate(lines, start=1):
        assert ln.startswith(f'row {i}, field "image"') and names[i] in ln, ln
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"image": str(files / "gradient.png")}) + "\n")
    assert aistack("run", tmp_path / "mean.ais", "--records", good).returncode == 0
