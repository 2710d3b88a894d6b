#!/usr/bin/env python3
"""The benchmark cases of bench/bench_inv.cpp, in PyTorch, for the side-by-side table.

Prints one JSON object per line: {"case": ..., "ms": ...} (median wall time).
Run through bench/compare.py, which sets the thread count and the BLAS for this
process only. Needs Debian's python3-torch; never used by the library or its tests.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
only = sys.argv[2].split(",") if len(sys.argv) > 2 else None
torch.set_num_threads(threads)
torch.manual_seed(0)


def median_ms(f, warmup=3, min_runs=10, min_seconds=0.5):
    for _ in range(warmup):
        f()
    t, start = [], time.perf_counter()
    while len(t) < min_runs or time.perf_counter() - start < min_seconds:
        a = time.perf_counter()
        f()
        t.append((time.perf_counter() - a) * 1e3)
    return statistics.median(t)


def emit(case, ms, **extra):
    print(json.dumps(dict(case=case, ms=ms, **extra)), flush=True)


def wanted(group):
    return only is None or group in only


def lenet():
    return nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def cifar_cnn():
    layers, c = [], 3
    for out in (64, 128, 128):
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.Conv2d(out, out, 3, padding=1), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c = out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2048, 512), nn.Sigmoid(), nn.Linear(512, 10))


def adam(params, lr=1e-3):
    return torch.optim.Adam(params, lr=lr, eps=1e-3, amsgrad=True)


# --- conv layers at the paper's shapes, batch 32: forward + backward (input and weight grads)
CONV = [("lenet.conv1", 1, 8, 5, 0, 28), ("lenet.conv2", 8, 16, 5, 0, 12), ("cifar.conv12", 64, 64, 3, 1, 32),
        ("cifar.conv22", 128, 128, 3, 1, 16), ("cifar.conv32", 128, 128, 3, 1, 8)]
if wanted("conv"):
    for name, cin, cout, k, p, hw in CONV:
        conv = nn.Conv2d(cin, cout, k, padding=p)
        x = torch.randn(32, cin, hw, hw, requires_grad=True)
        gy = torch.randn_like(conv(x))

        def step():
            x.grad = None
            conv.zero_grad(set_to_none=True)
            conv(x).backward(gy)

        emit("conv/" + name, median_ms(step))

if wanted("gemm"):
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    ms = median_ms(lambda: a @ b)
    emit("gemm/1024", ms, gflops=2 * 1024 ** 3 / ms / 1e6)

# --- one epoch of the paper's LeNet recipe on 60,000 MNIST-sized images (batch 32)
if wanted("train"):
    net = lenet()
    opt = adam(net.parameters())
    X = torch.rand(60000, 1, 28, 28)
    Y = torch.randint(0, 10, (60000,))

    def epoch():
        perm = torch.randperm(60000)
        for i in range(0, 60000, 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(net((X[idx] - 0.5) / 0.5), Y[idx]).backward()
            opt.step()

    emit("train/lenet_epoch", median_ms(epoch, warmup=0, min_runs=1, min_seconds=0))

# --- rMLE iterations: batch of 10, gradient w.r.t. the input only
if wanted("rmle"):
    net = lenet().eval()
    cnet = cifar_cnn().eval()
    for p in list(net.parameters()) + list(cnet.parameters()):
        p.requires_grad_(False)
    cases = [("mnist.conv1", net[:1], (10, 1, 28, 28), 0.0), ("mnist.ReLU2", net[:5], (10, 1, 28, 28), 1.0),
             ("cifar.ReLU22", cnet[:9], (10, 3, 32, 32), 10.0)]
    for name, edge, shape, lam in cases:
        v = edge(torch.randn(shape))
        x = torch.zeros(shape, requires_grad=True)
        opt = adam([x], 1e-2)

        def tv(z):
            n, c, h, w = z.shape
            return (((z[:, :, 1:, :] - z[:, :, :-1, :]) ** 2).sum() / (c * (h - 1) * w) +
                    ((z[:, :, :, 1:] - z[:, :, :, :-1]) ** 2).sum() / (c * h * (w - 1))) / n

        def it():
            opt.zero_grad()
            loss = ((edge(x) - v) ** 2).mean() + lam * tv(x)
            loss.backward()
            opt.step()

        emit("rmle/" + name, median_ms(it, warmup=20, min_runs=200))

# --- one epoch of decoder / shadow training on 60,000 MNIST-sized images (batch 32)
if wanted("attack"):
    net = lenet().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    X = torch.randn(60000, 1, 28, 28)
    Y = torch.randint(0, 10, (60000,))
    decoders = {"conv1": nn.Conv2d(8, 1, 5, padding=4),
                "ReLU2": nn.Sequential(nn.ConvTranspose2d(16, 8, 5), nn.ReLU(),
                                       nn.ConvTranspose2d(8, 1, 5, stride=2, output_padding=1))}
    for split, depth in (("conv1", 1), ("ReLU2", 5)):
        with torch.no_grad():
            feats = torch.cat([net[:depth](X[i:i + 1000]) for i in range(0, 60000, 1000)])
        dec = decoders[split]
        opt = adam(dec.parameters())

        def dec_epoch():
            perm = torch.randperm(60000)
            for i in range(0, 60000, 32):
                idx = perm[i:i + 32]
                opt.zero_grad()
                F.mse_loss(dec(feats[idx]), X[idx]).backward()
                opt.step()

        emit("decoder_epoch/mnist." + split, median_ms(dec_epoch, warmup=0, min_runs=1, min_seconds=0))
        shadow = lenet()[:depth]
        cloud = net[depth:]
        opt = adam(shadow.parameters())

        def shadow_epoch():
            perm = torch.randperm(60000)
            for i in range(0, 60000, 32):
                idx = perm[i:i + 32]
                opt.zero_grad()
                F.cross_entropy(cloud(shadow(X[idx])), Y[idx]).backward()
                opt.step()

        emit("shadow_epoch/mnist." + split, median_ms(shadow_epoch, warmup=0, min_runs=1, min_seconds=0))
