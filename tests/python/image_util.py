"""Test images made with Pillow (gradients, noise, text, several JPEG qualities, PNG with alpha,
gray, an EXIF-rotated JPEG), and the torchvision transforms that image pipeline specs mirror.
Shared by test_image.py and bench/bench_image.py."""
import io
import json

import numpy as np
from PIL import Image, ImageDraw

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def gradient(h, w):
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                  (x + y) * 255 // max(w + h - 2, 1)], -1)
    return Image.fromarray(a.astype(np.uint8))


def noise(h, w, seed):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def text(h, w):
    img = gradient(h, w)
    d = ImageDraw.Draw(img)
    for i, y in enumerate(range(5, h - 10, 14)):
        d.text((5 + 3 * i, y), "libaistack image %d: The quick brown fox" % i,
               fill=(255 - 20 * i % 256, 30 * i % 256, 0))
    d.ellipse((w // 4, h // 4, w // 2, h // 2), outline=(0, 0, 255), width=3)
    return img


def photo(h, w, seed):
    """A smooth image with edges and noise: what JPEG is made for."""
    rng = np.random.default_rng(seed)
    base = np.asarray(gradient(h, w)).astype(np.float64)
    base += rng.normal(0, 12, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    ImageDraw.Draw(img).rectangle((w // 3, h // 3, 2 * w // 3, h // 2), fill=(200, 40, 90))
    return img


def encode(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def make_images():
    """name -> encoded bytes, each a file a user could hand us."""
    out = {
        "gradient.png": encode(gradient(300, 400), "PNG"),
        "noise.png": encode(noise(231, 257, 1), "PNG"),
        "text.png": encode(text(240, 320), "PNG"),
        "tall.png": encode(photo(500, 333, 2), "PNG"),
        "small.png": encode(noise(100, 120, 3), "PNG"),
        "gray.png": encode(photo(260, 300, 4).convert("L"), "PNG"),
        "palette.png": encode(text(200, 260).convert("P"), "PNG"),
    }
    rgba = np.asarray(photo(256, 300, 5).convert("RGBA")).copy()
    rgba[..., 3] = np.arange(300, dtype=np.uint8)[None, :]
    out["alpha.png"] = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    for q in (30, 75, 95):
        out[f"photo_q{q}.jpg"] = encode(photo(375, 500, 6), "JPEG", quality=q)
    out["text_q90.jpg"] = encode(text(240, 320), "JPEG", quality=90)
    out["gray.jpg"] = encode(photo(300, 280, 7).convert("L"), "JPEG")
    out["progressive.jpg"] = encode(photo(333, 500, 8), "JPEG", progressive=True)
    for o in (3, 6, 8):
        ex = Image.Exif()
        ex[0x0112] = o
        out[f"exif{o}.jpg"] = encode(photo(300, 420, 9), "JPEG", exif=ex.tobytes())
    return out


def pil_open(data):
    """What a torchvision user feeds the transforms: Pillow's decode, EXIF-transposed, RGB."""
    from PIL import ImageOps
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def spec(steps, name="image"):
    return json.dumps({"version": 1, "inputs": [{"name": name, "type": "image"}],
                       "features": [{"input": name, "steps": steps}]})


IMAGENET_STEPS = [{"op": "resize", "size": 256}, {"op": "center_crop", "size": 224},
                  {"op": "to_tensor"},
                  {"op": "normalize", "mean": IMAGENET_MEAN, "std": IMAGENET_STD}]


def imagenet_torchvision():
    import torchvision.transforms as T
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                      T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
