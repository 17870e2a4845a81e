#!/usr/bin/env python3
"""Gradient tests of cnncc --grad for ONNX ops that torch.onnx.export never writes as one node
(it decomposes LPPool2d, LocalResponseNorm and pixel_unshuffle, and writes pixel_shuffle as
DepthToSpace CRD only): the model is one ONNX node built with
onnx.helper, the reference is PyTorch autograd of the op's ONNX definition written with torch
functions, in float64. Checks max|d| <= rtol * max|ref| for the output and the input gradient.

usage: onnx_op_grad_test.py CASE --cnncc BIN [--cc CC] [--cflags "..."] [--threads N] --work DIR"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper


def lp_pool(x, p, k, s, pads):
    # ONNX LpPool: (sum over the window of |x|^p)^(1/p), zero padding
    t = F.avg_pool2d(x.abs() ** p, k, s, padding=pads, count_include_pad=True) * (k[0] * k[1])
    return t ** (1.0 / p)


def lrn(x, size, alpha, beta, bias):
    # ONNX LRN: x / (bias + alpha / size * sum_{window over channels} x^2)^beta
    c = x.shape[1]
    lo, hi = (size - 1) // 2, size // 2  # floor and ceil of (size - 1) / 2
    sq = F.pad(x * x, (0, 0, 0, 0, lo, hi))
    s = sum(sq[:, i:i + c] for i in range(size))
    return x / (bias + alpha / size * s) ** beta


def pad_by_map(x, pads, mode):
    """ONNX Pad (cnnrt_pad, onnxruntime): negative pads crop first, then each axis is padded
    from the cropped data as numpy.pad does (wrap periodically, edge by repeating the end
    elements, reflect back and forth also for pads >= the length): per axis an index map taken
    from numpy.pad of 0..n-1 (wrap: o mod n), applied with index_select."""
    r = x.dim()
    for k in range(r):
        b, e = pads[k], pads[r + k]
        n = x.shape[k]
        x = x.narrow(k, max(-b, 0), n - max(-b, 0) - max(-e, 0))
        if mode == "wrap":  # (numpy 1.24's wrap repeats a partial period first when pad > n)
            idx = np.arange(-max(b, 0), x.shape[k] + max(e, 0)) % x.shape[k]
        else:
            idx = np.pad(np.arange(x.shape[k]), (max(b, 0), max(e, 0)), mode=mode)
        x = x.index_select(k, torch.tensor(idx))
    return x


WRAP_PADS = [0, 1, 6, -1, 0, 0, 3, 2]     # axis 2: pads longer than the axis; axis 3: a crop
CROP_PADS = [0, -1, 2, -2, 1, 0, -1, 3]   # crops then reflect/edge on the cropped data
LONG_PADS = [0, 3, 6, 1, 0, 2, 3, 5]      # reflect pads >= the length (2, 4, 3): back and forth

CASES = {
    # name: (op, attributes, input shape, reference)
    "lppool_p2": ("LpPool", dict(kernel_shape=[2, 3], strides=[2, 2], pads=[1, 0, 0, 1], p=2),
                  (2, 3, 6, 7), lambda x: lp_pool(F.pad(x, (0, 1, 1, 0)), 2, (2, 3), (2, 2), 0)),
    "lppool_p3": ("LpPool", dict(kernel_shape=[3, 3], strides=[1, 2], p=3),
                  (2, 2, 6, 7), lambda x: lp_pool(x, 3, (3, 3), (1, 2), 0)),
    "global_lppool": ("GlobalLpPool", dict(p=2), (2, 3, 4, 5),
                      lambda x: (x.abs() ** 2).sum(dim=(2, 3), keepdim=True) ** 0.5),
    # DepthToSpace DCR (torch exports pixel_shuffle as CRD) and SpaceToDepth, by their definitions
    "depth_to_space_dcr": ("DepthToSpace", dict(blocksize=2, mode="DCR"), (2, 8, 3, 4),
                           lambda x: x.reshape(2, 2, 2, 2, 3, 4).permute(0, 3, 4, 1, 5, 2).reshape(2, 2, 6, 8)),
    "space_to_depth": ("SpaceToDepth", dict(blocksize=2), (2, 3, 4, 6),
                       lambda x: x.reshape(2, 3, 2, 2, 3, 2).permute(0, 3, 5, 1, 2, 4).reshape(2, 12, 2, 3)),
    "lrn": ("LRN", dict(size=3, alpha=0.02, beta=0.75, bias=1.5), (2, 5, 3, 4),
            lambda x: lrn(x, 3, 0.02, 0.75, 1.5)),
    "lrn_even": ("LRN", dict(size=4, alpha=0.1, beta=0.6, bias=1.0), (2, 6, 3, 3),
                 lambda x: lrn(x, 4, 0.1, 0.6, 1.0)),
    # torch exports adaptive_max_pool2d(x, 1) as MaxPool and LayerNorm decomposed (opset < 17)
    "global_maxpool": ("GlobalMaxPool", {}, (2, 5, 4, 3),
                       lambda x: x.amax(dim=(2, 3), keepdim=True)),
    "layernorm": ("LayerNormalization", dict(axis=-2, epsilon=1e-5), (2, 3, 5, 6),
                  lambda x: F.layer_norm(x, (5, 6), torch.tensor(LN_SCALE, dtype=torch.float64),
                                         torch.tensor(LN_BIAS, dtype=torch.float64), 1e-5)),
    "pad_wrap": ("Pad", dict(mode="wrap"), (2, 3, 4, 5), lambda x: pad_by_map(x, WRAP_PADS, "wrap")),
    "pad_wrap_1d": ("Pad", dict(mode="wrap"), (3, 4), lambda x: pad_by_map(x, [2, 9, 0, -1], "wrap")),
    "pad_reflect_crop": ("Pad", dict(mode="reflect"), (2, 4, 5, 6), lambda x: pad_by_map(x, CROP_PADS, "reflect")),
    "pad_reflect_long": ("Pad", dict(mode="reflect"), (2, 2, 4, 3), lambda x: pad_by_map(x, LONG_PADS, "reflect")),
    "pad_edge_crop": ("Pad", dict(mode="edge"), (2, 4, 5, 6), lambda x: pad_by_map(x, CROP_PADS, "edge")),
    # ReduceProd over two axes with windows holding 0, 1 and 2 zeros (ZEROS below)
    "reduce_prod_axes": ("ReduceProd", dict(axes=[1, 3], keepdims=0), (2, 3, 4, 2),
                         lambda x: x.prod(dim=3).prod(dim=1)),
    # Resize whose roi and scales are float initializers (parameters as far as --grad goes): they
    # are sampling parameters and get a zero gradient, as PyTorch's scale_factor/size get none
    "resize_scales_param": ("Resize", dict(mode="linear"), (2, 3, 4, 5),
                            lambda x: F.interpolate(x, scale_factor=(2, 1.5), mode="bilinear",
                                                    align_corners=False)),
}
# Elements set to zero in x (ReduceProd: windows over axes 1 and 3 of 6 elements each)
ZEROS = {"reduce_prod_axes": [(0, 1, 0, 0), (0, 0, 1, 0), (0, 2, 1, 1), (1, 1, 2, 1), (1, 2, 3, 0),
                              (1, 0, 3, 1)]}
# LayerNormalization's scale and bias (initializers; the gradient checked is the one of x)
LN_SCALE = (1.0 + 0.1 * np.arange(30, dtype=np.float32).reshape(5, 6) % 0.7).astype(np.float32)
LN_BIAS = (0.05 * np.arange(30, dtype=np.float32).reshape(5, 6) - 0.5).astype(np.float32)
# extra (initializer) inputs and opset of the cases that need them
EXTRA = {"layernorm": ([("ln_scale", LN_SCALE), ("ln_bias", LN_BIAS)], 17),
         "pad_wrap": ([("pads", np.array(WRAP_PADS, np.int64))], 13),
         "pad_wrap_1d": ([("pads", np.array([2, 9, 0, -1], np.int64))], 13),
         "pad_reflect_crop": ([("pads", np.array(CROP_PADS, np.int64))], 13),
         "pad_reflect_long": ([("pads", np.array(LONG_PADS, np.int64))], 13),
         "pad_edge_crop": ([("pads", np.array(CROP_PADS, np.int64))], 13),
         "resize_scales_param": ([("roi", np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32)),
                                  ("scales", np.array([1, 1, 2, 1.5], np.float32))], 13)}
# float initializers whose gradient must be exactly zero
ZERO_GRADS = {"resize_scales_param": ["roi", "scales"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--work", required=True)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--cflags", default="")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    op, attrs, shape, ref_fn = CASES[args.case]
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(os.path.join(args.work, "res"))
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    for i in ZEROS.get(args.case, []):
        x[i] = 0.0
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = ref_fn(xt)
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    (dx,) = torch.autograd.grad(y, xt, torch.tensor(dy, dtype=torch.float64))

    inits, opset = EXTRA.get(args.case, ([], 13))
    node = helper.make_node(op, ["x"] + [n for n, _ in inits], ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
                              [onnx.numpy_helper.from_array(v, n) for n, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    w = args.work
    onnx.save(model, os.path.join(w, "m.onnx"))
    np.save(os.path.join(w, "x.npy"), x)
    np.save(os.path.join(w, "dy.npy"), dy)
    out = os.path.join(w, "out")
    steps = [[args.cnncc, os.path.join(w, "m.onnx"), "-o", os.path.join(out, "m.c"), "--main", "--grad"] +
             (["--max-threads", str(args.threads)] if args.threads > 1 else []),
             shlex.split(args.cc) + ["-O2", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"] + shlex.split(args.cflags) +
             [os.path.join(out, "m.c"), os.path.join(out, "m_main.c"), "-o", os.path.join(w, "prog"), "-lm",
              "-lpthread"],
             [os.path.join(w, "prog"), os.path.join(w, "x.npy"), "--vjp", os.path.join(w, "dy.npy"),
              "--out-dir", os.path.join(w, "res"), "--threads", str(args.threads)]]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            print("case %s: %s failed FAIL" % (args.case, os.path.basename(cmd[0])))
            return 1
    ok = True
    for label, f, want in (("output y", "y.npy", y.detach().numpy()), ("grad x", "grad_x.npy", dx.numpy())):
        got = np.load(os.path.join(w, "res", f)).astype(np.float64)
        ref = float(np.max(np.abs(want)))
        d = float(np.max(np.abs(got - want)))
        good = got.shape == want.shape and d <= args.rtol * ref
        ok &= good
        print("  %-10s max|d|=%.3g max|ref|=%.3g rel=%.3g %s" % (label, d, ref, d / ref, "ok" if good else "FAIL"))
    for name in ZERO_GRADS.get(args.case, []):
        path = os.path.join(w, "res", "grad_%s.npy" % name)
        good = os.path.exists(path) and not np.any(np.load(path))
        ok &= good
        print("  grad %-5s zero: %s" % (name, "ok" if good else "FAIL"))
    print("case %s: %s" % (args.case, "PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
