#!/usr/bin/env python3
"""cnncc --emit-onnx tests: the IR written back as ONNX (frontends/onnx/onnx_writer.c).

usage: /usr/bin/python3 tests/emit_onnx/emit_onnx_test.py --cnncc PATH [--cc CC]
           [--node NODE] [--ort-modules DIR]... CASE...
       /usr/bin/python3 tests/emit_onnx/emit_onnx_test.py --list

Every model case (the quickstart's fashion_cnn.onnx, and small models built with onnx.helper)
is a round trip:

  1. `cnncc M.onnx --emit-onnx E.onnx` in an empty folder writes E.onnx and nothing else;
  2. onnx.checker.check_model(E, full_check=True) passes: a valid model whose value_info (the
     shapes cnncc inferred) agrees with ONNX's own strict shape inference; IR version 8, the
     model's opset;
  3. E.onnx written again (`cnncc E.onnx --emit-onnx E2.onnx`) gives the same bytes;
  4. M.onnx and E.onnx compiled with `cnncc --main` and run on the same inputs give
     bit-identical outputs;
  5. the outputs match numpy / PyTorch (max|d| <= tol * max(1, max|ref|)) where a reference is
     cheap;
  6. if node and onnxruntime-node are installed (a node_modules folder given by --ort-modules
     that holds onnxruntime-node), E.onnx run in ONNX Runtime matches cnncc's outputs within
     1e-4 relative; otherwise that step is skipped with a message.

Other cases check the command line (--emit-onnx with and without -o, errors).
Exit status 0 when every case given passes, 1 otherwise. CNNCC_EMIT_ONNX_KEEP=1 keeps the
temporary folders.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QUICKSTART = os.path.join(ROOT, "examples", "quickstart")

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


# ---------------------------------------------------------------------------------------------
# the round trip

class Ctx:
    def __init__(self, args, tmp):
        self.cnncc_path = args.cnncc
        self.cc = args.cc
        self.node = args.node
        self.ort_modules = next((d for d in args.ort_modules
                                 if os.path.isdir(os.path.join(d, "onnxruntime-node"))), None)
        self.tmp = tmp
        self.n = 0

    def fresh(self, stem):
        self.n += 1
        d = os.path.join(self.tmp, "%s%d" % (stem, self.n))
        os.makedirs(d)
        return d

    def run(self, argv, timeout=300, env=None):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, universal_newlines=True, errors="replace",
                               env=env)
        except subprocess.TimeoutExpired:
            raise Failure("timed out: %s" % " ".join(argv))
        return r

    def cnncc(self, args, expect=0):
        r = self.run([self.cnncc_path] + list(args))
        check(r.returncode == expect, "cnncc %s: exit status %d, expected %d\n%s%s" %
              (" ".join(args), r.returncode, expect, r.stdout, r.stderr))
        return r

    def compile(self, model_path, out_dir, extra=()):
        self.cnncc([model_path, "-o", os.path.join(out_dir, "m.c"), "--main"] + list(extra))
        prog = os.path.join(out_dir, "prog")
        srcs = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".c"))
        r = self.run([self.cc, "-O1", "-std=c99", "-o", prog] + srcs + ["-lm"])
        check(r.returncode == 0, "cc failed on %s:\n%s" % (out_dir, r.stderr[-4000:]))
        return prog

    def run_prog(self, prog, input_paths):
        import numpy as np
        res = tempfile.mkdtemp(dir=self.tmp, prefix="res")
        r = self.run([prog] + list(input_paths) + ["--out-dir", res])
        check(r.returncode == 0, "%s exited %d:\n%s%s" % (prog, r.returncode, r.stdout, r.stderr))
        return {f[:-4]: np.load(os.path.join(res, f)) for f in os.listdir(res)}

    def run_ort(self, model_path, input_paths, n_outputs):
        import numpy as np
        res = tempfile.mkdtemp(dir=self.tmp, prefix="ort")
        env = dict(os.environ, NODE_PATH=self.ort_modules)
        r = self.run([self.node, os.path.join(HERE, "ort_run.js"), model_path, res] +
                     list(input_paths), env=env)
        check(r.returncode == 0, "ONNX Runtime failed on %s:\n%s%s" %
              (model_path, r.stdout, r.stderr))
        print(r.stdout.strip())
        return [np.load(os.path.join(res, "%d.npy" % i)) for i in range(n_outputs)]


def identical(a, b, what):
    check(a.dtype == b.dtype and a.shape == b.shape,
          "%s: %s %s vs %s %s" % (what, a.dtype, a.shape, b.dtype, b.shape))
    check(a.tobytes() == b.tobytes(), "%s: not bit-identical (max |d| %g)" %
          (what, float(abs(a.astype("float64") - b.astype("float64")).max())))


def close(actual, expected, what, tol=1e-4):
    import numpy as np
    expected = np.asarray(expected)
    check(actual.shape == expected.shape, "%s: shape %s, expected %s" %
          (what, actual.shape, expected.shape))
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    d = float(np.max(np.abs(a - e))) if a.size else 0.0
    ref = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
    check(d <= tol * ref, "%s: max |difference| %.6g exceeds %.3g" % (what, d, tol * ref))
    return d


def roundtrip(ctx, model, inputs, refs=None, emit_extra=(), tol=1e-4, input_sets=None):
    """The round trip of the module docstring. `model` is a ModelProto or a path; `inputs` a
    list of arrays (one per runtime input of the emitted model); `refs` the expected outputs
    in graph-output order (or None); emit_extra: options for M only (--shape, --bind).
    input_sets: further (inputs, refs) pairs run through the same programs."""
    import numpy as np
    import onnx
    folder = ctx.fresh("rt")
    if isinstance(model, str):
        m_path = model
    else:
        m_path = os.path.join(folder, "M.onnx")
        onnx.save(model, m_path)
    m_proto = onnx.load(m_path)

    # 1. emit only: E.onnx and nothing else
    emit_dir = os.path.join(folder, "emit")
    e_path = os.path.join(emit_dir, "E.onnx")
    ctx.cnncc([m_path, "--emit-onnx", e_path] + list(emit_extra))
    check(os.listdir(emit_dir) == ["E.onnx"],
          "--emit-onnx without -o wrote %s" % sorted(os.listdir(emit_dir)))

    # 2. a valid model, shapes agreeing with ONNX's strict inference
    e_proto = onnx.load(e_path)
    try:
        onnx.checker.check_model(e_proto, full_check=True)
    except Exception as ex:  # onnx raises several types
        raise Failure("onnx.checker rejects E.onnx: %s" % ex)
    check(e_proto.ir_version == 8, "E.onnx has IR version %d" % e_proto.ir_version)
    m_opset = max([o.version for o in m_proto.opset_import if o.domain in ("", "ai.onnx")])
    e_opset = [(o.domain, o.version) for o in e_proto.opset_import]
    check(e_opset == [("", m_opset)], "E.onnx imports %s, M.onnx opset %d" % (e_opset, m_opset))
    for vi in list(e_proto.graph.input) + list(e_proto.graph.output):
        dims = vi.type.tensor_type.shape.dim
        check(vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value")
                                                           for d in dims),
              "E.onnx: %s has no fixed shape" % vi.name)
    names = [vi.name for vi in e_proto.graph.input] + \
            [t.name for t in e_proto.graph.initializer] + \
            [o for n in e_proto.graph.node for o in n.output if o]
    check(len(names) == len(set(names)), "E.onnx defines a name twice: %s" % names)
    node_names = [n.name for n in e_proto.graph.node]
    check(len(node_names) == len(set(node_names)), "E.onnx: node names repeat: %s" % node_names)
    print("E.onnx: %d nodes (%s), %d initializers, %d value_info" %
          (len(e_proto.graph.node), " ".join(n.op_type for n in e_proto.graph.node),
           len(e_proto.graph.initializer), len(e_proto.graph.value_info)))

    # 3. a fixed point
    e2_path = os.path.join(folder, "E2.onnx")
    ctx.cnncc([e_path, "--emit-onnx", e2_path])
    with open(e_path, "rb") as f1, open(e2_path, "rb") as f2:
        check(f1.read() == f2.read(), "E.onnx written again differs")

    # 4. M and E compiled: bit-identical
    prog_m = ctx.compile(m_path, os.path.join(folder, "out_m"), emit_extra)
    prog_e = ctx.compile(e_path, os.path.join(folder, "out_e"))
    out_names = [vi.name for vi in e_proto.graph.output]
    check([vi.name for vi in m_proto.graph.output] == out_names,
          "E.onnx outputs %s, M.onnx %s" % (out_names, [vi.name for vi in m_proto.graph.output]))
    sets = [(inputs, refs)] + list(input_sets or [])
    for s, (ins, rs) in enumerate(sets):
        in_dir = ctx.fresh("in")
        paths = []
        for i, a in enumerate(ins):
            p = os.path.join(in_dir, "in%d.npy" % i)
            np.save(p, a)
            paths.append(p)
        out_m = ctx.run_prog(prog_m, paths)
        out_e = ctx.run_prog(prog_e, paths)
        check(sorted(out_m) == sorted(out_e) == sorted(sanitize(n) for n in out_names),
              "outputs: M %s, E %s, expected %s" % (sorted(out_m), sorted(out_e), out_names))
        for name in out_names:
            identical(out_e[sanitize(name)], out_m[sanitize(name)],
                      "set %d output '%s' of E vs M" % (s, name))

        # 5. the reference
        if rs is not None:
            for name, r in zip(out_names, rs):
                if r is not None:
                    d = close(out_e[sanitize(name)], r, "set %d output '%s' vs reference" %
                              (s, name), tol)
                    print("set %d output %s: max |d| vs reference %.3g" % (s, name, d))

        # 6. ONNX Runtime
        if s == 0:
            if not ctx.node or not ctx.ort_modules:
                print("SKIP ONNX Runtime comparison: %s" %
                      ("no node program" if not ctx.node else
                       "onnxruntime-node not installed in any of the --ort-modules folders"))
            else:
                ort_outs = ctx.run_ort(e_path, paths, len(out_names))
                for name, o in zip(out_names, ort_outs):
                    mine = out_e[sanitize(name)]
                    if o.dtype.kind == "f":
                        d = close(mine, o, "output '%s' vs ONNX Runtime" % name, 1e-4)
                        print("output %s: max |d| vs ONNX Runtime %.3g" % (name, d))
                    else:
                        identical(mine, o.astype(mine.dtype), "output '%s' vs ONNX Runtime" %
                                  name)
    return e_proto


# ---------------------------------------------------------------------------------------------
# references (float64)

def torch_mod():
    try:
        import torch
        return torch
    except ImportError:
        return None


def conv_ref(x, w, b=None, stride=1, padding=0, groups=1):
    import numpy as np
    import torch
    import torch.nn.functional as F
    y = F.conv2d(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)),
                 None if b is None else torch.from_numpy(b.astype(np.float64)), stride, padding,
                 1, groups)
    return y.numpy()


def softmax(x, axis):
    import numpy as np
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def rng(seed):
    import numpy as np
    return np.random.default_rng(seed)


def f32(a):
    import numpy as np
    return np.asarray(a, dtype=np.float32)


def make_model(nodes, inputs, outputs, inits, opset=13, ir_version=8, name="g"):
    from onnx import helper, numpy_helper
    g = helper.make_graph(nodes, name, inputs, outputs,
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=ir_version)


def tinfo(name, shape, elem=None):
    from onnx import TensorProto, helper
    return helper.make_tensor_value_info(name, elem or TensorProto.FLOAT, shape)


# ---------------------------------------------------------------------------------------------
# model cases

@case
def fashion_cnn(ctx):
    """The quickstart model on its eight samples, against PyTorch's logits."""
    import numpy as np
    samples = sorted(f for f in os.listdir(os.path.join(QUICKSTART, "samples"))
                     if f.endswith(".npy"))
    expected = np.load(os.path.join(QUICKSTART, "expected_logits.npy"))
    sets = [([np.load(os.path.join(QUICKSTART, "samples", f))], [expected[i:i + 1]])
            for i, f in enumerate(samples)]
    roundtrip(ctx, os.path.join(QUICKSTART, "fashion_cnn.onnx"), sets[0][0], sets[0][1],
              input_sets=sets[1:])


