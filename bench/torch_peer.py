#!/usr/bin/env python3
"""PyTorch side of `npm run bench:peers`: times the requests bench/torch-peer.ts sends, one JSON object per line.

    python3 bench/torch_peer.py --device cpu|cuda --threads N

Reads requests on stdin and answers each with one JSON line on stdout (nothing else is printed there):

    {"kind": "hello"}                           -> torch version, device, threads, BLAS
    {"kind": "train", "layers": [...], "inputShape": [C, H, W], "classes": 10, "batch": 128,
     "optimizer": {"kind": "sgd", "lr": 0.01, "momentum": 0.9} | {"kind": "adam", "lr": 0.001},
     "warmup": 5, "steps": 30}                  -> {"imgPerSec": ...}
    {"kind": "matmul", "n": 1024, "warmup": 1, "minRepeats": 3, "maxRepeats": 9, "budgetMs": 3000,
     "runMs": 50}                               -> {"medianMs": ..., "gflops": ..., "burst": ...}

The methodology is the engine side's: warm-up first, then timed work that ends with a readback (which on CUDA
waits for the device). Training steps are enqueued back to back and timed as one block; a matmul run is a
burst of products sized from a first run to last about `runMs`, and the median run counts.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def build(layers):
    """torch.nn.Sequential from the layer list bench/torch-twin.ts writes."""
    out = []
    for l in layers:
        t = l["type"]
        if t == "linear":
            out.append(nn.Linear(l["in"], l["out"], bias=l["bias"]))
        elif t == "conv2d":
            out.append(nn.Conv2d(l["in"], l["out"], tuple(l["kernel"]), stride=tuple(l["stride"]), padding=tuple(l["padding"]), bias=l["bias"]))
        elif t == "batchnorm2d":
            out.append(nn.BatchNorm2d(l["features"], eps=l["eps"], momentum=l["momentum"], affine=l["affine"]))
        elif t == "relu":
            out.append(nn.ReLU())
        elif t == "maxpool2d":
            out.append(nn.MaxPool2d(l["kernel"], stride=l["stride"], padding=l["padding"]))
        elif t == "flatten":
            out.append(nn.Flatten())
        elif t == "dropout":
            out.append(nn.Dropout(l["p"]))
        else:
            raise ValueError(f"unknown layer type {t!r}")
    return nn.Sequential(*out)


def optimizer(spec, params):
    if spec["kind"] == "sgd":
        return torch.optim.SGD(params, lr=spec["lr"], momentum=spec["momentum"])
    if spec["kind"] == "adam":
        return torch.optim.Adam(params, lr=spec["lr"])
    raise ValueError(f"unknown optimizer {spec['kind']!r}")


def readback(t):
    """One value of `t` on the host: waits for every kernel before it on CUDA."""
    return float(t.reshape(-1)[-1].item())


def train(req, device):
    torch.manual_seed(1)
    model = build(req["layers"]).to(device).train()
    opt = optimizer(req["optimizer"], model.parameters())
    batch = req["batch"]
    batches = [
        (torch.rand(batch, *req["inputShape"], device=device), torch.randint(0, req["classes"], (batch,), device=device))
        for _ in range(4)
    ]
    last = list(model.parameters())[-1]

    def step(i):
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for i in range(req["warmup"]):
        step(i)
    readback(last)
    start = time.perf_counter()
    for i in range(req["steps"]):
        step(req["warmup"] + i)
    readback(last)
    seconds = time.perf_counter() - start
    return {"imgPerSec": req["steps"] * batch / seconds}


def matmul(req, device):
    n = req["n"]
    gen = torch.Generator().manual_seed(n)
    a = (torch.rand(n, n, generator=gen) * 2 - 1).to(device)
    b = (torch.rand(n, n, generator=gen) * 2 - 1).to(device)

    def run(burst):
        start = time.perf_counter()
        for _ in range(burst):
            c = a @ b
        c.cpu()  # the whole last product on the host, as the engine side reads it back
        return (time.perf_counter() - start) * 1000

    run(1)
    burst = max(1, min(1000, round(req["runMs"] / max(run(1), 1e-3))))
    for _ in range(req["warmup"]):
        run(burst)
    samples, total = [], 0.0
    while len(samples) < req["minRepeats"] or (len(samples) < req["maxRepeats"] and total < req["budgetMs"]):
        ms = run(burst)
        samples.append(ms)
        total += ms
    samples.sort()
    mid = len(samples) // 2
    median = samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2
    per_product = median / burst
    return {"medianMs": per_product, "gflops": 2 * n**3 / (per_product * 1e6), "burst": burst}


def loaded_blas():
    """The BLAS libraries this process has mapped (Debian's torch links the generic libblas.so.3, which the
    alternatives system points at OpenBLAS when libopenblas0-pthread is installed, else at the slow reference BLAS)."""
    torch.ones(2, 2) @ torch.ones(2, 2)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return "unknown"
    return ", ".join(sorted(paths)) or "none mapped"


def hello(device, threads):
    info = {"torch": torch.__version__, "device": device, "threads": threads, "blas": loaded_blas()}
    if device == "cuda":
        info["deviceName"] = torch.cuda.get_device_name(0)
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "torch.cuda.is_available() is False: no CUDA device for PyTorch here"}), flush=True)
        return
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        # fp32 means fp32 on both sides: no TF32 tensor cores for matmuls or convolutions.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    handlers = {"train": train, "matmul": matmul}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            answer = hello(args.device, args.threads) if req["kind"] == "hello" else handlers[req["kind"]](req, args.device)
        except Exception as err:  # reported to the TypeScript side, which prints it in the row
            answer = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
