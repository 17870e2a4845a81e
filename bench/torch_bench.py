#!/usr/bin/env python3
"""PyTorch timing for bench/run.sh.

usage: /usr/bin/python3 bench/torch_bench.py NAME state.pt input.npy
                                             [--threads T] [--bench N] [--out FILE.npy]

Builds torchvision NAME, loads state.pt (written by bench/export_models.py), eval mode,
torch.set_num_threads(T), and under torch.inference_mode runs one warm-up and N timed runs
(time.perf_counter). Writes the output to FILE.npy when asked. The last stdout line is
    median_ms=<x> min_ms=<y>
like cnncc's generated driver.
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("state")
    ap.add_argument("input")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bench", type=int, default=10)
    ap.add_argument("--out")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    model = getattr(torchvision.models, a.name)(weights=None)
    model.load_state_dict(torch.load(a.state))
    model.eval()
    x = torch.from_numpy(np.load(a.input))
    times = []
    with torch.inference_mode():
        y = model(x)  # warm-up
        for _ in range(a.bench):
            t0 = time.perf_counter()
            y = model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    if a.out:
        np.save(a.out, y.numpy().astype(np.float32))
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} runs={len(times)}")
    print(f"median_ms={statistics.median(times):.4f} min_ms={min(times):.4f}")


if __name__ == "__main__":
    main()
