#!/usr/bin/env python3
"""Residual adds done in place (compiler/passes/schedule.c, schedule_residual_in_place): a small
model whose packed-GEMM convolutions add residuals, some of which may be overwritten by the
convolution's output and some of which may not, compiled and compared with PyTorch.

usage: /usr/bin/python3 tests/models/residual_in_place_test.py --cnncc PATH --work DIR
           [--cc "gcc"] [--cflags "..."] [--threads N]

The model (batch 2, 57x57 and 29x29 planes: pixel counts that are not multiples of 16, odd
channel counts) has these residual convolutions, in order:
  A  1x1 17->24 + relu, residual a (nobody reads a after)          -> in place
  B  1x1 24->24 + clip, residual b, b read again by D              -> NOT in place
  C  3x3 13->24 + sigmoid (K = 117), residual c (its last reader)  -> in place
  D  1x1 24->24 + silu, residual b (its last reader)               -> in place
  E  1x1 24->24 + leaky relu on d, residual d (the conv's input)   -> NOT in place
  F  3x3 s2 48->24 (K = 432: two k blocks), residual f1            -> in place
  G  1x1 19->24 + relu, residual g, g also a graph output          -> NOT in place
  H  1x1 24->24 + relu at 15x15, residual h1 (its last reader)   -> NOT in place (plane < 28x28)
(every activation the GEMM fuses, and none).
Checks: cnncc --dump=schedule marks exactly the expected convolutions "residual in place", and
the program's outputs are within 1e-4 of PyTorch (tests/models/run_model_test.py), on one and on
two threads (tasks split pixels: each reads its residual elements before writing them).
A test that could not fail would be worthless: with the in-place residual on the wrong
convolution (B, E or G) the outputs differ from PyTorch (a residual read after it was
overwritten).
"""
import os
import sys

import numpy as np

from script_test import dump_lines, parse_args, run_against_pytorch

EXPECTED_IN_PLACE = 4


def build_model(outdir):
    import torch
    import torch.nn as nn

    torch.manual_seed(7)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(5, 24, 3, padding=1)
            self.pa = nn.Conv2d(24, 17, 1)
            self.ca = nn.Conv2d(17, 24, 1)
            self.pb = nn.Conv2d(24, 24, 1)
            self.cb = nn.Conv2d(24, 24, 1)
            self.pc = nn.Conv2d(24, 13, 1)
            self.cc = nn.Conv2d(13, 24, 3, padding=1)
            self.cd = nn.Conv2d(24, 24, 1)
            self.ce = nn.Conv2d(24, 24, 1)
            self.wide = nn.Conv2d(24, 48, 1)
            self.cf = nn.Conv2d(48, 24, 3, stride=2, padding=1)
            self.f1 = nn.Conv2d(24, 24, 3, stride=2, padding=1)
            self.pg = nn.Conv2d(24, 24, 1)
            self.pg2 = nn.Conv2d(24, 19, 1)
            self.cg = nn.Conv2d(19, 24, 1)
            self.h1 = nn.Conv2d(24, 24, 3, stride=2, padding=1)
            self.ph = nn.Conv2d(24, 24, 1)
            self.ch = nn.Conv2d(24, 24, 1)

        def forward(self, x):
            a = torch.relu(self.stem(x))
            b = torch.relu(self.ca(torch.relu(self.pa(a))) + a)          # A
            c = torch.clamp(self.cb(self.pb(b)) + b, 0.0, 6.0)          # B (b read by D)
            c2 = torch.sigmoid(self.cc(self.pc(c)) + c)                  # C
            d = nn.functional.silu(self.cd(c2) + b)                      # D
            e = nn.functional.leaky_relu(self.ce(d) + d, 0.1)            # E (residual = input)
            f = self.cf(self.wide(e)) + self.f1(e)                       # F (no activation)
            g = self.pg(f)
            h = torch.relu(self.cg(self.pg2(g)) + g)                     # G (g is an output)
            h1 = self.h1(h)
            return torch.relu(self.ch(self.ph(h1)) + h1), g              # H (15x15 plane)

    net = Net().eval()
    x = torch.rand(2, 5, 57, 57) * 2 - 1
    with torch.no_grad():
        h, g = net(x)
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "input.npy"), x.numpy())
    np.save(os.path.join(outdir, "expected.npy"), h.numpy())
    path = os.path.join(outdir, "model.onnx")
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y", "g"], opset_version=13)
    return outdir, g.numpy()


def count_in_place(cnncc, model, threads):
    text = dump_lines(cnncc, model, "schedule", ["--max-threads", str(threads)])
    lines = [line for line in text if " = conv(" in line]
    res = [line for line in lines if " +residual " in line]
    in_place = [line for line in res if "residual in place" in line]
    for line in res:
        print(("in place:     " if line in in_place else "not in place: ") + line.split("#")[-1])
    return len(in_place), len(res)


def main():
    args = parse_args(__doc__)
    d, g_expected = build_model(args.work)
    model = os.path.join(d, "model.onnx")
    n_in_place, n_res = count_in_place(args.cnncc, model, args.threads)
    print("residual convolutions: %d, in place: %d (want 8 and %d)"
          % (n_res, n_in_place, EXPECTED_IN_PLACE))
    ok = n_res == 8 and n_in_place == EXPECTED_IN_PLACE
    ok = run_against_pytorch(d, args) and ok
    g_path = os.path.join(d, "run", "res", "g.npy")
    if os.path.exists(g_path):
        g = np.load(g_path)
        err = float(np.max(np.abs(g.astype(np.float64) - g_expected)))
        print("second output (the residual of G): max|d| = %.3g (want <= 1e-4)" % err)
        ok = ok and g.shape == g_expected.shape and err <= 1e-4
    else:
        print("no %s" % g_path)
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