@case
def conv_bn_relu_pool_gemm(ctx):
    """Conv → BatchNormalization → Relu → MaxPool → Conv (stride 2) → Relu →
    GlobalAveragePool → Flatten → Gemm (alpha, beta, transB) → Softmax."""
    import numpy as np
    from onnx import helper
    r = rng(1)
    x = f32(r.standard_normal((1, 3, 16, 16)))
    w1, b1 = f32(r.standard_normal((8, 3, 3, 3)) * 0.3), f32(r.standard_normal(8) * 0.1)
    sc, bb = f32(r.uniform(0.5, 1.5, 8)), f32(r.standard_normal(8) * 0.1)
    mu, var = f32(r.standard_normal(8) * 0.1), f32(r.uniform(0.5, 2.0, 8))
    w2 = f32(r.standard_normal((16, 8, 3, 3)) * 0.2)
    wf, bf = f32(r.standard_normal((10, 16)) * 0.3), f32(r.standard_normal(10) * 0.1)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "sc", "bb", "mu", "var"], ["bn"],
                         name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc", alpha=0.5,
                         beta=2.0, transB=1),
        helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1),
    ]
    m = make_model(nodes, [tinfo("x", [1, 3, 16, 16])], [tinfo("prob", [1, 10])],
                   dict(w1=w1, b1=b1, sc=sc, bb=bb, mu=mu, var=var, w2=w2, wf=wf, bf=bf))
    ref = None
    if torch_mod():
        c1 = conv_ref(x, w1, b1, padding=1)
        bn = (c1 - mu.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-3) \
            * sc.reshape(1, -1, 1, 1) + bb.reshape(1, -1, 1, 1)
        r1 = np.maximum(bn, 0)
        p1 = r1.reshape(1, 8, 8, 2, 8, 2).max(axis=(3, 5))
        r2 = np.maximum(conv_ref(p1, w2, stride=2, padding=1), 0)
        gap = r2.mean(axis=(2, 3))
        ref = [softmax(0.5 * gap @ wf.T.astype(np.float64) + 2.0 * bf, 1)]
    roundtrip(ctx, m, [x], ref)


