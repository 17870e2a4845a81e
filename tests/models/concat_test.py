#!/usr/bin/env python3
"""Concat elimination (compiler/passes/concat.c): a small batch-1 model whose Concats are written
in place by their producers where allowed and copied where not, compared with PyTorch.

usage: /usr/bin/python3 tests/models/concat_test.py --cnncc PATH --work DIR
           [--cc "gcc"] [--cflags "..."] [--threads N]

Concats of the model (channel axis unless said; 28x28 images, odd channel counts so that the
slices start at offsets that are not multiples of 64 bytes):
  in place:  c1 = cat(a, b)            two conv outputs; `a` is read again after c1
             c2 = cat(c1, c)           a Concat inside a Concat (offsets add up)
             c8 = cat(r, a2)           r is a conv with a fused residual Add
  copied:    c3 = cat(d, d)            the same value twice
             c4 = cat(x, s)            x is the graph input
             c5 = cat(f1, f2, dim=2)   slices are not contiguous (channels before the axis)
             c6 = cat(g, s2)           g is also a graph output
             c7 = cat(h.reshape, s3)   a view (Reshape) as input
             c9 = cat(t, u)            t is then the residual of a 28x28 GEMM conv (reading c9)
                                       that is t's last reader and so writes its output over
                                       t's bytes (schedule.c's residual in place)
  and the final output, cat of every Concat flattened (views of c1..c8: flattening c1 reads a
  slice of c2).
Checks: cnncc --dump=memplan shows exactly 3 of the 10 Concats "in place" and one convolution
with its "residual in place"; the program's output within
1e-4 of PyTorch (tests/models/run_model_test.py). The second graph output (g) is not compared.
"""
import os
import sys

import numpy as np

from script_test import dump_lines, parse_args, run_against_pytorch

WANT_IN_PLACE = 3


def build_model(outdir):
    import onnx
    import torch
    import torch.nn as nn

    torch.manual_seed(11)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            conv = lambda i, o: nn.Conv2d(i, o, 3, padding=1)
            self.stem = conv(3, 8)
            self.a, self.b, self.c, self.e = conv(8, 5), conv(8, 7), conv(8, 3), conv(5, 4)
            self.d, self.f1, self.f2 = conv(8, 6), conv(8, 5), conv(8, 5)
            self.g, self.s2, self.h, self.s3 = conv(8, 3), conv(8, 4), conv(8, 6), conv(8, 2)
            self.r, self.a2 = conv(8, 8), conv(8, 9)
            self.t, self.u, self.k, self.z = conv(8, 5), conv(8, 3), conv(8, 8), conv(8, 5)

        def forward(self, x):
            s = torch.relu(self.stem(x))
            a = self.a(s)
            c1 = torch.cat([a, torch.relu(self.b(s))], 1)
            e = self.e(a)                                   # `a` read after c1
            c2 = torch.cat([c1, self.c(s)], 1)
            d = torch.relu(self.d(s))
            c3 = torch.cat([d, d], 1)
            c4 = torch.cat([x, s], 1)
            c5 = torch.cat([self.f1(s), self.f2(s)], 2)
            g = self.g(s)
            c6 = torch.cat([g, self.s2(s)], 1)
            c7 = torch.cat([self.h(s).reshape(1, 6, 28, 28), self.s3(s)], 1)
            c8 = torch.cat([self.r(s) + s, self.a2(s)], 1)
            t = torch.relu(self.t(s))
            c9 = torch.cat([t, self.u(s)], 1)
            z = self.z(torch.relu(self.k(c9))) + t          # t's last reader, after c9
            parts = [c1, e, c2, c3, c4, c5, c6, c7, c8, c9, z]
            return torch.cat([t.flatten(1) for t in parts], 1), g

    net = Net().eval()
    x = torch.rand(1, 3, 28, 28) * 2 - 1
    with torch.no_grad():
        y, _ = net(x)
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "input.npy"), x.numpy())
    np.save(os.path.join(outdir, "expected.npy"), y.numpy())
    path = os.path.join(outdir, "model.onnx")
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y", "g"], opset_version=13)
    onnx.checker.check_model(onnx.load(path))
    return outdir


def count_in_place(cnncc, model):
    """(Concats, Concats in place, residuals in place) in cnncc's --dump=memplan."""
    text = dump_lines(cnncc, model, "memplan")
    lines = [line for line in text if " = concat(" in line]
    residual = sum(1 for line in text if "residual in place" in line)
    return len(lines), sum(1 for line in lines if "in place (its inputs" in line), residual


def main():
    args = parse_args(__doc__)
    model_dir = build_model(os.path.join(args.work, "model"))

    n_concat, n_in_place, n_residual = count_in_place(args.cnncc,
                                                      os.path.join(model_dir, "model.onnx"))
    print("Concats in place: %d of %d (want %d of 10); residuals in place: %d (want 1)"
          % (n_in_place, n_concat, WANT_IN_PLACE, n_residual))
    ok = n_concat == 10 and n_in_place == WANT_IN_PLACE and n_residual == 1
    ok = run_against_pytorch(model_dir, args) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
