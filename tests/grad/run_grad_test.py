#!/usr/bin/env python3
"""Gradient test of cnncc --grad against PyTorch autograd, for one case of grad_cases.py.

usage: /usr/bin/python3 tests/grad/run_grad_test.py CASE --cnncc PATH [--cc gcc]
           [--cflags "..."] [--threads N] [--work DIR] [--rtol 1e-4]

  1. builds the case's module (seeded weights; BatchNorm statistics and affine parameters
     randomised), exports it with torch.onnx.export (opset 13, no constant folding, so that every
     parameter stays an initializer under its own name; BatchNorm kept, in training mode for
     "train" cases)
  2. reference: PyTorch autograd of sum_i <dy_i, out_i> for seeded random dy_i, w.r.t. every
     input and parameter; for eval-mode BatchNorm also w.r.t. the running statistics (computed
     through the explicit formula (x - mean) / sqrt(var + eps) * w + b, whose value is PyTorch's);
     whole models with training-mode BatchNorm are compared with PyTorch in float64, within
     max(rtol, 2 x the worst error of PyTorch's own float32 gradients on the model)
  3. cnncc model.onnx -o WORK/out/m.c --main --grad; cc -O2 -std=c99 -Wall -Wextra -Wpedantic
     -Werror; WORK/prog in*.npy --vjp dy*.npy --out-dir WORK/res
  4. every output and every reference gradient must match: max|d| <= rtol * max|ref|
Prints one line per tensor and "case CASE: worst rel=... PASS|FAIL". Exit 0 pass, 1 fail."""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grad_cases import CASES  # noqa: E402


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def build(case):
    factory, shapes, mode = CASES[case]
    torch.manual_seed(1234)
    g = torch.Generator().manual_seed(99)
    if isinstance(factory, str):
        import torchvision
        model = getattr(torchvision.models, factory.split(".")[1])(num_classes=10)
        # Running statistics that match the activations (averaged over a few random batches),
        # so that eval-mode activations neither explode nor saturate (ReLU6) and gradients
        # reach the first layers; then affine parameters away from 1 and 0.
        model.train()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = None
        with torch.no_grad():
            for _ in range(3):
                model(torch.randn(4, *shapes[0][1:], generator=g))
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    n = m.num_features
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                    m.bias.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)
                    m.momentum = 0.1
    else:
        model = factory()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(factory, str):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)
    if mode == "train":
        for name, m in list(model.named_modules()):
            for cname, c in list(m.named_children()):
                if isinstance(c, nn.Dropout):
                    setattr(m, cname, nn.Identity())
        model.train()
    else:
        model.eval()
    inputs = [torch.randn(*s, generator=g) for s in shapes]
    return model, inputs, mode


def explicit_bn(m, stats):
    """forward of an eval-mode BatchNorm through its formula, with the statistics as leaves."""
    rm = m.running_mean.detach().clone().requires_grad_(True)
    rv = m.running_var.detach().clone().requires_grad_(True)
    stats.append((m, rm, rv))

    def fwd(x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - rm.reshape(shape)) / torch.sqrt(rv.reshape(shape) + m.eps) * \
            m.weight.reshape(shape) + m.bias.reshape(shape)
    return fwd


