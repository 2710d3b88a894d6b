#!/usr/bin/python3
"""Pixel differences between image decoders on one image folder.

    compare_image_decoders.py FOLDER CHANNELS A.npy [B.npy ...]

Each .npy holds a folder as inv reads it, (N, C, H, W) float32 in [0, 1]
(bench_readers --npy writes them). The folder is also decoded with Pillow, as
torchvision's ImageFolder loader does: Image.open(f).convert("RGB"), then
convert("L") for grey. Prints, for each .npy against Pillow and against the first
.npy, the largest difference in 8-bit levels, the mean absolute difference and the
share of samples that differ. Needs python3-numpy and python3-pil (scripts/setup.sh --dev).
"""
import os
import sys

import numpy as np
from PIL import Image

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pillow_folder(root, channels):
    """The folder decoded by Pillow, in load_image_folder's order (classes, then files, by name)."""
    images = []
    for cls in sorted(c for c in os.listdir(root) if not c.startswith(".") and os.path.isdir(os.path.join(root, c))):
        folder = os.path.join(root, cls)
        for name in sorted(f for f in os.listdir(folder) if not f.startswith(".") and f.lower().endswith(EXTENSIONS)):
            im = Image.open(os.path.join(folder, name)).convert("RGB")
            if channels == 1:
                im = im.convert("L")
            a = np.asarray(im, dtype=np.uint8)
            images.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    return np.stack(images)


def levels(path):
    return np.rint(np.load(path).astype(np.float64) * 255).astype(np.int32)


def report(name, a, b):
    d = np.abs(a.astype(np.int32) - b.astype(np.int32))
    print(f"{name:48s} max {d.max():3d} levels   mean |diff| {d.mean():.4f}   differ {100 * (d > 0).mean():6.2f} %")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    root, channels, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pil = pillow_folder(root, channels)
    first = levels(files[0])
    for f in files:
        x = levels(f)
        assert x.shape == pil.shape, (f, x.shape, pil.shape)
        report(f"{os.path.basename(f)} vs Pillow", x, pil)
        if f is not files[0]:
            report(f"{os.path.basename(f)} vs {os.path.basename(files[0])}", x, first)


if __name__ == "__main__":
    main()
