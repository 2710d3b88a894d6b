#!/usr/bin/env python3
"""Runs the white-box attack (rMLE) in PyTorch on the weights, images and settings that
examples/crosscheck_rmle exported, and compares the reconstructions with inv's.

    scripts/crosscheck_rmle.py OUT_DIR [ITERATIONS=5000] [--threads-spread]

A PyTorch copy of the protocol (he2019-protocol.md §3): LeNet with the exported weights,
x from 0 in normalised space, Adam(lr 1e-2, eps 1e-3, AMSGrad), loss = mean((f1(x) - v)²)
+ λ_TV·TV_sq(x) with the reference code's TV, λ_TV = 0 at conv1 and 1 at ReLU2. Prints,
per split, the PSNR between PyTorch's and inv's reconstructions (de-normalised and clipped
to [0, 1], peak 1), per image and as mean and minimum, and each one's PSNR against the
originals. With --threads-spread it also runs PyTorch's attack on 1 thread and prints how far
PyTorch's own 1- and 2-thread reconstructions are apart: rounding that differs in the last
bit grows over thousands of steps through the ReLU kinks, so that spread is the scale
against which the inv-PyTorch agreement is to be read.
Needs Debian's python3-torch and python3-numpy (never used by the library or its tests).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

args = [a for a in sys.argv[1:] if not a.startswith("--")]
threads_spread = "--threads-spread" in sys.argv
out = args[0]
iterations = int(args[1]) if len(args) > 1 else 5000


def load(name):
    return torch.from_numpy(np.load(os.path.join(out, name + ".npy")))


net = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 5), nn.ReLU())
with torch.no_grad():
    net[0].weight.copy_(load("conv1.weight")), net[0].bias.copy_(load("conv1.bias"))
    net[3].weight.copy_(load("conv2.weight")), net[3].bias.copy_(load("conv2.bias"))
for p in net.parameters():
    p.requires_grad_(False)
images = load("images")


def tv_sq(x):  # the reference code's TV
    n, c, h, w = x.shape
    return (((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).sum() / (c * (h - 1) * w) +
            ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).sum() / (c * h * (w - 1))) / n


def to_image(x):
    return (x * 0.5 + 0.5).clamp(0, 1)


def psnr(a, b):
    mse = ((a - b) ** 2).reshape(a.shape[0], -1).mean(1)
    return [10 * math.log10(1 / m) if m > 0 else math.inf for m in mse.tolist()]


def attack(edge, v, lam, threads):
    """rMLE in PyTorch; per-image objectives summed (the batch does not couple images), as inv computes it."""
    torch.set_num_threads(threads)
    n = images.shape[0]
    x = torch.zeros_like(images, requires_grad=True)
    opt = torch.optim.Adam([x], lr=1e-2, eps=1e-3, amsgrad=True)
    for _ in range(iterations):
        opt.zero_grad()
        loss = n * (((edge(x) - v) ** 2).mean() + lam * tv_sq(x))
        loss.backward()
        opt.step()
    return x.detach()


for split, depth, lam in (("conv1", 1, 0.0), ("ReLU2", 5, 1.0)):
    edge = net[:depth]
    v = load("v_" + split)
    with torch.no_grad():
        assert torch.allclose(edge(images), v, atol=1e-5), "inv's features differ from PyTorch's on the same weights"
    ours = to_image(load("rec_" + split))
    theirs = to_image(attack(edge, v, lam, 2))
    original = to_image(images)
    agree = psnr(ours, theirs)
    print(f"{split}: PSNR(inv, PyTorch) mean {np.mean(agree):.2f} dB, min {min(agree):.2f} dB; "
          f"PSNR vs original: inv {np.mean(psnr(original, ours)):.2f} dB, PyTorch {np.mean(psnr(original, theirs)):.2f} dB")
    print(f"  per image: {' '.join(f'{a:.1f}' for a in agree)}")
    if threads_spread:
        own = psnr(theirs, to_image(attack(edge, v, lam, 1)))
        print(f"  PSNR(PyTorch 2 threads, PyTorch 1 thread) mean {np.mean(own):.2f} dB, min {min(own):.2f} dB; "
              f"per image: {' '.join(f'{a:.1f}' for a in own)}")
