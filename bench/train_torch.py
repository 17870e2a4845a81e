#!/usr/bin/python3
"""PyTorch side of bench/train.sh: trains examples/fashion-mnist's FashionNet on Fashion-MNIST
batches of 64, single-threaded (torch.set_num_threads(1)), with the same optimizer as the
example (train.flags: Adam, lr 0.002, cosine), and prints images/s of the train steps.

usage: train_torch.py DATA_DIR STEPS"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                                "fashion-mnist"))
from model import FashionNet  # noqa: E402

torch.set_num_threads(1)
data, steps = sys.argv[1], int(sys.argv[2])
images = np.fromfile(os.path.join(data, "train-images-idx3-ubyte"), np.uint8, offset=16)
labels = np.fromfile(os.path.join(data, "train-labels-idx1-ubyte"), np.uint8, offset=8)
x_all = torch.tensor(((images.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0 - 0.2860)
                      / 0.3530).astype(np.float32))
y_all = torch.tensor(labels.astype(np.int64))
torch.manual_seed(0)
net = FashionNet().train()
opt = torch.optim.Adam(net.parameters(), lr=0.002)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
order = torch.randperm(len(y_all))
seconds = 0.0
for s in range(steps):
    idx = order[(s * 64) % (len(order) - 64):][:64]
    x, y = x_all[idx], y_all[idx]
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    sched.step()
    seconds += time.perf_counter() - t0
print("pytorch: %d steps of 64, %.0f images/s (loss %.3f)" % (steps, steps * 64 / seconds,
                                                              loss.item()))
