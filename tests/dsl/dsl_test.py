#!/usr/bin/env python3
"""Tests of the .cnn language front end (frontends/dsl) through the cnncc command line.

usage: /usr/bin/python3 tests/dsl/dsl_test.py --cnncc PATH [--cc CC] [--node NODE]
           [--ort-modules DIR]... CASE...
       /usr/bin/python3 tests/dsl/dsl_test.py --list

Cases:
  example/NAME     examples/dsl/NAME.cnn compiles (--main); the generated C builds with
                   -std=c99 -Wall -Wextra -Wpedantic -Werror and runs; the model written back
                   with --emit-onnx passes onnx.checker, compiles to bit-identical outputs
                   (round trip DSL -> ONNX -> cnncc == DSL -> cnncc) and, where the float64
                   numpy interpreter tests/models/np_onnx.py knows every op, matches it within
                   1e-4; where onnxruntime-node is installed, ONNX Runtime runs the emitted
                   model to the same outputs (1e-4, as tests/emit_onnx).
  torchvision/NAME examples/dsl/NAME.cnn (resnet18, mobilenet_v2) given the parameters of
                   torchvision's model (random seeded weights, non-trivial BatchNorm statistics)
                   by name from its ONNX export (--params export.onnx) gives the same outputs
                   as that export compiled by cnncc (1e-5 relative to the largest output) and
                   as PyTorch (1e-4).
  seeded_init      a model's seeded initialisation: PyTorch's default bounds per layer type
                   (checked by reading the parameters back from --emit-onnx), and the same
                   values on every run.
  npy_params       parameters loaded from a folder of NAME.npy files.
  cli_errors       a bad model: exit status 1, messages in compiler form, no output written.
Exit status 0 when every case given passes.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "examples", "dsl")
sys.path.insert(0, os.path.join(ROOT, "tests", "emit_onnx"))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))

import emit_onnx_test as eo  # noqa: E402  (Ctx, check, close, identical, sanitize)
from emit_onnx_test import Failure, check, close, identical, sanitize  # noqa: E402

# The input size each example is compiled for in the tests (smaller than the examples' own,
# to keep the tests fast; parameters do not depend on it).
EXAMPLE_SHAPES = {
    "resnet18": "image=1x3x64x64",
    "mobilenet_v2": "image=1x3x64x64",
}
# Models whose weights go to a --weights file in the tests (millions of parameters as C arrays
# take the C compiler minutes).
BIG = {"resnet18", "mobilenet_v2"}

CASES = {}


def case(name):
    def wrap(fn):
        CASES[name] = fn
        return fn
    return wrap


class Prog:
    """A compiled model's driver program (and its weights file, if not embedded)."""

    def __init__(self, path, weights=None):
        self.path = path
        self.weights = weights

    def run(self, ctx, input_paths):
        import numpy as np
        res = tempfile.mkdtemp(dir=ctx.tmp, prefix="res")
        argv = [self.path] + list(input_paths) + ["--out-dir", res]
        if self.weights:
            argv += ["--weights", self.weights]
        r = ctx.run(argv)
        check(r.returncode == 0, "%s exited %d:\n%s%s" % (self.path, r.returncode, r.stdout,
                                                         r.stderr))
        return {f[:-4]: np.load(os.path.join(res, f)) for f in os.listdir(res)}


def strict_compile(ctx, model, out_dir, extra=(), blob=False):
    """cnncc --main, then the generated C built with the strict flags of the project. blob: the
    weights in a file (--weights) rather than in C arrays, which keeps big models quick to build."""
    weights = os.path.join(out_dir, "m.bin") if blob else None
    ctx.cnncc([model, "-o", os.path.join(out_dir, "m.c"), "--main"] + list(extra) +
              (["--weights", weights] if blob else []))
    prog = os.path.join(out_dir, "prog")
    srcs = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".c"))
    r = ctx.run([ctx.cc, "-O2", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                 "-o", prog] + srcs + ["-lm"])
    check(r.returncode == 0, "cc failed on %s:\n%s" % (out_dir, r.stderr[-4000:]))
    return Prog(prog, weights)


def save_inputs(ctx, arrays):
    import numpy as np
    d = ctx.fresh("in")
    paths = []
    for i, a in enumerate(arrays):
        p = os.path.join(d, "in%d.npy" % i)
        np.save(p, a)
        paths.append(p)
    return paths


