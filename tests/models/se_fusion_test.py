#!/usr/bin/env python3
"""Squeeze-excitation input-scale fusion (compiler/passes/fuse.c): a small model with SE blocks,
compiled with the fusion and with it blocked, both compared with PyTorch, and with each other
bit for bit.

usage: /usr/bin/python3 tests/models/se_fusion_test.py --cnncc PATH --work DIR
           [--cc "gcc"] [--cflags "..."] [--threads N]

The model (batch 2, 12x12 and 6x6 images, odd channel counts) has four SE blocks whose
Mul(x, s) feeds:
  A  a 1x1 conv, Mul(x, s)                       -> fused
  B  a 1x1 conv with a residual Add, Mul(s, x)   -> fused
  C  a 3x3 conv                                   -> not fused (not pointwise)
  D  a 1x1 conv and an Add                        -> not fused (the product has two readers)
"fused" is model.onnx as exported; "blocked" is the same graph with every SE Mul's output also
listed as a graph output, which the fusion leaves alone (the graph output must be written).
Checks: cnncc --dump=fuse shows exactly 2 "+in_scale" convs for "fused" and none for "blocked";
both programs' first output within 1e-4 of PyTorch (tests/models/run_model_test.py); and the
two outputs identical bit for bit (the fused kernel forms float(x * s) exactly as the Mul did).
"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def build_model(outdir):
    import onnx
    import torch
    import torch.nn as nn

    torch.manual_seed(5)

    class SE(nn.Module):
        def __init__(self, c, r):
            super().__init__()
            self.fc1 = nn.Conv2d(c, r, 1)
            self.fc2 = nn.Conv2d(r, c, 1)

        def forward(self, x):
            s = torch.mean(x, dim=(2, 3), keepdim=True)
            return torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(s))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 20, 3, padding=1)
            self.dw_a = nn.Conv2d(20, 20, 3, padding=1, groups=20)
            self.se_a = SE(20, 5)
            self.proj_a = nn.Conv2d(20, 13, 1)
            self.exp_b = nn.Conv2d(13, 27, 1)
            self.dw_b = nn.Conv2d(27, 27, 3, padding=1, groups=27)
            self.se_b = SE(27, 7)
            self.proj_b = nn.Conv2d(27, 13, 1)
            self.se_c = SE(13, 4)
            self.conv_c = nn.Conv2d(13, 17, 3, stride=2, padding=1)
            self.se_d = SE(17, 5)
            self.proj_d = nn.Conv2d(17, 9, 1)

        def forward(self, x):
            x = nn.functional.silu(self.stem(x))
            a = nn.functional.silu(self.dw_a(x))
            a = self.proj_a(a * self.se_a(a))              # A: Mul(x, s) -> 1x1
            b = nn.functional.silu(self.dw_b(self.exp_b(a)))
            b = self.proj_b(self.se_b(b) * b) + a           # B: Mul(s, x) -> 1x1 + residual
            c = self.conv_c(b * self.se_c(b))               # C: -> 3x3
            d = c * self.se_d(c)                            # D: -> 1x1 and an Add
            return self.proj_d(d) + d[:, :9]

    net = Net().eval()
    x = torch.rand(2, 3, 12, 12) * 2 - 1
    with torch.no_grad():
        y = net(x)
    fused = os.path.join(outdir, "fused")
    blocked = os.path.join(outdir, "blocked")
    for d in (fused, blocked):
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input.npy"), x.numpy())
        np.save(os.path.join(d, "expected.npy"), y.numpy())
    path = os.path.join(fused, "model.onnx")
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y"], opset_version=13)

    # The blocked variant: every SE Mul (x times the sigmoid of something other than x) also
    # writes its product as a graph output.
    m = onnx.load(path)
    sig = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "Sigmoid"}
    muls = [n.output[0] for n in m.graph.node if n.op_type == "Mul" and  # not SiLU's x * sigmoid(x)
            any(i in sig and sig[i] not in n.input for i in n.input)]
    if len(muls) != 4:
        raise SystemExit("expected 4 SE Muls in the export, found %d" % len(muls))
    for name in muls:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    onnx.save(m, os.path.join(blocked, "model.onnx"))
    return fused, blocked


def count_in_scale(cnncc, model):
    out = os.path.join(os.path.dirname(model), "dump", "m.c")
    p = subprocess.run([cnncc, model, "-o", out, "--dump=fuse"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    text = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        print(text)
        raise SystemExit("FAIL: cnncc --dump=fuse exited with status %d" % p.returncode)
    return sum(1 for line in text.splitlines() if " +in_scale " in line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    fused, blocked = build_model(work)

    n_fused = count_in_scale(args.cnncc, os.path.join(fused, "model.onnx"))
    n_blocked = count_in_scale(args.cnncc, os.path.join(blocked, "model.onnx"))
    print("convs with a fused input scale: %d (want 2), blocked variant: %d (want 0)" %
          (n_fused, n_blocked))
    ok = n_fused == 2 and n_blocked == 0

    outs = []
    for d in (fused, blocked):
        cmd = [sys.executable, os.path.join(HERE, "run_model_test.py"), d, "--cnncc", args.cnncc,
               "--cc", args.cc, "--cflags=" + args.cflags, "--threads", str(args.threads),
               "--work", os.path.join(d, "run"), "--timeout", "280"]
        sys.stdout.flush()
        ok = subprocess.run(cmd).returncode == 0 and ok
        outs.append(os.path.join(d, "run", "res", "y.npy"))
    if all(os.path.exists(f) for f in outs):
        a, b = (np.load(f) for f in outs)
        same = a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))
        d = float(np.max(np.abs(a.astype(np.float64) - b))) if a.shape == b.shape else float("nan")
        print("fused vs blocked: %s (max|d| = %.3g)" % ("bit-identical" if same else "DIFFER", d))
        ok = ok and same
    else:
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