@case
def concat_resize(ctx):
    """Two Conv branches → Concat → Resize nearest (scales) → Resize linear (sizes)."""
    import numpy as np
    from onnx import helper
    r = rng(2)
    x = f32(r.standard_normal((1, 4, 6, 6)))
    wa = f32(r.standard_normal((6, 4, 1, 1)) * 0.5)
    wb, bb = f32(r.standard_normal((2, 4, 3, 3)) * 0.3), f32(r.standard_normal(2) * 0.1)
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], name="branch_a", kernel_shape=[1, 1]),
        helper.make_node("Conv", ["x", "wb", "bb"], ["b"], name="branch_b",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["cat"], name="concat", axis=1),
        helper.make_node("Resize", ["cat", "", "scales"], ["up"], name="up_nearest",
                         mode="nearest", coordinate_transformation_mode="asymmetric",
                         nearest_mode="floor"),
        helper.make_node("Resize", ["up", "", "", "sizes"], ["y"], name="up_linear",
                         mode="linear", coordinate_transformation_mode="half_pixel"),
    ]
    m = make_model(nodes, [tinfo("x", [1, 4, 6, 6])], [tinfo("y", [1, 8, 18, 18])],
                   dict(wa=wa, wb=wb, bb=bb, scales=f32([1, 1, 2, 2]),
                        sizes=np.array([1, 8, 18, 18], np.int64)))
    ref = None
    torch = torch_mod()
    if torch:
        import torch.nn.functional as F
        cat = np.concatenate([conv_ref(x, wa), conv_ref(x, wb, bb, padding=1)], axis=1)
        up = np.repeat(np.repeat(cat, 2, axis=2), 2, axis=3)
        y = F.interpolate(torch.from_numpy(up), size=(18, 18), mode="bilinear",
                          align_corners=False).numpy()
        ref = [y]
    roundtrip(ctx, m, [x], ref)