def example_case(name):
    def run(ctx):
        import numpy as np
        import onnx
        model = os.path.join(EXAMPLES, name + ".cnn")
        extra = ["--shape", EXAMPLE_SHAPES[name]] if name in EXAMPLE_SHAPES else []
        folder = ctx.fresh(name)
        prog = strict_compile(ctx, model, os.path.join(folder, "dsl"), extra, name in BIG)

        e_path = os.path.join(folder, "E.onnx")
        ctx.cnncc([model, "--emit-onnx", e_path] + extra)
        e = onnx.load(e_path)
        try:
            onnx.checker.check_model(e, full_check=True)
        except Exception as ex:
            raise Failure("onnx.checker rejects the emitted model: %s" % ex)
        ins = []
        rng = np.random.default_rng(1)
        for vi in e.graph.input:
            shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
            ins.append(rng.standard_normal(shape).astype(np.float32))
        paths = save_inputs(ctx, ins)
        out_dsl = prog.run(ctx, paths)
        out_names = [vi.name for vi in e.graph.output]
        check(sorted(out_dsl) == sorted(sanitize(n) for n in out_names),
              "outputs %s, emitted model's %s" % (sorted(out_dsl), out_names))
        for n in out_names:
            o = out_dsl[sanitize(n)]
            check(np.all(np.isfinite(o)), "output %s is not finite" % n)
            check(float(np.std(o)) > 0, "output %s is constant" % n)
            print("output %s: shape %s" % (n, o.shape))

        # round trip: DSL -> ONNX -> cnncc == DSL -> cnncc
        prog_e = strict_compile(ctx, e_path, os.path.join(folder, "onnx"), (), name in BIG)
        out_e = prog_e.run(ctx, paths)
        for n in out_names:
            identical(out_e[sanitize(n)], out_dsl[sanitize(n)], "output %s, DSL vs emitted ONNX" % n)
        print("round trip: bit-identical")

        # an independent float64 reference where it knows the ops
        import np_onnx
        known = set(re.findall(r'op == "(\w+)"', open(np_onnx.__file__).read())) | \
            set(re.findall(r'"(\w+)"', open(np_onnx.__file__).read()))
        # Dropout is the identity at inference (ONNX: training_mode false); the interpreter
        # does not know it, so it gets Identity nodes in its place.
        ref_model = onnx.load(e_path)
        for node in ref_model.graph.node:
            if node.op_type == "Dropout":
                node.op_type = "Identity"
                del node.input[1:]
                del node.output[1:]
        missing = sorted({n.op_type for n in ref_model.graph.node} - known)
        if missing:
            print("SKIP numpy reference: tests/models/np_onnx.py lacks %s" % missing)
        else:
            ref = np_onnx.run(ref_model, {vi.name: a for vi, a in zip(e.graph.input, ins)})
            for n in out_names:
                d = close(out_dsl[sanitize(n)], ref[n], "output %s vs numpy reference" % n, 1e-4)
                print("output %s: max |d| vs numpy float64 reference %.3g" % (n, d))

        if not ctx.node or not ctx.ort_modules:
            print("SKIP ONNX Runtime comparison (onnxruntime-node not installed)")
        else:
            ort = ctx.run_ort(e_path, paths, len(out_names))
            for n, o in zip(out_names, ort):
                d = close(out_dsl[sanitize(n)], o, "output %s vs ONNX Runtime" % n, 1e-4)
                print("output %s: max |d| vs ONNX Runtime %.3g" % (n, d))
    return run


for _f in sorted(os.listdir(EXAMPLES)):
    if _f.endswith(".cnn"):
        case("example/" + _f[:-4])(example_case(_f[:-4]))


