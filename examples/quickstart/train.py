#!/usr/bin/env python3
"""Train the cnncc quickstart demo model: a small CNN on Fashion-MNIST.

Reads the gzipped idx files shipped by the Debian package `dataset-fashion-mnist`
(default /usr/share/datasets/fashion-mnist; override with --data DIR), trains
for a few epochs on CPU (single thread, seeded, reproducible) and writes, next to
this script (or to --out DIR):

  fashion_cnn.onnx        opset 13, input "image" float32 [1,1,28,28],
                          output "logits" float32 [1,10]
  samples/NN_<label>.npy  8 test images, float32 [1,1,28,28]: for 8 of the 10
                          classes (not coat/shirt), the first test image of that
                          class that the model classifies correctly
  samples/labels.txt      "<file name> <class index> <class name>" per line
  expected_logits.npy     PyTorch's logits for those 8 samples, float32 [8,10]

Input normalisation: pixel / 255.0 (values in [0,1]), nothing else.
Classes (index order): tshirt(T-shirt/top) trouser pullover dress coat sandal shirt
sneaker bag ankle_boot.  The defaults (4 epochs, Adam lr 1e-3 halved every epoch,
batch 64, seed 0) reach 90.8% test accuracy in ~2 CPU-minutes.

Usage:  /usr/bin/python3 train.py [--data DIR] [--out DIR] [--epochs 4]
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["tshirt", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def read_idx(path):
    """Minimal reader for (gzipped) idx files: returns a uint8 numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte idx file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_split(data_dir, prefix):
    def find(name):
        for cand in (name + ".gz", name):
            p = os.path.join(data_dir, cand)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(os.path.join(data_dir, name) +
                                "[.gz] (apt-get install dataset-fashion-mnist)")
    x = read_idx(find("%s-images-idx3-ubyte" % prefix))
    y = read_idx(find("%s-labels-idx1-ubyte" % prefix))
    x = x.astype(np.float32)[:, None, :, :] / 255.0   # [N,1,28,28] in [0,1]
    return x, y.astype(np.int64)


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)


def evaluate(model, x, y, bs=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            out = model(torch.from_numpy(x[i:i + bs]))
            correct += int((out.argmax(1).numpy() == y[i:i + bs]).sum())
    return correct / len(x)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=here)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    xtr, ytr = load_split(args.data, "train")
    xte, yte = load_split(args.data, "t10k")
    print("train %s  test %s" % (xtr.shape, xte.shape))

    model = FashionCNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    t0 = time.time()
    for epoch in range(args.epochs):
        for grp in opt.param_groups:          # halve the learning rate every epoch
            grp["lr"] = args.lr * 0.5 ** epoch
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(xtr_t[idx]), ytr_t[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        acc = evaluate(model, xte, yte)
        print("epoch %d  loss %.4f  test acc %.4f  (%.0fs)" %
              (epoch + 1, total / len(xtr), acc, time.time() - t0))
    model.eval()
    acc = evaluate(model, xte, yte)
    print("final test accuracy: %.4f (%d/%d)" % (acc, round(acc * len(xte)), len(xte)))

    # --- export -----------------------------------------------------------
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path,
                      opset_version=13, do_constant_folding=True,
                      input_names=["image"], output_names=["logits"])
    print("wrote %s (%d bytes)" % (onnx_path, os.path.getsize(onnx_path)))

    # --- samples: first correctly classified test image of 8 distinct classes
    sdir = os.path.join(args.out, "samples")
    os.makedirs(sdir, exist_ok=True)
    for f in os.listdir(sdir):
        if f.endswith(".npy") or f == "labels.txt":
            os.remove(os.path.join(sdir, f))
    wanted = [0, 1, 2, 3, 5, 7, 8, 9]  # skip coat/shirt: 8 distinct, mostly easy classes
    picks = []
    with torch.no_grad():
        pred = model(torch.from_numpy(xte[:2000])).argmax(1).numpy()
    for cls in wanted:
        cand = [i for i in range(2000) if yte[i] == cls and pred[i] == cls]
        picks.append(cand[0])
    lines, logits = [], []
    with torch.no_grad():
        for n, i in enumerate(picks):
            img = np.ascontiguousarray(xte[i:i + 1])  # float32 [1,1,28,28]
            name = "%02d_%s.npy" % (n, CLASSES[yte[i]])
            np.save(os.path.join(sdir, name), img)
            lines.append("%s %d %s" % (name, yte[i], CLASSES[yte[i]]))
            logits.append(model(torch.from_numpy(img)).numpy()[0])
    with open(os.path.join(sdir, "labels.txt"), "w") as f:   # "<file> <index> <name>"
        f.write("\n".join(lines) + "\n")
    np.save(os.path.join(args.out, "expected_logits.npy"),
            np.stack(logits).astype(np.float32))
    print("wrote %d samples to %s" % (len(picks), sdir))


if __name__ == "__main__":
    main()
