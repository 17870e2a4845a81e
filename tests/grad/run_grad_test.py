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
     whole models are compared with PyTorch in float64 taken at cnncc's own activation
     pattern (see "Same branch" below)
  3. cnncc model.onnx -o WORK/out/m.c --main --grad; cc -O2 -std=c99 -Wall -Wextra -Wpedantic
     -Werror; WORK/prog in*.npy --vjp dy*.npy --out-dir WORK/res
  4. every output and every reference gradient must match: max|d| <= rtol * max|ref|
Prints one line per tensor and "case CASE: worst rel=... PASS|FAIL". Exit 0 pass, 1 fail.

Same branch: a ReLU/ReLU6 gradient is discontinuous where its input crosses 0 or 6. In a deep
network some inputs lie within float32 rounding of a threshold, and two correct float32
computations that sum in different orders (PyTorch and cnncc, cnncc's AVX2 and portable builds,
or two versions of one kernel) put them on different sides. One flipped element moves a whole
channel's gradients: with training-mode BatchNorm (mobilenet_v2_train_bn, 35 ReLU6 layers)
PyTorch's own float32 and float64 gradients differ by 2.7e-2; in eval mode, one element of a 2x2
feature map of mobilenet_v2 flipped when the BatchNorm kernel changed its rounding, and the
layers below it moved by up to 27%. Each float32 result is still an exact gradient of its own
branch. So for whole models the test also makes cnncc write every ReLU/Clip input (extra graph
outputs, upstream gradient 0), and the reference is PyTorch autograd in float64 with each
ReLU/ReLU6 backward taking its mask from cnncc's values (PyTorch's convention: 0 < x < upper):
the same piece of the piecewise-smooth function, where float32 can and must be within rtol.
Masked this way, PyTorch's own float32 gradients are within 3e-5 of float64. The test prints how
many elements are on the other side in float64. The forward values, including those inputs, are
checked against plain float64 (at 1e-3 in training mode: batch statistics over few values)."""
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


class BranchActivation(nn.Module):
    """Stands in for every nn.ReLU / nn.ReLU6 of a model (one shared instance, counting calls in
    execution order, which is the order of the exported Relu/Clip nodes). Forward: the same
    function. Backward: the gradient where masks[call] is 1."""

    class _Masked(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, mask, hi):
            ctx.save_for_backward(mask)
            return x.clamp(0.0, hi)

        @staticmethod
        def backward(ctx, g):
            (mask,) = ctx.saved_tensors
            return g * mask, None, None

    def __init__(self, masks, bounds):
        super().__init__()
        self.masks, self.bounds, self.calls, self.inputs = masks, bounds, 0, []

    def forward(self, x):
        if self.calls >= len(self.masks) or self.masks[self.calls].shape != x.shape:
            raise RuntimeError("activation %d does not match the export" % self.calls)
        mask = self.masks[self.calls].to(x.dtype)
        hi = self.bounds[self.calls]
        self.calls += 1
        self.inputs.append(x.detach().numpy().copy())
        return BranchActivation._Masked.apply(x, mask, hi)


def replace_activations(model, branch):
    """Puts `branch` in place of every nn.ReLU/nn.ReLU6 of `model`."""
    for mod in list(model.modules()):
        for cname, c in list(mod.named_children()):
            if isinstance(c, (nn.ReLU, nn.ReLU6)):
                setattr(mod, cname, branch)


def activation_inputs(onnx_path):
    """Adds the input of every Relu/Clip node of the model as a graph output (in node order);
    returns [(tensor name, upper bound)]."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(onnx_path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}
    found = []
    for n in m.graph.node:
        if n.op_type == "Relu":
            found.append((n.input[0], float("inf")))
        elif n.op_type == "Clip":
            hi = n.input[2] if len(n.input) > 2 else ""
            v = inits.get(hi, consts.get(hi))
            found.append((n.input[0], float(v) if v is not None else float("inf")))
    have = {o.name for o in m.graph.output}
    for name, _ in found:
        if name not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            m.graph.output[-1].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    onnx.save(m, onnx_path)
    return found


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
    # Whole torchvision models: the reference is float64 on cnncc's branch (docstring, "Same
    # branch"); cnncc also writes every ReLU/Clip input.
    same_branch = isinstance(CASES[args.case][0], str)
    plain_onnx = os.path.join(work, "model_plain.onnx")  # (without the extra outputs)
    shutil.copyfile(onnx_path, plain_onnx)
    acts = activation_inputs(onnx_path) if same_branch else []
    outs, dys, grads = reference(model, inputs, mode)
    if same_branch:
        import copy
        outs64, _, _ = reference(copy.deepcopy(model).double(), [x.double() for x in inputs], mode)
        outs = [o.astype(np.float32) for o in outs64]
    for i, x in enumerate(inputs):
        np.save(os.path.join(work, "in%d.npy" % i), x.numpy())
    vjp = []
    for i, d in enumerate(dys):
        vjp.append(os.path.join(work, "dy%d.npy" % i))
        np.save(vjp[-1], d)
    if acts:  # the activation inputs get a zero upstream gradient
        np.save(os.path.join(work, "dy_zero.npy"), np.zeros(1, np.float32))

    def zero_dy(res, name):
        """a zero upstream gradient shaped like the activation input (shape from ONNX shape
        inference)"""
        path = os.path.join(work, "dy_" + sanitize(name) + ".npy")
        if not os.path.exists(path):
            np.save(path, np.zeros(act_shapes[name], np.float32))
        return path

    act_shapes = {}
    if acts:
        import onnx
        inferred = onnx.shape_inference.infer_shapes(onnx.load(onnx_path))
        for v in list(inferred.graph.value_info) + list(inferred.graph.output):
            dims = [d.dim_value for d in v.type.tensor_type.shape.dim]
            if v.name in {a for a, _ in acts} and dims and all(dims):
                act_shapes[v.name] = dims
        missing = [a for a, _ in acts if a not in act_shapes]
        if missing:
            print("case %s: no shape for activation inputs %s FAIL" % (args.case, missing[:3]))
            return 1

    def arena_bytes(out_dir):
        """the M_ARENA_BYTES macro of the generated header in out_dir"""
        with open(os.path.join(out_dir, "m.h")) as f:
            return int(re.search(r"#define M_ARENA_BYTES (\d+)", f.read()).group(1))

    def plain_arena(extra):
        """NAME_ARENA_BYTES of the exported model (no extra outputs) with cnncc flags extra"""
        out_dir = os.path.join(work, "plain%d" % len(extra))
        cmd = [args.cnncc, plain_onnx, "-o", os.path.join(out_dir, "m.c"), "--grad",
               "--weights", os.path.join(out_dir, "m.bin")] + extra
        if args.threads > 1:
            cmd += ["--max-threads", str(args.threads)]
        subprocess.run(cmd, check=True, capture_output=True)
        return arena_bytes(out_dir)

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
        run = [prog] + [os.path.join(work, n + ".npy") for n in in_names] + ["--vjp"] + vjp + \
            [zero_dy(res, name) for name, _ in acts] + \
            ["--out-dir", res, "--threads", str(args.threads), "--weights", weights]
        r = subprocess.run(run, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return None, "run failed"
        return res, arena_bytes(out_dir)

    if args.checkpoint is not None:
        # --checkpoint: the same gradients as without it (recomputation reads the same inputs),
        # checked below against PyTorch too, with a smaller arena.
        base, base_arena = compile_and_run("_base", [])
        if base is None:
            print("case %s (without --checkpoint): %s FAIL" % (args.case, base_arena))
            return 1
        flag = "--checkpoint" + ("=" + args.checkpoint if args.checkpoint else "")
        res_dir, arena = compile_and_run("", [flag])
        # The arenas compared are those of the model as exported: the extra activation outputs
        # of the same-branch check stay alive to the end and would hide what --checkpoint saves.
        base_arena, arena = plain_arena([]), plain_arena([flag])
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

    if same_branch:
        # float64 reference on cnncc's branch: every ReLU/ReLU6 backward uses cnncc's mask
        import copy
        values = [np.load(os.path.join(res_dir, sanitize(a) + ".npy")) for a, _ in acts]
        masks = [torch.from_numpy((v > 0) & (v < hi)) for v, (_, hi) in zip(values, acts)]
        branch = BranchActivation(masks, [hi for _, hi in acts])
        model64 = copy.deepcopy(model).double()
        replace_activations(model64, branch)
        _, _, grads64 = reference(model64, [x.double() for x in inputs], mode)
        if branch.calls != len(acts):
            print("case %s: %d ReLU/ReLU6 calls in PyTorch, %d Relu/Clip nodes in the export FAIL"
                  % (args.case, branch.calls, len(acts)))
            return 1
        grads = {k: v.astype(np.float64) for k, v in grads64.items()}
        flips = sum(int(np.count_nonzero(m.numpy() != ((x > 0) & (x < hi))))
                    for m, x, (_, hi) in zip(masks, branch.inputs, acts))
        print("  %d ReLU/Clip inputs: float64 reference on cnncc's activation pattern (%d of "
              "their elements on the other side of 0 or the upper bound in float64)"
              % (len(acts), flips))
    ok_all, worst = ckpt_ok, 0.0
    checks = [("output " + n, os.path.join(res_dir, sanitize(n) + ".npy"), e)
              for n, e in zip(out_names, outs)]
    if same_branch:
        checks += [("output " + a, os.path.join(res_dir, sanitize(a) + ".npy"), e)
                   for (a, _), e in zip(acts, branch.inputs)]
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
        # (outputs of the training-mode whole models: float32 forward vs plain float64, 1e-3)
        loose = same_branch and mode == "train" and not label.startswith("grad")
        rtol = max(args.rtol, 1e-3) if loose else args.rtol
        ok, d, ref, why = compare(np.load(path), expected, rtol,
                                  largest if zero_in_exact else 0.0)
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