def torchvision_case(name):
    def run(ctx):
        import numpy as np
        import onnx
        import torch
        import torchvision
        from export import randomize_bn
        torch.manual_seed(0)
        m = getattr(torchvision.models, name)().eval()
        randomize_bn(m, 1)
        folder = ctx.fresh(name)
        x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            expected = m(x).numpy()
        # PRESERVE keeps BatchNormalization nodes and the module's parameter names (the default,
        # EVAL, folds BN into the convolutions and renames the weights).
        tv_path = os.path.join(folder, name + ".onnx")
        torch.onnx.export(m, x, tv_path, opset_version=13, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=["image"], output_names=["logits"])
        inits = {t.name for t in onnx.load(tv_path).graph.initializer}
        state = {k for k in m.state_dict() if not k.endswith("num_batches_tracked")}
        check(state <= inits, "the export lacks parameters %s" % sorted(state - inits)[:5])
        paths = save_inputs(ctx, [x.numpy()])

        model = os.path.join(EXAMPLES, name + ".cnn")
        r = ctx.cnncc([model, "--params", tv_path, "-o", os.path.join(folder, "x", "m.c"),
                       "--shape", "image=1x3x64x64"])
        check("initialised from the seed" not in r.stderr,
              "some parameters were not found by name:\n" + r.stderr)
        prog_dsl = strict_compile(ctx, model, os.path.join(folder, "dsl"),
                                  ["--params", tv_path, "--shape", "image=1x3x64x64"], True)
        prog_tv = strict_compile(ctx, tv_path, os.path.join(folder, "tv"), (), True)
        out_dsl = prog_dsl.run(ctx, paths)["logits"]
        out_tv = prog_tv.run(ctx, paths)["logits"]
        d = close(out_dsl, out_tv, "DSL model vs torchvision's ONNX export (both by cnncc)", 1e-5)
        print("max |DSL - torchvision export| = %.3g (max |output| %.3g)" %
              (d, float(np.abs(out_tv).max())))
        d = close(out_dsl, expected, "DSL model vs PyTorch", 1e-4)
        print("max |DSL - PyTorch| = %.3g" % d)
    return run


for _n in ("resnet18", "mobilenet_v2"):
    case("torchvision/" + _n)(torchvision_case(_n))


INIT_MODEL = """
model init_check
seed 42
input x: f32[1, 8, 6, 6]
y = conv2d(x, 16, kernel=3) as conv
y = batchnorm(y) as bn
y = conv_transpose2d(y, 4, kernel=2, stride=2) as up
y = global_avgpool(y) -> flatten
output out = linear(y, 5) as fc
"""


@case("seeded_init")
def seeded_init(ctx):
    import numpy as np
    import onnx
    import onnx.numpy_helper as nh
    folder = ctx.fresh("init")
    src = os.path.join(folder, "m.cnn")
    with open(src, "w") as f:
        f.write(INIT_MODEL)
    p1, p2 = os.path.join(folder, "a.onnx"), os.path.join(folder, "b.onnx")
    ctx.cnncc([src, "--emit-onnx", p1])
    ctx.cnncc([src, "--emit-onnx", p2])
    with open(p1, "rb") as a, open(p2, "rb") as b:
        check(a.read() == b.read(), "two runs give different models")
    params = {t.name: nh.to_array(t) for t in onnx.load(p1).graph.initializer}
    # PyTorch: Conv/Linear weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in from
    # weight dim 1 times the kernel (ConvTranspose too: its weight is [in, out/groups, k, k]).
    bounds = {"conv": 1 / np.sqrt(8 * 9), "up": 1 / np.sqrt(4 * 4), "fc": 1 / np.sqrt(4)}
    for layer, bound in bounds.items():
        for what in ("weight", "bias"):
            v = params["%s.%s" % (layer, what)]
            lo, hi = float(v.min()), float(v.max())
            check(-bound <= lo and hi <= bound, "%s.%s outside +-%g: [%g, %g]" %
                  (layer, what, bound, lo, hi))
            if v.size >= 64:  # spread over the range, mean near 0
                check(hi - lo > 1.6 * bound and abs(float(v.mean())) < 0.2 * bound,
                      "%s.%s does not look uniform on +-%g: [%g, %g], mean %g" %
                      (layer, what, bound, lo, hi, float(v.mean())))
            print("%s.%s: %s in [%.4f, %.4f], bound %.4f" % (layer, what, v.shape, lo, hi, bound))
    check(params["conv.weight"].shape == (16, 8, 3, 3), "conv weight shape")
    check(params["up.weight"].shape == (16, 4, 2, 2), "conv_transpose weight shape")
    check(params["fc.weight"].shape == (5, 4), "linear weight shape")
    for what, value in (("weight", 1), ("bias", 0), ("running_mean", 0), ("running_var", 1)):
        check(np.all(params["bn." + what] == value), "bn.%s is not %g" % (what, value))
    # the counter-based generator of frontends/dsl/dsl_params.c, recomputed here
    M = (1 << 64) - 1

    def splitmix(x):
        x = (x + 0x9E3779B97F4A7C15) & M
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
        return x ^ (x >> 31)

    def fnv(s):
        h = 0xcbf29ce484222325
        for c in s.encode():
            h = ((h ^ c) * 0x100000001b3) & M
        return h

    key = splitmix(42 ^ fnv("fc.weight"))
    want = [np.float32(bounds["fc"] * (2 * ((splitmix((key + i) & M) >> 11) / 2.0 ** 53) - 1))
            for i in range(20)]
    got = params["fc.weight"].reshape(-1)[:20]
    check(np.array_equal(np.array(want, np.float32), got),
          "fc.weight is not the documented generator's: %s vs %s" % (got[:4], want[:4]))
    print("fc.weight equals the documented generator's values")