def reference(model, inputs, mode, seed=7):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    stats = []
    saved = {}
    if mode == "eval":
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                saved[m] = m.forward
                m.forward = explicit_bn(m, stats)
    model.zero_grad()
    out = model(*xs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    g = torch.Generator().manual_seed(seed)
    dys = [torch.randn(o.shape, generator=g).to(o.dtype) for o in outs]
    torch.autograd.backward(outs, dys)
    for m, f in saved.items():
        m.forward = f
    grads = {}
    for i, x in enumerate(xs):
        grads["in%d" % i] = x.grad.numpy().copy()
    for name, p in model.named_parameters():
        grads[name] = (p.grad if p.grad is not None else torch.zeros_like(p)).numpy().copy()
    names = {m: n for n, m in model.named_modules()}
    for m, rm, rv in stats:
        grads[names[m] + ".running_mean"] = rm.grad.numpy().copy()
        grads[names[m] + ".running_var"] = rv.grad.numpy().copy()
    return [o.detach().numpy().copy() for o in outs], [d.numpy() for d in dys], grads


def compare(a, e, rtol, floor=0.0):
    ref = max(float(np.max(np.abs(e))) if e.size else 0.0, floor)
    if a.shape != e.shape:
        return False, float("inf"), ref, "shape %s != %s" % (a.shape, e.shape)
    if not np.all(np.isfinite(a)):
        return False, float("inf"), ref, "non-finite values"
    d = float(np.max(np.abs(a.astype(np.float64) - e))) if a.size else 0.0
    ok = d <= rtol * ref if ref > 0 else d <= 1e-7
    return ok, d, ref, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--checkpoint", nargs="?", const="", default=None,
                    help="compile with --checkpoint[=SPEC] as well as without: gradients within "
                         "1e-6 of each other, a smaller arena, and against PyTorch")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.work or tempfile.mkdtemp(prefix="grad_")
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)

    model, inputs, mode = build(args.case)
    onnx_path = os.path.join(work, "model.onnx")
    in_names = ["in%d" % i for i in range(len(inputs))]
    with torch.no_grad():
        probe = model(*[x.clone() for x in inputs])
    n_out = len(probe) if isinstance(probe, (tuple, list)) else 1
    out_names = ["out%d" % i for i in range(n_out)]
    training = torch.onnx.TrainingMode.TRAINING if mode == "train" else torch.onnx.TrainingMode.PRESERVE
    # Export first: in training mode the export's forward pass updates the running statistics,
    # which the reference (batch statistics) does not read.
    torch.onnx.export(model, tuple(x.clone() for x in inputs), onnx_path, input_names=in_names,
                      output_names=out_names, opset_version=13, training=training,
                      do_constant_folding=False)
    ref64 = None
    if mode == "train" and isinstance(CASES[args.case][0], str):
        # Whole models with training-mode BatchNorm are ill-conditioned in float32 (BN over few
        # values per channel, ReLU6 masks): PyTorch's own float32 gradients differ from its
        # float64 ones by up to a few percent. There cnncc is compared with the float64
        # reference, and must be within max(rtol, 2 x PyTorch-float32's worst error on the model).
        import copy
        outs64, _, grads64 = reference(copy.deepcopy(model).double(),
                                       [x.double() for x in inputs], mode)
        ref64 = (outs64, grads64)
    outs, dys, grads = reference(model, inputs, mode)
    bound = {}
    if ref64 is not None:
        largest64 = max(float(np.max(np.abs(e))) for e in ref64[1].values() if e.size)
        for k, e64 in ref64[1].items():
            own = float(np.max(np.abs(e64))) if e64.size else 0.0
            scale = largest64 if own < 1e-5 * largest64 else own
            bound[k] = float(np.max(np.abs(grads[k] - e64))) / scale if scale > 0 else 0.0
        # (the float32 error is noise-like across tensors: the bound is its worst on the model)
        worst32 = max(bound.values()) if bound else 0.0
        bound = {k: worst32 for k in bound}
        print("PyTorch float32 vs float64 on this model: worst gradient error %.3g" % worst32)
        outs = [o.astype(np.float32) for o in ref64[0]]
        grads = {k: v.astype(np.float64) for k, v in ref64[1].items()}
    for i, x in enumerate(inputs):
        np.save(os.path.join(work, "in%d.npy" % i), x.numpy())
    for i, d in enumerate(dys):
        np.save(os.path.join(work, "dy%d.npy" % i), d)

    def compile_and_run(tag, extra):
        """cnncc (with extra flags), build, run; returns (result folder, NAME_ARENA_BYTES) or
        (None, reason)."""
        out_dir = os.path.join(work, "out" + tag)
        weights = os.path.join(out_dir, "m.bin")  # (a blob: no megabytes of C for gcc to parse)
        cmd = [args.cnncc, onnx_path, "-o", os.path.join(out_dir, "m.c"), "--main", "--grad",
               "--weights", weights] + extra
        if args.threads > 1:
            cmd += ["--max-threads", str(args.threads)]
        if args.cnncc.endswith(".py"):
            cmd = [sys.executable] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return None, "cnncc failed"
        srcs = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".c"))
        prog = os.path.join(work, "prog" + tag)
        cc = shlex.split(args.cc) + ["-O2", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"] + \
            shlex.split(args.cflags) + srcs + ["-o", prog, "-lm", "-lpthread"]
        r = subprocess.run(cc, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return None, "C build failed"
        res = os.path.join(work, "res" + tag)
        os.makedirs(res, exist_ok=True)
        run = [prog] + [os.path.join(work, n + ".npy") for n in in_names] + ["--vjp"] + \
            [os.path.join(work, "dy%d.npy" % i) for i in range(n_out)] + \
            ["--out-dir", res, "--threads", str(args.threads), "--weights", weights]
        r = subprocess.run(run, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return None, "run failed"
        with open(os.path.join(out_dir, "m.h")) as f:
            arena = int(re.search(r"#define M_ARENA_BYTES (\d+)", f.read()).group(1))
        return res, arena

    if args.checkpoint is not None:
        # --checkpoint: the same gradients as without it (recomputation reads the same inputs),
        # checked below against PyTorch too, with a smaller arena.
        base, base_arena = compile_and_run("_base", [])
        if base is None:
            print("case %s (without --checkpoint): %s FAIL" % (args.case, base_arena))
            return 1
        flag = "--checkpoint" + ("=" + args.checkpoint if args.checkpoint else "")
        res_dir, arena = compile_and_run("", [flag])
    else:
        res_dir, arena = compile_and_run("", [])
    if res_dir is None:
        print("case %s: %s FAIL" % (args.case, arena))
        return 1
    ckpt_ok = True
    if args.checkpoint is not None:
        worst_ck, identical = 0.0, True
        for f in sorted(os.listdir(base)):
            a, b = np.load(os.path.join(res_dir, f)), np.load(os.path.join(base, f))
            identical &= a.tobytes() == b.tobytes()
            scale = float(np.max(np.abs(b))) if b.size else 0.0
            d = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
            worst_ck = max(worst_ck, d / scale if scale > 0 else d)
        ckpt_ok = worst_ck <= 1e-6 and arena < base_arena
        print("  %s vs without: %d tensors %s, worst rel=%.3g; arena %d -> %d bytes (%.2fx) %s" %
              (flag, len(os.listdir(base)), "bit-identical" if identical else "differ",
               worst_ck, base_arena, arena, base_arena / max(arena, 1),
               "ok" if ckpt_ok else "FAIL"))

    ok_all, worst = ckpt_ok, 0.0
    checks = [("output " + n, os.path.join(res_dir, sanitize(n) + ".npy"), e)
              for n, e in zip(out_names, outs)]
    checks += [("grad " + n, os.path.join(res_dir, "grad_" + sanitize(n) + ".npy"), e)
               for n, e in sorted(grads.items())]
    # A gradient that is zero in exact arithmetic (e.g. the bias of a convolution followed by
    # training-mode BatchNorm) holds only rounding noise in both results: its scale is then
    # taken as the largest gradient of the case when its own is below 1e-5 of that.
    largest = max([float(np.max(np.abs(e))) for e in grads.values() if e.size] + [0.0])
    for label, path, expected in checks:
        if not os.path.exists(path):
            print("  %-40s missing (%s)" % (label, os.path.basename(path)))
            ok_all = False
            continue
        own = float(np.max(np.abs(expected))) if expected.size else 0.0
        zero_in_exact = label.startswith("grad") and own < 1e-5 * largest
        name = label.split(" ", 1)[1]
        rtol = max(args.rtol, 2.0 * bound.get(name, 0.0)) if label.startswith("grad") else \
            (args.rtol if ref64 is None else max(args.rtol, 1e-3))
        ok, d, ref, why = compare(np.load(path), expected, rtol,
                                  largest if zero_in_exact else 0.0)
        if name in bound and bound[name] * 2.0 > args.rtol:
            why += " (float64 reference; PyTorch float32 itself is off by %.3g)" % bound[name]
        why += " (zero in exact arithmetic: scale of the case's largest gradient)" \
            if zero_in_exact else ""
        rel = d / ref if ref > 0 else d
        worst = max(worst, rel)
        print("  %-40s max|d|=%.3g max|ref|=%.3g rel=%.3g %s %s" %
              (label, d, ref, rel, "ok" if ok else "FAIL", why))
        ok_all &= ok
    print("case %s: %d tensors, worst rel=%.3g %s" % (args.case, len(checks), worst,
                                                      "PASS" if ok_all else "FAIL"))
    if ok_all and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
