#!/usr/bin/env python3
"""Image decode + preprocess (issue 19): libaistack's image pipeline against Pillow +
torchvision transforms and against OpenCV doing the same steps, on one thread, at batch 1 and
batch 32. The recipe is torchvision's classifier one: decode, RGB, Resize(256) (shorter side),
CenterCrop(224), ToTensor, Normalize(ImageNet), CHW float32, stacked into [B, 3, 224, 224].
Every peer starts from the encoded bytes in memory (no file I/O). OpenCV's resize is
cv2.INTER_LINEAR, which is not antialiased (its tensors differ from torchvision's; ours and
torchvision's agree, tests/python/test_image.py). Rounds alternate between the peers so that
load on the machine hits all alike; medians and ratios are printed, every time goes to --json.
The tensors of aistack and torchvision are checked equal first (exit 1 otherwise).

    AISTACK_LIBRARY=build/libaistack.so .venv/bin/python bench/bench_image.py
"""
import argparse
import io
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import aistack  # noqa: E402
from image_util import (IMAGENET_MEAN, IMAGENET_STD, IMAGENET_STEPS, encode,  # noqa: E402
                        imagenet_torchvision, photo, spec, text)


def make_images(n, kind):
    """n ImageNet-sized photos (500 x 375 and 375 x 500, as most of ImageNet's validation set),
    JPEG quality 90, or PNG."""
    out = []
    for i in range(n):
        h, w = (375, 500) if i % 3 else (500, 375)
        img = photo(h, w, 100 + i) if i % 4 else text(h, w)
        out.append(encode(img, "JPEG", quality=90) if kind == "jpeg" else encode(img, "PNG"))
    return out


def peers(batch):
    import cv2
    import torch
    from PIL import Image
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    aistack.set_num_threads(1)
    pipe = aistack.Pipeline(spec(IMAGENET_STEPS))
    tf = imagenet_torchvision()
    mean = np.array(IMAGENET_MEAN, np.float32)[:, None, None]
    inv_std = 1.0 / np.array(IMAGENET_STD, np.float32)[:, None, None]

    def ours(chunk):
        return pipe.run_records([{"image": b} for b in chunk])

    def torchvision(chunk):
        return torch.stack([tf(Image.open(io.BytesIO(b)).convert("RGB")) for b in chunk]).numpy()

    def opencv_one(b):
        img = cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        s, l = (w, h) if w <= h else (h, w)
        nl = int(256 * l / s)
        size = (256, nl) if w <= h else (nl, 256)
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        h, w = img.shape[:2]
        top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
        img = img[top:top + 224, left:left + 224]
        return (img.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) * inv_std

    def opencv(chunk):
        return np.stack([opencv_one(b) for b in chunk])

    return {"aistack": ours, "torchvision": torchvision, "opencv": opencv}


def one_pass(fn, images, batch):
    t0 = time.perf_counter()
    for i in range(0, len(images), batch):
        fn(images[i:i + batch])
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--format", choices=["jpeg", "png"], default="jpeg")
    ap.add_argument("--json", help="write every time here")
    args = ap.parse_args()
    images = make_images(args.images, args.format)
    fns = peers(1)
    a, t = fns["aistack"](images[:4]), fns["torchvision"](images[:4])
    if a.shape != t.shape or np.abs(a - t).max() > 1.0 / 255 / 0.224 + 1e-5:
        print(f"aistack and torchvision differ: {np.abs(a - t).max()}", file=sys.stderr)
        return 1
    results = {"machine": platform.processor() or platform.machine(), "images": args.images,
               "format": args.format, "rounds": args.rounds, "times": {}}
    print(f"{args.images} {args.format.upper()} images (500x375 / 375x500), one thread, "
          f"images/s (median of {args.rounds} alternating rounds)")
    print(f"{'batch':>5} {'aistack':>9} {'torchvision':>12} {'opencv':>9} "
          f"{'vs torchvision':>15} {'vs opencv':>10}")
    for batch in (int(b) for b in args.batches.split(",")):
        times = {k: [] for k in fns}
        for fn in fns.values():  # warm-up
            one_pass(fn, images[:batch], batch)
        for _ in range(args.rounds):
            for k, fn in fns.items():
                times[k].append(one_pass(fn, images, batch))
        med = {k: statistics.median(v) for k, v in times.items()}
        ips = {k: args.images / v for k, v in med.items()}
        results["times"][str(batch)] = times
        print(f"{batch:>5} {ips['aistack']:>9.1f} {ips['torchvision']:>12.1f} "
              f"{ips['opencv']:>9.1f} {med['torchvision'] / med['aistack']:>14.2f}x "
              f"{med['opencv'] / med['aistack']:>9.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