@case
def reshape_chain(ctx):
    """An exporter's shape chain (Shape → Gather → Unsqueeze → Concat → Reshape), Constant
    nodes, Squeeze/Unsqueeze, Transpose, Flatten: folded to constant shapes in E.onnx."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    r = rng(3)
    x = f32(r.standard_normal((2, 3, 4, 5)))
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("Constant", [], ["zero"], name="const_zero",
                         value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shp", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsqueeze_n"),
        helper.make_node("Concat", ["n1", "minus1"], ["shape2"], name="concat_shape", axis=0),
        helper.make_node("Reshape", ["x", "shape2"], ["flat"], name="reshape1"),
        helper.make_node("Constant", [], ["shape3"], name="const_shape3",
                         value=numpy_helper.from_array(np.array([2, 6, 10], np.int64))),
        helper.make_node("Reshape", ["flat", "shape3"], ["r3"], name="reshape2"),
        helper.make_node("Transpose", ["r3"], ["t"], name="transpose", perm=[0, 2, 1]),
        helper.make_node("Unsqueeze", ["t", "axes1"], ["u"], name="unsqueeze_t"),
        helper.make_node("Squeeze", ["u", "axes1"], ["s"], name="squeeze"),
        helper.make_node("Flatten", ["s"], ["y"], name="flatten", axis=2),
    ]
    m = make_model(nodes, [tinfo("x", [2, 3, 4, 5])], [tinfo("y", None)],
                   dict(axes0=np.array([0], np.int64), axes1=np.array([1], np.int64),
                        minus1=np.array([-1], np.int64)))
    y = x.reshape(2, 6, 10).transpose(0, 2, 1).reshape(20, 6)
    e = roundtrip(ctx, m, [x], [y])
    ops = [n.op_type for n in e.graph.node]
    check("Shape" not in ops and "Constant" not in ops and "Gather" not in ops,
          "the shape chain was not folded: %s" % ops)


@case
def pad_transpose_softmax(ctx):
    """Pad (constant, pads and value as inputs) → Conv → Transpose → Softmax(axis=-1), and a
    reflect Pad as a second output."""
    import numpy as np
    from onnx import helper
    r = rng(4)
    x = f32(r.standard_normal((1, 2, 5, 6)))
    w = f32(r.standard_normal((3, 2, 3, 3)) * 0.4)
    pads = np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    nodes = [
        helper.make_node("Pad", ["x", "pads", "padval"], ["xp"], name="pad_const",
                         mode="constant"),
        helper.make_node("Conv", ["xp", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Transpose", ["c"], ["t"], name="nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Softmax", ["t"], ["y"], name="softmax", axis=-1),
        helper.make_node("Pad", ["x", "pads_r"], ["y_reflect"], name="pad_reflect",
                         mode="reflect"),
    ]
    m = make_model(nodes, [tinfo("x", [1, 2, 5, 6])],
                   [tinfo("y", [1, 6, 7, 3]), tinfo("y_reflect", [1, 2, 7, 8])],
                   dict(w=w, pads=pads, padval=f32(0.5),
                        pads_r=np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)))
    ref = None
    if torch_mod():
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 2), (2, 1)),
                    constant_values=0.5)
        t = conv_ref(xp, w).transpose(0, 2, 3, 1)
        ref = [softmax(t, -1), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")]
    roundtrip(ctx, m, [x], ref)


@case
def activations_residual(ctx):
    """What fusion would absorb, written before fusion as plain nodes: LeakyRelu, Clip
    (min/max inputs), HardSigmoid, HardSwish, SiLU as Sigmoid·Mul, Tanh, a residual Add;
    also AveragePool (count_include_pad) and ConvTranspose (stride 2, output_padding)."""
    import numpy as np
    from onnx import helper
    r = rng(5)
    x = f32(r.standard_normal((1, 4, 8, 8)))
    ws = {"w%d" % i: f32(r.standard_normal((4, 4, 3, 3)) * 0.3) for i in range(6)}
    bs = {"b%d" % i: f32(r.standard_normal(4) * 0.1) for i in range(6)}
    wt = f32(r.standard_normal((4, 2, 3, 3)) * 0.3)

    def conv(i, src, dst):
        return helper.make_node("Conv", [src, "w%d" % i, "b%d" % i], [dst], name="conv%d" % i,
                                kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [
        conv(0, "x", "c0"), helper.make_node("LeakyRelu", ["c0"], ["a0"], alpha=0.2),
        conv(1, "a0", "c1"), helper.make_node("Clip", ["c1", "lo", "hi"], ["a1"]),
        conv(2, "a1", "c2"), helper.make_node("HardSigmoid", ["c2"], ["a2"], alpha=0.25,
                                              beta=0.4),
        conv(3, "a2", "c3"), helper.make_node("HardSwish", ["c3"], ["a3"]),
        conv(4, "a3", "c4"), helper.make_node("Sigmoid", ["c4"], ["s4"]),
        helper.make_node("Mul", ["c4", "s4"], ["a4"]),
        conv(5, "a4", "c5"), helper.make_node("Add", ["c5", "a0"], ["res"]),
        helper.make_node("Tanh", ["res"], ["a5"]),
        helper.make_node("AveragePool", ["a5"], ["ap"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("ConvTranspose", ["ap", "wt"], ["y"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
    ]
    inits = dict(ws, **bs)
    inits.update(lo=f32(-0.5), hi=f32(0.7), wt=wt)
    m = make_model(nodes, [tinfo("x", [1, 4, 8, 8])], [tinfo("y", [1, 2, 8, 8])], inits,
                   opset=14)
    ref = None
    torch = torch_mod()
    if torch:
        import torch.nn.functional as F

        def c(i, a):
            return conv_ref(a, ws["w%d" % i], bs["b%d" % i], padding=1)
        c0 = c(0, x)
        a0 = np.where(c0 > 0, c0, 0.2 * c0)
        a1 = np.clip(c(1, a0), -0.5, 0.7)
        a2 = np.clip(0.25 * c(2, a1) + 0.4, 0, 1)
        c3 = c(3, a2)
        a3 = c3 * np.clip(c3 / 6 + 0.5, 0, 1)
        c4 = c(4, a3)
        a4 = c4 / (1 + np.exp(-c4))
        a5 = np.tanh(c(5, a4) + a0)
        ap = F.avg_pool2d(torch.from_numpy(a5), 3, 2, 1, count_include_pad=True)
        y = F.conv_transpose2d(ap, torch.from_numpy(wt.astype(np.float64)), stride=2,
                               padding=1, output_padding=1).numpy()
        ref = [y]
    roundtrip(ctx, m, [x], ref)


@case
def old_opset9(ctx):
    """Opset 9, IR version 4, initializers also listed as graph inputs (old exporters):
    BatchNormalization, Pad (attributes), Upsample, Unsqueeze/Squeeze (axes attributes)."""
    import numpy as np
    from onnx import helper
    r = rng(6)
    x = f32(r.standard_normal((1, 2, 4, 4)))
    sc, bb = f32([1.5, 0.5]), f32([0.1, -0.2])
    mu, var = f32([0.2, -0.1]), f32([1.2, 0.8])
    nodes = [
        helper.make_node("BatchNormalization", ["x", "sc", "bb", "mu", "var"], ["bn"],
                         epsilon=1e-5),
        helper.make_node("Pad", ["bn"], ["p"], pads=[0, 0, 1, 0, 0, 0, 0, 1], mode="constant",
                         value=-1.0),
        helper.make_node("Upsample", ["p", "scales"], ["up"], mode="nearest"),
        helper.make_node("Unsqueeze", ["up"], ["u"], axes=[0]),
        helper.make_node("Squeeze", ["u"], ["y"], axes=[0]),
    ]
    inits = dict(sc=sc, bb=bb, mu=mu, var=var, scales=f32([1, 1, 2, 2]))
    ins = [tinfo("x", [1, 2, 4, 4])] + [tinfo(k, list(v.shape)) for k, v in inits.items()]
    m = make_model(nodes, ins, [tinfo("y", [1, 2, 10, 10])], inits, opset=9, ir_version=4)
    bn = (x - mu.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5) * \
        sc.reshape(1, 2, 1, 1) + bb.reshape(1, 2, 1, 1)
    p = np.pad(bn, ((0, 0), (0, 0), (1, 0), (0, 1)), constant_values=-1.0)
    y = np.repeat(np.repeat(p, 2, axis=2), 2, axis=3)
    e = roundtrip(ctx, m, [x], [y])
    check([i.name for i in e.graph.input] == ["x"],
          "E.onnx inputs: %s" % [i.name for i in e.graph.input])


@case
def opset11_names(ctx):
    """Opset 11 (Resize with roi, Clip with inputs, Squeeze axes attribute), value names that
    are no C identifiers, repeated and empty node names, an unused optional output (MaxPool
    Indices) and two graph inputs."""
    import numpy as np
    from onnx import TensorProto, helper
    r = rng(7)
    x = f32(r.standard_normal((1, 3, 4, 4)))
    z = f32(r.standard_normal((1, 3, 8, 8)))
    nodes = [
        helper.make_node("Resize", ["in:0", "roi", "scales"], ["up/1"], name="same",
                         mode="nearest", coordinate_transformation_mode="asymmetric",
                         nearest_mode="floor"),
        helper.make_node("Add", ["up/1", "other.input"], ["sum.0"], name="same"),
        helper.make_node("Clip", ["sum.0", "lo", ""], ["clip"], name=""),
        helper.make_node("MaxPool", ["clip"], ["pool", "idx"], name="", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Unsqueeze", ["pool"], ["u"], axes=[0]),
        helper.make_node("Squeeze", ["u"], ["out:0"], axes=[0]),
    ]
    m = make_model(nodes, [tinfo("in:0", [1, 3, 4, 4]), tinfo("other.input", [1, 3, 8, 8])],
                   [tinfo("out:0", [1, 3, 4, 4])],
                   dict(roi=f32([]), scales=f32([1, 1, 2, 2]), lo=f32(0.0)), opset=11,
                   ir_version=6)
    up = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)
    s = np.maximum(up + z, 0)
    y = s.reshape(1, 3, 4, 2, 4, 2).max(axis=(3, 5))
    e = roundtrip(ctx, m, [x, z], [y])
    check([i.name for i in e.graph.input] == ["in:0", "other.input"] and
          [o.name for o in e.graph.output] == ["out:0"], "E.onnx renamed inputs or outputs")


@case
def symbolic_batch(ctx):
    """A symbolic batch dimension fixed with --shape: E.onnx has the fixed shapes."""
    import numpy as np
    from onnx import helper
    r = rng(8)
    x = f32(r.standard_normal((3, 2, 5, 5)))
    w = f32(r.standard_normal((4, 2, 3, 3)) * 0.3)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Slice", ["s", "st", "en"], ["n"]),
        helper.make_node("Concat", ["n", "m1"], ["shp"], axis=0),
        helper.make_node("Reshape", ["r", "shp"], ["y"]),
    ]
    m = make_model(nodes, [tinfo("x", ["N", 2, 5, 5])], [tinfo("y", ["N", 36])],
                   dict(w=w, st=np.array([0], np.int64), en=np.array([1], np.int64),
                        m1=np.array([-1], np.int64)))
    ref = None
    if torch_mod():
        ref = [np.maximum(conv_ref(x, w), 0).reshape(3, 36)]
    e = roundtrip(ctx, m, [x], ref, emit_extra=["--shape", "x=3x2x5x5"])
    dims = [d.dim_value for d in e.graph.input[0].type.tensor_type.shape.dim]
    check(dims == [3, 2, 5, 5], "E.onnx input shape %s" % dims)


@case
def bind_and_constant_output(ctx):
    """--bind makes an input an initializer of E.onnx; an output that folding makes constant
    (the input's shape) is produced by an Identity."""
    import numpy as np
    from onnx import TensorProto, helper
    r = rng(9)
    x = f32(r.standard_normal((1, 2, 3, 3)))
    scale = f32(r.standard_normal((1, 2, 1, 1)))
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["y"]),
        helper.make_node("Shape", ["y"], ["shape"]),
    ]
    m = make_model(nodes, [tinfo("x", [1, 2, 3, 3]), tinfo("scale", [1, 2, 1, 1])],
                   [tinfo("y", [1, 2, 3, 3]), tinfo("shape", [4], TensorProto.INT64)], {})
    folder = ctx.fresh("bind")
    sp = os.path.join(folder, "scale.npy")
    np.save(sp, scale)
    e = roundtrip(ctx, m, [x], [x * scale, np.array([1, 2, 3, 3], np.int64)],
                  emit_extra=["--bind", "scale=" + sp])
    check([i.name for i in e.graph.input] == ["x"], "E.onnx inputs: %s" %
          [i.name for i in e.graph.input])
    check("scale" in [t.name for t in e.graph.initializer], "scale is no initializer of E.onnx")
    check(any(n.op_type == "Identity" and n.output[0] == "shape" for n in e.graph.node),
          "the constant output 'shape' is not produced by an Identity")