@case("npy_params")
def npy_params(ctx):
    import numpy as np
    folder = ctx.fresh("npy")
    src = os.path.join(folder, "m.cnn")
    with open(src, "w") as f:
        f.write("input x: f32[2, 3]\noutput y = linear(x, 4) as fc\n")
    pdir = os.path.join(folder, "params")
    os.makedirs(pdir)
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    np.save(os.path.join(pdir, "fc.weight.npy"), w)
    np.save(os.path.join(pdir, "fc.bias.npy"), b)
    prog = strict_compile(ctx, src, os.path.join(folder, "out"), ["--params", pdir])
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = prog.run(ctx, save_inputs(ctx, [x]))["y"]
    d = close(y, x.astype(np.float64) @ w.T + b, "linear with .npy parameters", 1e-5)
    print("max |d| vs numpy: %.3g" % d)
    # a parameter of the wrong shape is an error at the layer
    np.save(os.path.join(pdir, "fc.bias.npy"), np.zeros(5, np.float32))
    r = ctx.cnncc([src, "--params", pdir, "-o", os.path.join(folder, "bad", "m.c")], expect=1)
    check(re.search(r"m\.cnn:2:12: error: parameter 'fc.bias': .*fc\.bias\.npy is float32 \[5\], "
                    r"but the layer needs float32 \[4\]", r.stderr), r.stderr)


@case("cli_errors")
def cli_errors(ctx):
    folder = ctx.fresh("err")
    src = os.path.join(folder, "bad.cnn")
    with open(src, "w") as f:
        f.write("input x: f32[1, 784]\n"
                "y = conv2d(x, 16, kernl=3)\n"
                "z = conv2d(x, 16)\n"
                "output z\n")
    out = os.path.join(folder, "out")
    r = ctx.cnncc([src, "-o", os.path.join(out, "m.c")], expect=1)
    want = ("%s:2:19: error: conv2d has no argument 'kernl'; did you mean 'kernel'?\n"
            "  y = conv2d(x, 16, kernl=3)\n"
            "                    ^\n"
            "%s:3:12: error: conv2d expects a 4-D input, got [1, 784]\n"
            "  z = conv2d(x, 16)\n"
            "             ^\n") % (src, src)
    check(r.stderr == want, "stderr:\n%s\nexpected:\n%s" % (r.stderr, want))
    check(not os.path.exists(out) or not os.listdir(out), "output written despite errors")
    # content sniffing: a .cnn model under another name is still read as one
    other = os.path.join(folder, "model.txt")
    with open(other, "w") as f:
        f.write("# a model\ninput x: f32[1, 4]\noutput y = relu(x)\n")
    ctx.cnncc([other, "--emit-onnx", os.path.join(folder, "o.onnx")])
    print("errors as expected; %d bytes of diagnostics" % len(r.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnncc")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--node", default="")
    ap.add_argument("--ort-modules", action="append", default=[])
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    keep = os.environ.get("CNNCC_DSL_KEEP")
    tmp = tempfile.mkdtemp(prefix="cnncc_dsl_")
    ctx = eo.Ctx(args, tmp)
    failed = 0
    for name in args.cases or list(CASES):
        print("== %s" % name)
        try:
            CASES[name](ctx)
            print("PASS %s" % name)
        except Failure as ex:
            print("FAIL %s: %s" % (name, ex))
            failed += 1
        except Exception:
            traceback.print_exc()
            print("FAIL %s" % name)
            failed += 1
    if not keep:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept %s" % tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
