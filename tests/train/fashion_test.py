#!/usr/bin/python3
"""examples/fashion-mnist, shortened for CI, and the trained model written back as ONNX.

1. examples/fashion-mnist/model.py exports the network (batch 64, seeded random weights);
   cnncc --train compiles it with the example's options (examples/fashion-mnist/train.flags).
2. examples/fashion-mnist/train.c is built (-Werror) and trains one epoch on the first
   TRAIN_LIMIT training images; the test accuracy on the first TEST_LIMIT test images must reach
   the floor (a broken gradient, optimizer or BN leaves it near 10%; a working step is ~80%).
3. cnncc fashion.onnx --params trained.bin --emit-onnx trained.onnx: the file must pass
   onnx.checker (full check); PyTorch's FashionNet loaded with its initializers (eval mode) and
   the program cnncc compiles from trained.onnx must agree on a test batch (max|d| <= 1e-4 *
   max|ref|), and the C program's test accuracy must equal what train.c printed for the same
   images. Where node and onnxruntime-node are installed (--ort-modules), ONNX Runtime is compared
   too (skipped with a message otherwise).

usage: fashion_test.py --cnncc BIN --cc CC --work DIR [--ort-modules DIR] [--epochs N]"""
import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "fashion-mnist")
DATA = "/usr/share/datasets/fashion-mnist"
TRAIN_LIMIT, TEST_LIMIT, FLOOR = 6400, 2000, 70.0


def run(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit("FAILED: exit status %d" % r.returncode)
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--work", required=True)
    ap.add_argument("--ort-modules", action="append", default=[])
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    if not os.path.isdir(DATA):
        print("SKIPPED: %s is missing (Debian package dataset-fashion-mnist)" % DATA)
        return 0
    shutil.rmtree(a.work, ignore_errors=True)
    data = os.path.join(a.work, "data")
    os.makedirs(data)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(os.path.join(DATA, name + ".gz")) as src, \
                open(os.path.join(data, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    onnx_path = os.path.join(a.work, "fashion.onnx")
    run(["/usr/bin/python3", os.path.join(EXAMPLE, "model.py"), onnx_path])
    flags = open(os.path.join(EXAMPLE, "train.flags")).read().split()
    out = os.path.join(a.work, "out")
    run([a.cnncc, onnx_path, "--train", "--name", "fnet", "-o", os.path.join(out, "fnet.c")] +
        flags)
    exe = os.path.join(a.work, "train")
    srcs = [os.path.join(out, f) for f in sorted(os.listdir(out)) if f.endswith(".c")]
    run([a.cc, "-std=c99", "-O2", "-march=native", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
         "-I", out, os.path.join(EXAMPLE, "train.c")] + srcs + ["-o", exe, "-lm"])
    trained = os.path.join(a.work, "trained.bin")
    log = run([exe, data, "--epochs", str(a.epochs), "--train-limit", str(TRAIN_LIMIT),
               "--test-limit", str(TEST_LIMIT), "--save", trained, "--quiet",
               "--min-accuracy", str(FLOOR)])
    c_accuracy = float(re.search(r"final test accuracy ([0-9.]+)%", log).group(1))

    # The trained parameters, back in ONNX.
    trained_onnx = os.path.join(a.work, "trained.onnx")
    run([a.cnncc, onnx_path, "--params", trained, "--emit-onnx", trained_onnx])
    import onnx
    from onnx import numpy_helper
    import torch
    sys.path.insert(0, EXAMPLE)
    from model import FashionNet
    m = onnx.load(trained_onnx)
    onnx.checker.check_model(m, full_check=True)
    net = FashionNet()
    init = {i.name: torch.tensor(numpy_helper.to_array(i)) for i in m.graph.initializer}
    missing = [k for k in net.state_dict() if k not in init and "num_batches" not in k]
    if missing:
        raise SystemExit("FAILED: trained.onnx lacks %s" % missing)
    net.load_state_dict({k: init.get(k, v) for k, v in net.state_dict().items()})
    net.eval()
    images = np.fromfile(os.path.join(data, "t10k-images-idx3-ubyte"), np.uint8, offset=16)
    labels = np.fromfile(os.path.join(data, "t10k-labels-idx1-ubyte"), np.uint8, offset=8)
    x_all = ((images.reshape(-1, 1, 28, 28)[:TEST_LIMIT].astype(np.float32) / 255.0 - 0.2860)
             / 0.3530).astype(np.float32)
    with torch.no_grad():
        torch_logits = net(torch.tensor(x_all)).numpy()
    torch_accuracy = 100.0 * np.mean(torch_logits.argmax(1) == labels[:TEST_LIMIT])
    print("test accuracy: C train step's eval %.2f%%, PyTorch with trained.onnx's weights %.2f%%"
          % (c_accuracy, torch_accuracy))
    if abs(torch_accuracy - c_accuracy) > 0.1:  # at most 2 of 2000 borderline images
        raise SystemExit("FAILED: accuracies differ")

    # cnncc compiles trained.onnx for inference; its logits match PyTorch's.
    inf = os.path.join(a.work, "infer")
    run([a.cnncc, trained_onnx, "-o", os.path.join(inf, "m.c"), "--main"])
    prog = os.path.join(a.work, "m")
    run([a.cc, "-std=c99", "-O2", "-I", inf] +
        [os.path.join(inf, f) for f in os.listdir(inf) if f.endswith(".c")] + ["-o", prog, "-lm"])
    x = x_all[:64]
    np.save(os.path.join(a.work, "x.npy"), x)
    run([prog, os.path.join(a.work, "x.npy"), "--out-dir", a.work])
    got = np.load(os.path.join(a.work, "logits.npy"))
    ref = torch_logits[:64]
    err = np.abs(got - ref).max() / np.abs(ref).max()
    print("cnncc(trained.onnx) vs PyTorch: max|d|/max|ref| = %.2e" % err)
    if not err <= 1e-4:
        raise SystemExit("FAILED: logits differ")

    # ONNX Runtime, where installed.
    node = shutil.which("node")
    modules = [d for d in a.ort_modules if os.path.isdir(os.path.join(d, "onnxruntime-node"))]
    if node and modules:
        env = dict(os.environ, NODE_PATH=modules[0])
        ort_out = os.path.join(a.work, "ort")
        os.makedirs(ort_out, exist_ok=True)
        run([node, os.path.join(ROOT, "tests", "emit_onnx", "ort_run.js"), trained_onnx, ort_out,
             os.path.join(a.work, "x.npy")], env=env)
        ort = np.load(os.path.join(ort_out, "0.npy"))
        err = np.abs(ort - ref).max() / np.abs(ref).max()
        print("ONNX Runtime(trained.onnx) vs PyTorch: max|d|/max|ref| = %.2e" % err)
        if not err <= 1e-4:
            raise SystemExit("FAILED: ONNX Runtime's logits differ")
    else:
        print("ONNX Runtime: skipped (node and onnxruntime-node not installed)")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