# ---------------------------------------------------------------------------------------------
# command-line cases

def small_model():
    from onnx import helper
    return make_model([helper.make_node("Relu", ["x"], ["y"])], [tinfo("x", [1, 4])],
                      [tinfo("y", [1, 4])], {})


@case
def cli(ctx):
    """--emit-onnx with -o writes both; errors leave no ONNX file; --help documents it."""
    import onnx
    folder = ctx.fresh("cli")
    mp = os.path.join(folder, "M.onnx")
    onnx.save(small_model(), mp)

    r = ctx.cnncc(["--help"])
    check("--emit-onnx" in r.stdout, "--help does not mention --emit-onnx")

    # with -o: the C files and the ONNX (in a folder that is created)
    e = os.path.join(folder, "sub", "dir", "E.onnx")
    ctx.cnncc([mp, "-o", os.path.join(folder, "out", "m.c"), "--emit-onnx=" + e])
    check(os.path.isfile(e), "E.onnx not written with -o")
    check(os.path.isfile(os.path.join(folder, "out", "m.c")), "m.c not written")
    onnx.checker.check_model(onnx.load(e), full_check=True)

    # --info with --emit-onnx: prints the summary and writes the model
    e2 = os.path.join(folder, "info.onnx")
    r = ctx.cnncc(["--info", mp, "--emit-onnx", e2])
    check(os.path.isfile(e2) and r.stdout.strip(), "--info --emit-onnx: no file or no summary")

    # no output at all is still an error
    r = ctx.cnncc([mp], expect=1)
    check("no output file" in r.stderr, "unexpected message:\n%s" % r.stderr)

    # an unwritable path: a clean error
    bad = os.path.join(folder, "M.onnx", "E.onnx")  # a file used as a folder
    r = ctx.cnncc([mp, "--emit-onnx", bad], expect=1)
    check(r.stderr.startswith("cnncc: error:"), "unexpected message:\n%s" % r.stderr)

    # a model cnncc cannot shape (symbolic dimension, no --shape): nothing written
    from onnx import helper
    sym = make_model([helper.make_node("Relu", ["x"], ["y"])], [tinfo("x", ["N", 4])],
                     [tinfo("y", ["N", 4])], {})
    sp = os.path.join(folder, "sym.onnx")
    onnx.save(sym, sp)
    e3 = os.path.join(folder, "sym_e.onnx")
    r = ctx.cnncc([sp, "--emit-onnx", e3], expect=1)
    check("symbolic dimension" in r.stderr and not os.path.exists(e3),
          "symbolic model: %s, file left: %s" % (r.stderr, os.path.exists(e3)))
    leftovers = [f for f in os.listdir(folder) if ".tmp" in f]
    check(not leftovers, "temporary files left: %s" % leftovers)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnncc")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--node", default=shutil.which("node"))
    ap.add_argument("--ort-modules", action="append", default=[],
                    help="a node_modules folder that may hold onnxruntime-node (repeatable)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if not args.cnncc or not args.cases:
        ap.error("--cnncc and at least one case are needed")
    if not args.ort_modules:
        args.ort_modules = [os.path.join(ROOT, "bench", "node_modules"),
                            os.path.join(ROOT, "build", "bench", "node_modules"),
                            os.path.join(ROOT, "build", "bench", "node", "node_modules")]
    failed = 0
    for name in args.cases:
        if name not in CASES:
            print("unknown case %s" % name)
            failed += 1
            continue
        tmp = tempfile.mkdtemp(prefix="cnncc_emit_onnx_%s_" % name)
        try:
            CASES[name](Ctx(args, tmp))
            print("PASS %s" % name)
        except Failure as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
        except Exception:
            traceback.print_exc()
            print("FAIL %s (exception)" % name)
            failed += 1
        finally:
            if os.environ.get("CNNCC_EMIT_ONNX_KEEP") == "1":
                print("kept %s" % tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
