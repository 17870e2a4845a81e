#!/usr/bin/env python3
"""cnncc front-end tests: ONNX encodings and versions, hostile inputs, the command line.

usage: /usr/bin/python3 tests/frontend/frontend_test.py --cnncc PATH [--cc CC] CASE...
       /usr/bin/python3 tests/frontend/frontend_test.py --list

Every case builds its small models with onnx.helper in a fresh temporary folder, runs cnncc
(and, for numeric cases, `CC -O1 OUT/*.c -o prog -lm` and the program), and compares with
numpy. Error cases require exit status 1, a message starting with 'cnncc: error:' that names
the problem, no crash or hang, and no file left in the -o folder.
Exit status 0 when every case given passes, 1 otherwise.

Environment: CNNCC_FRONTEND_KEEP=1 keeps the temporary folders; CNNCC_FRONTEND_SANITIZED=1
says PATH is an ASan build (the address-space limits of the oversize cases are then skipped,
and sanitizer reports fail the case).
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---------------------------------------------------------------------------------------------
# helpers

def onnx_modules():
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    return np, onnx, TensorProto, helper, numpy_helper


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class Ctx:
    def __init__(self, cnncc, cc, tmp, timeout):
        self.cnncc_path = cnncc
        self.cc = cc
        self.tmp = tmp
        self.timeout = timeout
        self.sanitized = os.environ.get("CNNCC_FRONTEND_SANITIZED") == "1"
        self.n = 0

    def fresh(self, stem):
        self.n += 1
        d = os.path.join(self.tmp, "%s%d" % (stem, self.n))
        os.makedirs(d)
        return d

    def save(self, model, folder, name="model.onnx"):
        import onnx
        p = os.path.join(folder, name)
        onnx.save(model, p)
        return p

    def run(self, argv, limit_mb=None, cwd=None):
        def limit():
            if limit_mb:
                b = limit_mb << 20
                resource.setrlimit(resource.RLIMIT_AS, (b, b))
        if self.sanitized:
            limit_mb = None
        try:
            # (no preexec_fn unless needed: it makes every spawn a slow fork)
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=self.timeout, preexec_fn=limit if limit_mb else None,
                                  cwd=cwd, universal_newlines=True, errors="replace")
        except subprocess.TimeoutExpired:
            raise Failure("timed out after %d s: %s" % (self.timeout, " ".join(argv)))

    def cnncc(self, args, **kw):
        r = self.run([self.cnncc_path] + list(args), **kw)
        check(r.returncode >= 0, "cnncc killed by signal %d: %s\n%s" %
              (-r.returncode, " ".join(args), r.stderr))
        check("Sanitizer" not in r.stderr and "runtime error:" not in r.stderr,
              "sanitizer report from cnncc %s:\n%s" % (" ".join(args), r.stderr))
        return r

    def compile(self, model_path, out_dir, extra=(), ident="m"):
        """cnncc MODEL -o OUT/ident.c --main + cc; returns the program path."""
        r = self.cnncc([model_path, "-o", os.path.join(out_dir, ident + ".c"), "--main"] +
                       list(extra))
        check(r.returncode == 0, "cnncc failed (%d) on %s %s:\n%s" %
              (r.returncode, model_path, " ".join(extra), r.stderr))
        prog = os.path.join(out_dir, "prog")
        srcs = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".c"))
        r = self.run([self.cc, "-O1", "-std=c99", "-o", prog] + srcs + ["-lm"])
        check(r.returncode == 0, "cc failed on %s:\n%s" % (out_dir, r.stderr[-4000:]))
        return prog

    def run_prog(self, prog, inputs, extra=(), expect_rc=0, cwd=None):
        """Runs prog on numpy arrays (or .npy paths); returns {sanitized name: array}."""
        import numpy as np
        d = tempfile.mkdtemp(dir=self.tmp, prefix="run")
        paths = []
        for i, a in enumerate(inputs):
            if isinstance(a, str):
                paths.append(a)
            else:
                p = os.path.join(d, "in%d.npy" % i)
                np.save(p, a)
                paths.append(p)
        res = os.path.join(d, "res")
        os.makedirs(res)
        r = self.run([prog] + paths + ["--out-dir", res] + list(extra), cwd=cwd)
        check(r.returncode == expect_rc, "%s exited %d (expected %d):\n%s%s" %
              (prog, r.returncode, expect_rc, r.stdout, r.stderr))
        outs = {f[:-4]: np.load(os.path.join(res, f)) for f in os.listdir(res)}
        return outs, r

    def build_and_run(self, model, inputs, extra=(), folder=None):
        folder = folder or self.fresh("m")
        mp = model if isinstance(model, str) else self.save(model, folder)
        prog = self.compile(mp, os.path.join(folder, "out"), extra)
        outs, _ = self.run_prog(prog, inputs)
        return outs

    def expect_error(self, model, patterns, extra=(), limit_mb=None, label=""):
        """cnncc must fail cleanly: status 1, 'cnncc: error:', each regex found, no files."""
        folder = self.fresh("e")
        mp = model if isinstance(model, str) else self.save(model, folder)
        out_dir = os.path.join(folder, "out")
        r = self.cnncc([mp, "-o", os.path.join(out_dir, "m.c"), "--main"] + list(extra),
                       limit_mb=limit_mb)
        what = "%s%s" % (label + ": " if label else "", os.path.basename(mp))
        check(r.returncode == 1, "%s: expected exit status 1, got %d\nstderr:\n%s" %
              (what, r.returncode, r.stderr))
        check(r.stderr.startswith("cnncc: error:"),
              "%s: stderr does not start with 'cnncc: error:':\n%s" % (what, r.stderr))
        for p in patterns:
            check(re.search(p, r.stderr, re.I | re.S),
                  "%s: message does not match /%s/:\n%s" % (what, p, r.stderr))
        left = os.listdir(out_dir) if os.path.isdir(out_dir) else []
        check(not left, "%s: files left in the output folder after an error: %s" % (what, left))
        return r


def close(actual, expected, what, tol=1e-4):
    import numpy as np
    expected = np.asarray(expected)
    check(actual.shape == expected.shape, "%s: shape %s, expected %s" %
          (what, actual.shape, expected.shape))
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    d = float(np.max(np.abs(a - e))) if a.size else 0.0
    ref = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
    check(d <= tol * ref, "%s: max |difference| %.6g exceeds %.3g\ngot:\n%s\nexpected:\n%s" %
          (what, d, tol * ref, actual, expected))


def exact(actual, expected, what):
    import numpy as np
    expected = np.asarray(expected)
    check(actual.shape == expected.shape and actual.dtype == expected.dtype and
          np.array_equal(actual, expected),
          "%s: got %s %s\n%s\nexpected %s %s\n%s" % (what, actual.dtype, actual.shape, actual,
                                                    expected.dtype, expected.shape, expected))


def conv2d(x, w, b=None, pads=(0, 0, 0, 0), strides=(1, 1)):
    import numpy as np
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - kh) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - kw) // strides[1] + 1
    y = np.zeros((n, m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + strides[0] * (oh - 1) + 1:strides[0],
                       j:j + strides[1] * (ow - 1) + 1:strides[1]]
            y += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
    if b is not None:
        y += b.astype(np.float64).reshape(1, m, 1, 1)
    return y


# The common small model: y = Relu(Conv(x, W, B, pads 1) + A), x [1, 3, 6, 6] → y [1, 4, 6, 6].
def conv_params():
    import numpy as np
    rng = np.random.RandomState(7)
    W = rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32)
    B = rng.uniform(-1, 1, (4,)).astype(np.float32)
    A = rng.uniform(-1, 1, (1, 4, 1, 1)).astype(np.float32)
    x = rng.uniform(-1, 1, (1, 3, 6, 6)).astype(np.float32)
    return W, B, A, x


def conv_ref(x, W, B, A):
    import numpy as np
    return np.maximum(conv2d(x, W, B, (1, 1, 1, 1)) + A, 0)


def conv_model(inits, pre_nodes=(), extra_outputs=(), opset=13, batch=1, ir_version=None,
               inputs_list_inits=False, x_name="x"):
    """Conv+Add+Relu model; `inits` are TensorProtos (W, B, A or what pre_nodes turn into them)."""
    np, onnx, TP, helper, nh = onnx_modules()
    x = helper.make_tensor_value_info(x_name, TP.FLOAT, [batch, 3, 6, 6])
    y = helper.make_tensor_value_info("y", TP.FLOAT, None)
    outs = [y] + [helper.make_tensor_value_info(n, TP.FLOAT, None) for n in extra_outputs]
    nodes = list(pre_nodes) + [
        helper.make_node("Conv", [x_name, "W", "B"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "A"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu"),
    ]
    ins = [x]
    if inputs_list_inits:
        ins += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, "convnet", ins, outs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        m.ir_version = ir_version
    return m


def valid_model_bytes():
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    m = conv_model([nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")])
    return m.SerializeToString()


# ---------------------------------------------------------------------------------------------
# 1. initializer encodings

def encoding_case(ctx, make_w, dtype_np, values):
    """W is stored by make_w(values) under the name 'W_t', cast to float: checks the conv
    output and the cast weight itself (exactly)."""
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    Wt = np.asarray(values, dtype=dtype_np).reshape(W.shape)
    t = make_w(Wt)
    t.name = "W_t"
    cast = helper.make_node("Cast", ["W_t"], ["W"], name="cast_w", to=TP.FLOAT)
    m = conv_model([t, nh.from_array(B, "B"), nh.from_array(A, "A")], pre_nodes=[cast],
                   extra_outputs=["W"])
    outs = ctx.build_and_run(m, [x])
    Wf = Wt.astype(np.float32)
    exact(outs["W"], Wf, "cast weight")
    close(outs["y"], conv_ref(x, Wf, B, A), "y")


def int32_data_tensor(dt):
    def make(a):
        np, onnx, TP, helper, nh = onnx_modules()
        t = onnx.TensorProto()
        t.data_type = dt
        t.dims.extend(a.shape)
        if a.dtype == np.float16:
            t.int32_data.extend(int(v) for v in a.view(np.uint16).ravel())
        else:
            t.int32_data.extend(int(v) for v in a.ravel())
        check(not t.raw_data, "test setup: raw_data used")
        return t
    return make


@case
def enc_raw_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    inits = [nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")]
    check(all(t.raw_data for t in inits), "test setup: from_array did not use raw_data")
    outs = ctx.build_and_run(conv_model(inits), [x])
    close(outs["y"], conv_ref(x, W, B, A), "y")


@case
def enc_float_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    inits = [helper.make_tensor(n, TP.FLOAT, a.shape, a.ravel().tolist())
             for n, a in (("W", W), ("B", B), ("A", A))]
    check(all(t.float_data and not t.raw_data for t in inits), "test setup: float_data unused")
    outs = ctx.build_and_run(conv_model(inits), [x])
    close(outs["y"], conv_ref(x, W, B, A), "y")


@case
def enc_int64_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    v = np.arange(108) % 9 - 4
    v[5] = -(1 << 36) - (5 << 13)  # high bits must survive (exactly representable in float32)
    encoding_case(ctx, lambda a: helper.make_tensor("W_t", TP.INT64, a.shape, a.ravel().tolist()),
                  np.int64, v)


@case
def enc_int32_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    encoding_case(ctx, int32_data_tensor(TP.INT32), np.int32, (np.arange(108) * 37) % 201 - 100)


@case
def enc_int8_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    encoding_case(ctx, int32_data_tensor(TP.INT8), np.int8, (np.arange(108) * 29) % 256 - 128)


@case
def enc_uint8_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    encoding_case(ctx, int32_data_tensor(TP.UINT8), np.uint8, (np.arange(108) * 29) % 256)


@case
def enc_int16_uint16_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    encoding_case(ctx, int32_data_tensor(TP.INT16), np.int16, (np.arange(108) * 997) % 60000 - 30000)
    encoding_case(ctx, int32_data_tensor(TP.UINT16), np.uint16, (np.arange(108) * 997) % 65536)


@case
def enc_bool_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    encoding_case(ctx, int32_data_tensor(TP.BOOL), np.bool_, (np.arange(108) * 7) % 3 == 1)


@case
def enc_float16_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    vals = np.linspace(-2.5, 2.5, 108).astype(np.float16)
    vals[3] = np.float16(6.1e-5)  # a subnormal-adjacent value
    encoding_case(ctx, int32_data_tensor(TP.FLOAT16), np.float16, vals)


@case
def enc_double_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    def make(a):
        t = helper.make_tensor("W_t", TP.DOUBLE, a.shape, a.ravel().tolist())
        check(t.double_data and not t.raw_data, "test setup: double_data unused")
        return t
    encoding_case(ctx, make, np.float64, np.linspace(-1.25, 1.5, 108))


@case
def enc_uint64_data(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    v = (np.arange(108) * 5) % 17
    v = v.astype(np.uint64)
    v[7] = (1 << 40) + (3 << 17)   # needs the upper 32 bits
    v[8] = (1 << 63) + (1 << 45)   # and the top bit
    def make(a):
        t = helper.make_tensor("W_t", TP.UINT64, a.shape, [int(i) for i in a.ravel()])
        check(t.uint64_data and not t.raw_data, "test setup: uint64_data unused")
        return t
    encoding_case(ctx, make, np.uint64, v)

    def make32(a):
        t = helper.make_tensor("W_t", TP.UINT32, a.shape, [int(i) for i in a.ravel()])
        check(t.uint64_data and not t.raw_data, "test setup: uint64_data unused")
        return t
    encoding_case(ctx, make32, np.uint32, ((np.arange(108) * 2654435761) % (1 << 32)))


@case
def enc_external_data(ctx):
    """onnx's own writer: all tensors in one file (offset + length keys), then one per file."""
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    for one_file in (True, False):
        m = conv_model([nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")])
        folder = ctx.fresh("ext")
        onnx.save_model(m, os.path.join(folder, "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=one_file, location="weights.data",
                        size_threshold=0)
        saved = onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False)
        offs = []
        for t in saved.graph.initializer:
            check(t.data_location == TP.EXTERNAL and not t.raw_data,
                  "test setup: %s not external" % t.name)
            offs += [int(e.value) for e in t.external_data if e.key == "offset"]
        if one_file:
            check(any(o > 0 for o in offs), "test setup: no nonzero offset")
        outs = ctx.build_and_run(os.path.join(folder, "model.onnx"), [x], folder=folder)
        close(outs["y"], conv_ref(x, W, B, A), "y (one file: %s)" % one_file)


@case
def enc_external_manual(ctx):
    """Hand-written external_data keys: an offset into a file with other bytes around the
    tensor, no length key, the file in a subfolder."""
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    folder = ctx.fresh("extm")
    os.makedirs(os.path.join(folder, "data"))
    prefix = b"junk" * 25
    with open(os.path.join(folder, "data", "w.bin"), "wb") as f:
        f.write(prefix + W.tobytes() + b"trailing bytes")
    t = onnx.TensorProto()
    t.name = "W"
    t.data_type = TP.FLOAT
    t.dims.extend(W.shape)
    t.data_location = TP.EXTERNAL
    for k, v in (("location", "data/w.bin"), ("offset", str(len(prefix)))):
        e = t.external_data.add()
        e.key = k
        e.value = v
    m = conv_model([t, nh.from_array(B, "B"), nh.from_array(A, "A")])
    outs = ctx.build_and_run(ctx.save(m, folder), [x], folder=folder)
    close(outs["y"], conv_ref(x, W, B, A), "y")
    # the model named relative to the working directory (its folder is then ".")
    r = ctx.run([ctx.cnncc_path, "model.onnx", "-o", "rel/m.c"], cwd=folder)
    check(r.returncode == 0, "relative model path:\n" + r.stderr)
    with open(os.path.join(folder, "rel", "m.c")) as a, open(os.path.join(folder, "out", "m.c")) as b:
        check(a.read().split("\n", 1)[1] == b.read().split("\n", 1)[1],
              "different code from a relative model path")


# ---------------------------------------------------------------------------------------------
# 2. IR versions, opsets, Constant nodes, symbolic shapes, --bind

IR_OPSET = {3: 7, 4: 9, 5: 10, 6: 11, 7: 13, 8: 15}


def ir_case(ctx, ir):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    inits = [nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")]
    # IR 3 lists the initializers among the graph inputs, as exporters of that time did.
    m = conv_model(inits, opset=IR_OPSET[ir], ir_version=ir, inputs_list_inits=ir <= 3)
    check(m.ir_version == ir, "test setup")
    outs = ctx.build_and_run(m, [x])
    close(outs["y"], conv_ref(x, W, B, A), "y (IR %d)" % ir)


for _ir in IR_OPSET:
    CASES["ir_version_%d" % _ir] = (lambda ir: lambda ctx: ir_case(ctx, ir))(_ir)


def opset_model(opset):
    """Conv → BatchNorm → Clip(0, 6) → MaxPool → Flatten → Gemm → Unsqueeze/Squeeze →
    Reshape [1, 2, 5] → Softmax(axis 1) [→ LayerNorm at 17], each op in its `opset` form."""
    np, onnx, TP, helper, nh = onnx_modules()
    rng = np.random.RandomState(opset)
    p = {
        "W": rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32),
        "B": rng.uniform(-1, 1, (4,)).astype(np.float32),
        "scale": rng.uniform(0.5, 2, (4,)).astype(np.float32),
        "bias": rng.uniform(-1, 1, (4,)).astype(np.float32),
        "mean": rng.uniform(-1, 1, (4,)).astype(np.float32),
        "var": rng.uniform(0.5, 2, (4,)).astype(np.float32),
        "G": rng.uniform(-1, 1, (10, 36)).astype(np.float32),
        "GB": rng.uniform(-1, 1, (10,)).astype(np.float32),
        "shape": np.array([1, 2, 5], np.int64),
        "ln_s": rng.uniform(0.5, 2, (5,)).astype(np.float32),
        "ln_b": rng.uniform(-1, 1, (5,)).astype(np.float32),
    }
    x = rng.uniform(-2, 2, (1, 3, 6, 6)).astype(np.float32)
    N = helper.make_node
    nodes = [N("Conv", ["x", "W", "B"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"],
               epsilon=1e-3)]
    if opset < 11:
        nodes.append(N("Clip", ["bn"], ["cl"], min=0.0, max=6.0))
    else:
        p["lo"] = np.array(0, np.float32)
        p["hi"] = np.array(6, np.float32)
        nodes.append(N("Clip", ["bn", "lo", "hi"], ["cl"]))
    nodes += [N("MaxPool", ["cl"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
              N("Flatten", ["mp"], ["fl"], axis=1),
              N("Gemm", ["fl", "G", "GB"], ["gm"], transB=1, alpha=0.5, beta=2.0)]
    if opset < 13:
        nodes += [N("Unsqueeze", ["gm"], ["us"], axes=[2]),
                  N("Squeeze", ["us"], ["sq"], axes=[2])]
    else:
        p["ax"] = np.array([2], np.int64)
        nodes += [N("Unsqueeze", ["gm", "ax"], ["us"]), N("Squeeze", ["us", "ax"], ["sq"])]
    nodes += [N("Reshape", ["sq", "shape"], ["rs"]), N("Softmax", ["rs"], ["sm"], axis=1)]
    last = "sm"
    if opset >= 17:
        nodes.append(N("LayerNormalization", ["sm", "ln_s", "ln_b"], ["ln"], axis=-1,
                       epsilon=1e-5))
        last = "ln"
    nodes.append(N("Identity", [last], ["y"]))
    for i, nd in enumerate(nodes):
        nd.name = "n%d_%s" % (i, nd.op_type)
    g = helper.make_graph(nodes, "opsets",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, 6, 6])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)],
                          [nh.from_array(v, k) for k, v in p.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 3 if opset < 9 else (4 if opset < 11 else (6 if opset < 13 else 8))

    # numpy reference
    c = conv2d(x, p["W"], p["B"], (1, 1, 1, 1))
    r = lambda a: a.reshape(1, 4, 1, 1)
    bn = r(p["scale"]) * (c - r(p["mean"])) / np.sqrt(r(p["var"]) + 1e-3) + r(p["bias"])
    cl = np.clip(bn, 0, 6)
    mp = cl.reshape(1, 4, 3, 2, 3, 2).max(axis=(3, 5))
    gm = 0.5 * mp.reshape(1, 36) @ p["G"].T.astype(np.float64) + 2.0 * p["GB"]
    rs = gm.reshape(1, 2, 5)
    if opset < 13:  # coerced to 2-D at axis 1: one softmax over all 10 values
        e = np.exp(rs - rs.max())
        sm = e / e.sum()
    else:
        e = np.exp(rs - rs.max(axis=1, keepdims=True))
        sm = e / e.sum(axis=1, keepdims=True)
    ref = sm
    if opset >= 17:
        mu = sm.mean(axis=-1, keepdims=True)
        var = ((sm - mu) ** 2).mean(axis=-1, keepdims=True)
        ref = (sm - mu) / np.sqrt(var + 1e-5) * p["ln_s"] + p["ln_b"]
    return m, x, ref


def opset_case(ctx, opset):
    m, x, ref = opset_model(opset)
    outs = ctx.build_and_run(m, [x])
    close(outs["y"], ref, "y (opset %d)" % opset)


for _op in (7, 9, 11, 13, 17):
    CASES["opset_%d" % _op] = (lambda op: lambda ctx: opset_case(ctx, op))(_op)


@case
def constant_nodes(ctx):
    """Constant with value (tensor), value_float, value_floats, value_int, value_ints."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    T = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    nodes = [
        N("Constant", [], ["k_tensor"], value=nh.from_array(T, "k")),
        N("Constant", [], ["k_float"], value_float=1.5),
        N("Constant", [], ["k_floats"], value_floats=[1.0, -2.0]),
        N("Constant", [], ["k_int"], value_int=3),
        N("Constant", [], ["k_ints"], value_ints=[3, 2]),
        N("Add", ["x", "k_tensor"], ["a"]),
        N("Mul", ["a", "k_float"], ["b"]),
        N("Reshape", ["b", "k_ints"], ["c"]),
        N("Add", ["c", "k_floats"], ["d"]),
        N("Cast", ["k_int"], ["k_int_f"], to=TP.FLOAT),
        N("Sub", ["d", "k_int_f"], ["y"]),
    ]
    g = helper.make_graph(nodes, "consts",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = np.linspace(-1, 1, 6).astype(np.float32).reshape(2, 3)
    ref = ((x + T) * 1.5).reshape(3, 2) + np.array([1.0, -2.0]) - 3
    outs = ctx.build_and_run(m, [x])
    close(outs["y"], ref, "y")


@case
def symbolic_batch(ctx):
    """x [N, 3, 6, 6]: an error naming N and --shape without the option; batch 2 with it."""
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    m = conv_model([nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")],
                   batch="N")
    folder = ctx.fresh("sym")
    mp = ctx.save(m, folder)
    ctx.expect_error(mp, [r"'x'", r"\bN\b", r"--shape"])
    x2 = np.concatenate([x, -x])
    outs = ctx.build_and_run(mp, [x2], extra=["--shape", "x=2x3x6x6"], folder=folder)
    close(outs["y"], conv_ref(x2, W, B, A), "y (batch 2)")
    # a --shape that does not fit is refused too
    ctx.expect_error(mp, [r"--shape", r"rank"], extra=["--shape", "x=2x3x6"])
    ctx.expect_error(mp, [r"--shape", r"no input called 'nope'"], extra=["--shape", "nope=1x3"])
    # an input with no shape at all: the message asks for --shape, and --shape does fix it
    m.graph.input[0].type.tensor_type.ClearField("shape")
    mp = ctx.save(m, folder, "noshape.onnx")
    ctx.expect_error(mp, [r"graph input 'x' has no shape", r"--shape x="])
    outs = ctx.build_and_run(mp, [x2], extra=["--shape", "x=2x3x6x6"], folder=ctx.fresh("ns"))
    close(outs["y"], conv_ref(x2, W, B, A), "y (shapeless input, batch 2)")
    # an input that is not a tensor
    m.graph.input[0].type.Clear()
    m.graph.input[0].type.sequence_type.elem_type.tensor_type.elem_type = TP.FLOAT
    ctx.expect_error(m, [r"graph input 'x' is not a tensor"])


@case
def bind_reshape_shape(ctx):
    """--bind makes Reshape's shape input a constant; the program then takes x only."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("Reshape", ["x", "s"], ["r"]), N("Relu", ["r"], ["y"])], "bind",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3, 4]),
                           helper.make_tensor_value_info("s", TP.INT64, [2])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("bind")
    mp = ctx.save(m, folder)
    # without the binding the shape is not known at compile time
    ctx.expect_error(mp, [r"Reshape", r"compile time", r"--bind"])
    sp = os.path.join(folder, "s.npy")
    np.save(sp, np.array([4, -1], np.int64))
    x = np.linspace(-1, 1, 24).astype(np.float32).reshape(2, 3, 4)
    outs = ctx.build_and_run(mp, [x], extra=["--bind", "s=" + sp], folder=folder)
    close(outs["y"], np.maximum(x.reshape(4, 6), 0), "y")
    bad = os.path.join(folder, "bad.npy")
    np.save(bad, np.array([4.0, 6.0], np.float32))
    ctx.expect_error(mp, [r"--bind s", r"float32", r"int64"], extra=["--bind", "s=" + bad])
    np.save(bad, np.array([2, 3, 4], np.int64))
    ctx.expect_error(mp, [r"--bind s", r"has shape \[3\] but the input's is \[2\]"],
                     extra=["--bind", "s=" + bad])
    ctx.expect_error(mp, [r"--bind s", r"cannot read"],
                     extra=["--bind", "s=" + os.path.join(folder, "missing.npy")])


@case
def shape_chain_folds(ctx):
    """The exporter idiom x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat ->
    Reshape folds to a constant shape; --dump=infer shows no Shape/Gather/Concat left."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    idx0 = nh.from_array(np.array(0, np.int64), "idx0")
    minus1 = nh.from_array(np.array([-1], np.int64), "minus1")
    nodes = [N("Relu", ["x"], ["r"]),
             N("Shape", ["r"], ["shp"]),
             N("Gather", ["shp", "idx0"], ["n"], axis=0),
             N("Unsqueeze", ["n", "ax0"], ["n1"]),
             N("Concat", ["n1", "minus1"], ["newshape"], axis=0),
             N("Reshape", ["r", "newshape"], ["y"])]
    ax0 = nh.from_array(np.array([0], np.int64), "ax0")
    g = helper.make_graph(nodes, "chain",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3, 4, 5])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)],
                          initializer=[idx0, minus1, ax0])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("chain")
    mp = ctx.save(m, folder)
    r = ctx.cnncc([mp, "-o", os.path.join(folder, "dump", "m.c"), "--dump=infer"])
    check(r.returncode == 0, "cnncc --dump=infer failed:\n" + r.stderr)
    body = r.stdout.split("; after infer", 1)[-1]
    for op in ("= shape(", "= gather(", "= concat(", "= unsqueeze("):
        check(op not in body, "%s survived constant folding:\n%s" % (op, body))
    x = np.linspace(-2, 2, 120).astype(np.float32).reshape(2, 3, 4, 5)
    outs = ctx.build_and_run(mp, [x], folder=folder)
    close(outs["y"], np.maximum(x, 0).reshape(2, 60), "y")


# ---------------------------------------------------------------------------------------------
# 3. bad inputs: every one refused cleanly

def write_bytes(ctx, data, name="model.onnx"):
    folder = ctx.fresh("b")
    p = os.path.join(folder, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


DECODE_ERR = r"not a valid ONNX model: protobuf decoding failed"


@case
def bad_truncated(ctx):
    data = valid_model_bytes()
    n = len(data)
    # every cut inside the graph message (the bulk of the file) breaks its length prefix
    for cut in sorted({20, 40, 100, n // 3, n // 2, 2 * n // 3, n - 60}):
        ctx.expect_error(write_bytes(ctx, data[:cut]), [DECODE_ERR], label="cut at %d" % cut)
    # cuts anywhere: a clean error each time (a few land on a field boundary and decode)
    for cut in range(1, n, max(1, n // 23)):
        ctx.expect_error(write_bytes(ctx, data[:cut]), [], label="cut at %d" % cut)


@case
def bad_corrupted(ctx):
    import random
    data = valid_model_bytes()
    rng = random.Random(1234)
    # a length prefix made huge: decoding fails
    bad = bytearray(data)
    gi = data.index(b"\x3a")  # field 7 (graph), wire type 2
    bad[gi + 1:gi + 1] = b"\xff\xff\xff\xff\x0f"
    ctx.expect_error(write_bytes(ctx, bytes(bad)), [DECODE_ERR], label="huge length")
    # random bit flips: exit 0 (the flip hit a weight) or a clean error, never a crash
    results = {0: 0, 1: 0}
    for k in range(40):
        bad = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4))):
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        p = write_bytes(ctx, bytes(bad))
        out = os.path.join(os.path.dirname(p), "out")
        r = ctx.cnncc([p, "-o", os.path.join(out, "m.c")], limit_mb=1024)
        check(r.returncode in (0, 1), "flip %d: exit status %d\n%s" % (k, r.returncode, r.stderr))
        results[r.returncode] += 1
        if r.returncode == 1:
            check(r.stderr.startswith("cnncc: error:"), "flip %d: stderr:\n%s" % (k, r.stderr))
            check(not os.listdir(out), "flip %d: files left: %s" % (k, os.listdir(out)))
    check(results[1] > 0, "no bit flip was detected at all: %s" % results)


@case
def bad_garbage(ctx):
    import random
    rng = random.Random(99)
    ctx.expect_error(write_bytes(ctx, b""), [r"no graph"], label="empty file")
    ctx.expect_error(write_bytes(ctx, b"ir_version: 8\ngraph {\n}\n"), [r"protobuf|graph"],
                     label="text")
    for k, size in enumerate((1, 7, 64, 1000, 20000)):
        data = bytes(rng.randrange(256) for _ in range(size))
        ctx.expect_error(write_bytes(ctx, data), [], label="garbage %d" % k)
    ctx.expect_error(os.path.join(ctx.tmp, "does_not_exist.onnx"), [r"cannot read"],
                     label="missing model")


def init_model(ctx, t):
    """A model using initializer t (named W) as the Conv weight."""
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    t.name = "W"
    return conv_model([t, nh.from_array(B, "B"), nh.from_array(A, "A")])


@case
def bad_raw_data_size(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W = conv_params()[0]
    t = nh.from_array(W, "W")
    t.raw_data = t.raw_data[:-5]
    ctx.expect_error(init_model(ctx, t),
                     [r"initializer 'W'", r"raw_data holds 427 bytes but shape and type need 432"])
    t = nh.from_array(W, "W")
    t.raw_data = t.raw_data + b"1234"
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"436 bytes.*432"])


@case
def bad_float_data_count(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W = conv_params()[0]
    t = onnx.TensorProto()
    t.data_type = TP.FLOAT
    t.dims.extend(W.shape)
    t.float_data.extend(W.ravel().tolist()[:100])
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"100 values.*108"])
    t.float_data.extend([0.0] * 9)
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"109 values.*108"])
    # values in the field of another type
    t.ClearField("float_data")
    t.double_data.extend([0.0] * 108)
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"0 values.*108"])
    t = onnx.TensorProto()
    t.data_type = TP.INT64
    t.dims.extend([2, 2])
    t.int64_data.extend([1, 2, 3])
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"3 values.*4"])


@case
def bad_dtype(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    t = helper.make_tensor("W", TP.STRING, [2], [b"a", b"b"])
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"STRING", r"not support"])
    t = onnx.TensorProto()
    t.data_type = TP.COMPLEX64
    t.dims.extend([2])
    t.float_data.extend([1, 2, 3, 4])
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"COMPLEX64", r"not support"])
    t = onnx.TensorProto()
    t.data_type = 77
    t.dims.extend([1])
    t.raw_data = b"\0\0\0\0"
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"data type", r"not support"])
    # a graph input of an unsupported type
    m = init_model(ctx, nh.from_array(conv_params()[0], "W"))
    m.graph.input[0].type.tensor_type.elem_type = TP.COMPLEX128
    ctx.expect_error(m, [r"graph input 'x'", r"COMPLEX128"])


@case
def bad_negative_dim(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    t = onnx.TensorProto()
    t.data_type = TP.FLOAT
    t.dims.extend([4, -3, 3, 3])
    ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"negative dimension \(-3\)"])
    m = init_model(ctx, nh.from_array(conv_params()[0], "W"))
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_value = -6
    ctx.expect_error(m, [r"graph input 'x'", r"negative dimension \(-6\)"])
    m = init_model(ctx, nh.from_array(conv_params()[0], "W"))
    ctx.expect_error(m, [r"--shape"], extra=["--shape", "x=1x-3x6x6"])


@case
def bad_huge_dims(ctx):
    """Element counts past 2^63 and a 2^40-element tensor: refused before any allocation."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    for dims, label in (([1 << 32, 1 << 32, 2], "2^65 elements"),
                        ([1 << 62, 4], "2^64 elements"),
                        ([1 << 20, 1 << 20], "2^40 elements"),
                        ([1 << 33, 3, 0], "a zero dim after an overflow-sized one")):
        t = onnx.TensorProto()
        t.data_type = TP.FLOAT
        t.dims.extend(dims)
        t.raw_data = b""
        if 0 in dims:
            # zero elements are fine for the loader; the conv then rejects the weight shape
            ctx.expect_error(init_model(ctx, t), [r"conv"], limit_mb=200, label=label)
            continue
        ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"too large"], limit_mb=200,
                         label=label)
        t.ClearField("raw_data")
        t.data_location = TP.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", "w.bin"
        ctx.expect_error(init_model(ctx, t), [r"initializer 'W'", r"too large"], limit_mb=200,
                         label=label + " (external)")
    # a graph input of 2^40 elements, and one whose element count overflows int64
    for dims in ([1, 3, 1 << 20, 1 << 20], [1 << 31, 1 << 31, 1 << 31, 4]):
        m = init_model(ctx, nh.from_array(conv_params()[0], "W"))
        shp = m.graph.input[0].type.tensor_type.shape
        for i, v in enumerate(dims):
            shp.dim[i].dim_value = v
        ctx.expect_error(m, [r"'x'", r"too large"], limit_mb=200, label="input %s" % dims)
    m = init_model(ctx, nh.from_array(conv_params()[0], "W"))
    for dim, sym in zip(m.graph.input[0].type.tensor_type.shape.dim, "NCHW"):
        dim.dim_param = sym
    ctx.expect_error(m, [r"'x'", r"too large"], extra=["--shape", "x=1x3x1048576x1048576"],
                     limit_mb=200, label="--shape")
    # a Constant node attribute tensor and a computed tensor of 2^40 elements
    t = onnx.TensorProto()
    t.data_type = TP.FLOAT
    t.dims.extend([1 << 20, 1 << 20])
    g = helper.make_graph([N("Constant", [], ["k"], value=t, name="big_const"),
                           N("Add", ["x", "k"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"big_const", r"too large"], limit_mb=200, label="Constant")
    g = helper.make_graph([N("ConstantOfShape", ["s"], ["k"], name="cos"),
                           N("Add", ["x", "k"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)],
                          [nh.from_array(np.array([1 << 20, 1 << 20], np.int64), "s")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"cos", r"too large"], limit_mb=200, label="ConstantOfShape")


@case
def bad_cycle(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("Add", ["x", "b"], ["a"], name="first"),
                           N("Relu", ["a"], ["b"], name="second")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("b", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"node '(first|second)'", r"cycle"])
    # a node feeding itself
    g = helper.make_graph([N("Relu", ["a"], ["a"], name="selfish")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("a", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"node 'selfish'", r"cycle"])


@case
def bad_dangling_input(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    m = conv_model([nh.from_array(W, "W"), nh.from_array(A, "A")])  # B is missing
    ctx.expect_error(m, [r"node 'conv' \(Conv\)", r"input 'B' is not a graph input, an "
                         r"initializer or the output of any node"])


@case
def bad_missing_output(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    m = conv_model([nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")])
    m.graph.output.add().name = "zz"
    ctx.expect_error(m, [r"graph output 'zz' is not produced by any node"])
    del m.graph.output[:]
    ctx.expect_error(m, [r"no outputs"])


@case
def bad_duplicate_output(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("Relu", ["x"], ["y"], name="r1"), N("Neg", ["x"], ["y"], name="r2")],
                          "g", [helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"node 'r2' \(Neg\)", r"output 'y' is already defined"])
    # an output named like a graph input, or like an initializer
    g = helper.make_graph([N("Relu", ["x"], ["x"], name="r3")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("x", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"node 'r3'", r"output 'x' is already defined"])
    W, B, A, x = conv_params()
    m = conv_model([nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A"),
                    nh.from_array(A, "A")])
    ctx.expect_error(m, [r"initializer 'A' is defined twice"])


@case
def bad_unknown_ops(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("FancyOp", ["x"], ["a"], name="fancy1"),
                           N("Relu", ["a"], ["b"], name="ok"),
                           N("Frobnicate", ["b"], ["c"], name="frob"),
                           N("FancyOp", ["c"], ["y"], name="fancy2")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    r = ctx.expect_error(m, [r"3 nodes", r"not support", r"FancyOp \(node 'fancy1'\)",
                             r"Frobnicate \(node 'frob'\)", r"FancyOp \(node 'fancy2'\)"])
    check(r.stderr.count("error:") == 1, "expected one error listing all:\n" + r.stderr)
    check("'ok'" not in r.stderr, "a supported node is listed:\n" + r.stderr)


@case
def bad_opset(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    inits = [nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")]
    ctx.expect_error(conv_model(inits, opset=18),
                     [r"operator set version 18 is not supported", r"17"])
    m = conv_model(inits)
    del m.opset_import[:]
    m.opset_import.extend([helper.make_opsetid("com.example", 1)])
    ctx.expect_error(m, [r"imports no version of the default ONNX operator set"])
    m = conv_model(inits)
    m.ir_version = 9
    ctx.expect_error(m, [r"IR version 9 is not supported"])


@case
def bad_domain(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("Relu", ["x"], ["a"], name="r", domain="com.example"),
                           N("FusedConv", ["a"], ["y"], name="fc", domain="com.microsoft")],
                          "g", [helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                            helper.make_opsetid("com.example", 1),
                                            helper.make_opsetid("com.microsoft", 1)])
    ctx.expect_error(m, [r"2 nodes", r"com\.example\.Relu \(node 'r'\)",
                         r"com\.microsoft\.FusedConv \(node 'fc'\)"])


@case
def bad_attribute_type(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    inits = [nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")]
    m = conv_model(inits)
    conv = m.graph.node[0]
    del conv.attribute[:]
    conv.attribute.extend([helper.make_attribute("kernel_shape", 3.0),
                           helper.make_attribute("pads", [1, 1, 1, 1])])
    ctx.expect_error(m, [r"node 'conv' \(Conv\)", r"attribute 'kernel_shape'", r"ints",
                         r"float"])
    m = conv_model(inits)
    m.graph.node[0].attribute.extend([helper.make_attribute("group", "two")])
    ctx.expect_error(m, [r"node 'conv' \(Conv\)", r"attribute 'group'", r"int\b", r"string"])
    m = conv_model(inits)
    m.graph.node[0].attribute.extend([helper.make_attribute("strides", [1.0, 1.0])])
    ctx.expect_error(m, [r"node 'conv' \(Conv\)", r"attribute 'strides'", r"ints", r"floats"])


@case
def bad_kernel_shape(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    inits = [nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")]
    m = conv_model(inits)
    m.graph.node[0].attribute[0].ints[:] = [5, 5]
    ctx.expect_error(m, [r"node 'conv' \(Conv\)",
                         r"kernel_shape \[5, 5\] does not match weight shape \[4, 3, 3, 3\]"])
    m.graph.node[0].attribute[0].ints[:] = [3]
    ctx.expect_error(m, [r"node 'conv' \(Conv\)",
                         r"kernel_shape \[3\] does not match weight shape \[4, 3, 3, 3\]"])


def external_model(ctx, location, extra_keys=()):
    np, onnx, TP, helper, nh = onnx_modules()
    W = conv_params()[0]
    t = onnx.TensorProto()
    t.data_type = TP.FLOAT
    t.dims.extend(W.shape)
    t.data_location = TP.EXTERNAL
    for k, v in (("location", location),) + tuple(extra_keys):
        e = t.external_data.add()
        e.key, e.value = k, v
    return init_model(ctx, t)


@case
def bad_external_path(ctx):
    # a real file two levels up: refused because of where it is, not because it is missing
    with open(os.path.join(ctx.tmp, "secret.bin"), "wb") as f:
        f.write(b"\0" * 4096)
    for loc in ("../../etc/passwd", "../secret.bin", "/etc/passwd", "sub/../../secret.bin",
                "C:\\weights.bin", "\\\\server\\share\\w.bin"):
        ctx.expect_error(external_model(ctx, loc),
                         [r"initializer 'W'", re.escape(loc),
                          r"must be a plain relative path inside the model's folder"],
                         label=loc)
    # a symbolic link inside the folder that leads out of it is refused too ...
    np, onnx, TP, helper, nh = onnx_modules()
    W, B, A, x = conv_params()
    folder = ctx.fresh("sl")
    with open(os.path.join(ctx.tmp, "outside.bin"), "wb") as f:
        f.write(W.tobytes())
    os.symlink(os.path.join(ctx.tmp, "outside.bin"), os.path.join(folder, "link.bin"))
    os.makedirs(os.path.join(folder, "sub"))
    os.symlink("../../outside.bin", os.path.join(folder, "sub", "rel.bin"))
    for loc in ("link.bin", "sub/rel.bin"):
        ctx.expect_error(ctx.save(external_model(ctx, loc), folder),
                         [r"initializer 'W'", r"'%s' leads out of the model's folder" % loc],
                         label=loc)
    # ... but one that stays inside is followed
    with open(os.path.join(folder, "real.bin"), "wb") as f:
        f.write(W.tobytes())
    os.symlink("../real.bin", os.path.join(folder, "sub", "inside.bin"))
    outs = ctx.build_and_run(ctx.save(external_model(ctx, "sub/inside.bin"), folder), [x],
                             folder=folder)
    close(outs["y"], conv_ref(x, W, B, A), "y (through a link inside the folder)")


@case
def bad_external_file(ctx):
    W = conv_params()[0]
    m = external_model(ctx, "nope.bin")
    ctx.expect_error(m, [r"initializer 'W'", r"cannot open external data file", r"nope\.bin"])
    # shorter than offset + size, wrong length key, bad offset, no location
    folder = ctx.fresh("xf")
    with open(os.path.join(folder, "w.bin"), "wb") as f:
        f.write(W.tobytes()[:200])
    ctx.expect_error(ctx.save(external_model(ctx, "w.bin"), folder),
                     [r"initializer 'W'", r"shorter than offset 0 \+ 432 bytes"])
    with open(os.path.join(folder, "w.bin"), "wb") as f:
        f.write(W.tobytes())
    ctx.expect_error(ctx.save(external_model(ctx, "w.bin", (("offset", "8"),)), folder),
                     [r"shorter than offset 8 \+ 432"])
    ctx.expect_error(ctx.save(external_model(ctx, "w.bin", (("length", "400"),)), folder),
                     [r"length 400 does not match the tensor's 432 bytes"])
    ctx.expect_error(ctx.save(external_model(ctx, "w.bin", (("offset", "-4"),)), folder),
                     [r"bad external data offset '-4'"])
    ctx.expect_error(ctx.save(external_model(ctx, "w.bin", (("offset", "1" * 30),)), folder),
                     [r"bad external data offset"])
    ctx.expect_error(ctx.save(external_model(ctx, "w.bin", (("offset", "4611686018427387904"),)),
                              folder), [r"initializer 'W'", r"external data"])
    m = external_model(ctx, "w.bin")
    m.graph.initializer[0].external_data[0].key = "place"
    ctx.expect_error(ctx.save(m, folder), [r"external data without a location"])
    # a folder, not a file
    os.makedirs(os.path.join(folder, "adir"))
    ctx.expect_error(ctx.save(external_model(ctx, "adir"), folder), [r"initializer 'W'",
                                                                     r"adir"])


@case
def empty_fields(ctx):
    """Empty tensors and lists (protobuf leaves their fields unset): an empty int64 shape
    initializer without any data field, an empty raw_data, an empty ints attribute."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    s = onnx.TensorProto()
    s.name = "s"
    s.data_type = TP.INT64
    s.dims.extend([0])
    e = onnx.TensorProto()
    e.name = "e"
    e.data_type = TP.FLOAT
    e.dims.extend([2, 0])
    e.raw_data = b""
    g = helper.make_graph([N("Reshape", ["x", "s"], ["r"]), N("Neg", ["r"], ["y"]),
                           N("Concat", ["e", "e"], ["z"], axis=0)], "empty",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1, 1])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None),
                           helper.make_tensor_value_info("z", TP.FLOAT, None)], [s, e])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    outs = ctx.build_and_run(m, [np.array([[2.5]], np.float32)])
    exact(outs["y"], np.array(-2.5, np.float32), "y")
    exact(outs["z"], np.zeros((4, 0), np.float32), "z")
    W, B, A, x = conv_params()
    m = conv_model([nh.from_array(W, "W"), nh.from_array(B, "B"), nh.from_array(A, "A")])
    m.graph.node[0].attribute[1].ClearField("ints")  # pads = []
    ctx.expect_error(m, [r"node 'conv' \(Conv\)", r"attribute 'pads' has 0 values; 4 expected"])


@case
def hostile_names(ctx):
    """Names are untrusted text: comment ends, newlines, quotes, backslashes and trigraphs in
    node, value and graph names must not break (or inject code into) the generated C, which
    must build warning-free as strict C99."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    evil = 'a*/ int evil; /* "\\\n\t??/ \\'
    x_name, r_name, y_name = "x" + evil, "r" + evil, "y" + evil
    g = helper.make_graph([N("Relu", [x_name], [r_name], name="n" + evil),
                           N("Flatten", [r_name], ["v" + evil], name="*/", axis=0),
                           N("Neg", ["v" + evil], [y_name], name="/*")], "g*/\n" + evil,
                          [helper.make_tensor_value_info(x_name, TP.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info(y_name, TP.FLOAT, None),
                           helper.make_tensor_value_info(r_name, TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("names")
    mp = ctx.save(m, folder)
    out = os.path.join(folder, "out")
    r = ctx.cnncc([mp, "-o", os.path.join(out, "m.c"), "--main", "--weights",
                   os.path.join(folder, 'w"x??\\.bin')])
    check(r.returncode == 0, "cnncc failed:\n" + r.stderr)
    prog = os.path.join(folder, "prog")
    srcs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".c"))
    r = ctx.run([ctx.cc, "-O1", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                 "-o", prog] + srcs + ["-lm"])
    check(r.returncode == 0, "the generated C does not build cleanly:\n" + r.stderr[-3000:])
    x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    outs, _ = ctx.run_prog(prog, [x], cwd=folder)  # the default weights file name: w"x??\\.bin
    check(sorted(outs) == sorted([sanitize(y_name), sanitize(r_name)]),
          "output files: %s" % sorted(outs))
    close(outs[sanitize(y_name)], -np.maximum(x, 0).reshape(1, 6), "y")
    close(outs[sanitize(r_name)], np.maximum(x, 0), "r")

    # names that differ only in punctuation (one C identifier each in NAME_infer), an output
    # listed twice
    names = ["x.1", "x:1", "x_1_1"]
    g = helper.make_graph([N("Sum", names, ["y"])], "same",
                          [helper.make_tensor_value_info(n, TP.FLOAT, [2]) for n in names],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)] * 2)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("same")
    mp = ctx.save(m, folder)
    out = os.path.join(folder, "out")
    r = ctx.cnncc([mp, "-o", os.path.join(out, "m.c"), "--main"])
    check(r.returncode == 0, "cnncc failed:\n" + r.stderr)
    srcs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".c"))
    r = ctx.run([ctx.cc, "-O1", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                 "-o", prog] + srcs + ["-lm"])
    check(r.returncode == 0, "the generated C does not build cleanly:\n" + r.stderr[-3000:])
    ins = [np.array([1, 2], np.float32), np.array([10, 20], np.float32),
           np.array([100, 200], np.float32)]
    outs, _ = ctx.run_prog(prog, ins)
    close(outs["y"], ins[0] + ins[1] + ins[2], "y")


# ---------------------------------------------------------------------------------------------
# 4. the command line and the generated driver

@case
def cli_help_version(ctx):
    r = ctx.cnncc(["--help"])
    check(r.returncode == 0 and r.stdout.startswith("usage: cnncc"), "--help:\n%s%s" %
          (r.stdout, r.stderr))
    for opt in ("--main", "--weights", "--shape", "--bind", "--max-arena", "--dump", "--info"):
        check(opt in r.stdout, "--help does not mention %s" % opt)
    r = ctx.cnncc(["--version"])
    check(r.returncode == 0 and re.match(r"cnncc \d+\.\d+\.\d+\n$", r.stdout),
          "--version:\n%s%s" % (r.stdout, r.stderr))
    r = ctx.cnncc(["--frobnicate", "m.onnx"])
    check(r.returncode == 1 and r.stderr.startswith("cnncc: error:") and
          "unknown option '--frobnicate'" in r.stderr, "unknown option:\n%s" % r.stderr)
    r = ctx.cnncc([])
    check(r.returncode == 1 and r.stderr.startswith("cnncc: error:") and
          "no model given" in r.stderr, "no arguments:\n%s" % r.stderr)
    mp = write_bytes(ctx, valid_model_bytes())
    for args, pat in (([mp], r"no output file"), ([mp, "-o"], r"-o needs a file name"),
                      ([mp, "-o", "x.txt"], r"must end in \.c"),
                      ([mp, "--max-arena", "lots"], r"--max-arena takes a positive"),
                      ([mp, "--shape", "x"], r"--shape takes NAME=DIMS"),
                      ([mp, "--shape", "x=1xx3"], r"bad dimensions"),
                      ([mp, "--bind", "x"], r"--bind takes NAME=FILE\.npy"),
                      ([mp, "--target", "z80"], r"unknown target 'z80'"),
                      ([mp, mp], r"more than one model")):
        r = ctx.cnncc(args)
        check(r.returncode == 1 and r.stderr.startswith("cnncc: error:") and
              re.search(pat, r.stderr), "%s:\n%s" % (args, r.stderr))


def two_conv_model():
    """x [1, 3, 8, 8] → Conv 3x3 (8 ch, pads 1) → Relu → Conv 1x1 (4 ch) → y [1, 4, 8, 8]."""
    np, onnx, TP, helper, nh = onnx_modules()
    rng = np.random.RandomState(3)
    p = {"W1": rng.uniform(-1, 1, (8, 3, 3, 3)).astype(np.float32),
         "B1": rng.uniform(-1, 1, (8,)).astype(np.float32),
         "W2": rng.uniform(-1, 1, (4, 8, 1, 1)).astype(np.float32),
         "B2": rng.uniform(-1, 1, (4,)).astype(np.float32)}
    N = helper.make_node
    g = helper.make_graph([N("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
                           N("Relu", ["c1"], ["r1"], name="relu1"),
                           N("Conv", ["r1", "W2", "B2"], ["y"], name="conv2")], "twoconv",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [1, 4, 8, 8])],
                          [nh.from_array(v, k) for k, v in p.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    ref = conv2d(np.maximum(conv2d(x, p["W1"], p["B1"], (1, 1, 1, 1)), 0), p["W2"], p["B2"])
    return m, x, ref, p


@case
def cli_info(ctx):
    m, x, ref, p = two_conv_model()
    folder = ctx.fresh("info")
    mp = ctx.save(m, folder)
    r = ctx.cnncc(["--info", mp])
    check(r.returncode == 0, "--info failed:\n%s" % r.stderr)
    macs = 8 * 8 * 8 * (3 * 3 * 3) + 4 * 8 * 8 * 8
    params = sum(v.size for v in p.values())
    check(re.search(r"^operators:.*conv", r.stdout, re.M), "no operators line:\n" + r.stdout)
    mo = re.search(r"^parameters: (\d+)$", r.stdout, re.M)
    check(mo and int(mo.group(1)) == params, "parameters: want %d:\n%s" % (params, r.stdout))
    mo = re.search(r"^MACs: (\d+)", r.stdout, re.M)
    check(mo and int(mo.group(1)) == macs, "MACs: want %d:\n%s" % (macs, r.stdout))
    check(re.search(r"conv1 .* %d\n" % (8 * 64 * 27), r.stdout), "conv1 MACs:\n" + r.stdout)
    mo = re.search(r"^arena bytes: (\d+)$", r.stdout, re.M)
    # the 8-channel intermediate (2 KiB) must live in the arena
    check(mo and int(mo.group(1)) >= 8 * 64 * 4, "arena bytes:\n" + r.stdout)
    check(not os.path.exists(os.path.join(folder, "out")), "--info wrote files")


@case
def cli_dump(ctx):
    m, x, ref, p = two_conv_model()
    folder = ctx.fresh("dump")
    mp = ctx.save(m, folder)
    out = os.path.join(folder, "out", "m.c")
    r = ctx.cnncc([mp, "-o", out, "--dump=infer"])
    check(r.returncode == 0, "--dump=infer failed:\n%s" % r.stderr)
    check(r.stdout.startswith("; after infer\n"), "dump header:\n" + r.stdout)
    for pat in (r"graph twoconv", r"conv", r"relu", r"%c1:f32\[1, 8, 8, 8\]", r"%W1:f32\[8, 3, 3, 3\]"):
        check(re.search(pat, r.stdout), "dump lacks /%s/:\n%s" % (pat, r.stdout))
    check(r.stdout.count("; after") == 1, "more than one pass dumped:\n" + r.stdout)
    r = ctx.cnncc([mp, "-o", out, "--dump=all"])
    check(r.returncode == 0, "--dump=all failed:\n%s" % r.stderr)
    for pas in ("load", "infer", "bnfold", "fuse", "memplan"):
        check("; after %s\n" % pas in r.stdout, "--dump=all lacks %s" % pas)


@case
def cli_weights_file(ctx):
    """--weights FILE.bin: the blob is written, and the driver given --weights FILE.bin
    computes exactly what the embedded-weights build computes."""
    m, x, ref, p = two_conv_model()
    folder = ctx.fresh("wf")
    mp = ctx.save(m, folder)
    emb = ctx.compile(mp, os.path.join(folder, "emb"))
    outs_emb, _ = ctx.run_prog(emb, [x])
    close(outs_emb["y"], ref, "y (embedded)")
    blob = os.path.join(folder, "blob", "w.bin")
    os.makedirs(os.path.dirname(blob))
    ext = ctx.compile(mp, os.path.join(folder, "ext"), extra=["--weights", blob])
    check(os.path.getsize(blob) >= 4 * sum(v.size for v in p.values()),
          "weights blob too small: %d bytes" % os.path.getsize(blob))
    for f in os.listdir(os.path.join(folder, "ext")):
        if f.endswith(".c"):
            with open(os.path.join(folder, "ext", f)) as fh:
                check(not re.search(r"\bm_weights\b", fh.read()),
                      "%s embeds the weights" % f)
    outs_ext, _ = ctx.run_prog(ext, [x], extra=["--weights", blob])
    exact(outs_ext["y"], outs_emb["y"], "y (--weights vs embedded)")
    # a weights file of the wrong size is refused
    short = os.path.join(folder, "short.bin")
    with open(short, "wb") as f:
        f.write(b"\0" * 16)
    _, r = ctx.run_prog(ext, [x], extra=["--weights", short], expect_rc=1)
    check(re.search(r"short\.bin: .*(wrong size|not this model's weights)", r.stderr),
          "short weights file:\n" + r.stderr)
    _, r = ctx.run_prog(ext, [x], extra=["--weights", os.path.join(folder, "none.bin")],
                        expect_rc=1)
    check("cannot read the weights file" in r.stderr, "missing weights file:\n" + r.stderr)
    # a weights file that cannot be written: an error, and nothing in the -o folder
    ctx.expect_error(mp, [r"cannot write the weights file"],
                     extra=["--weights", os.path.join(folder, "no", "such", "dir", "w.bin")])


@case
def cli_max_arena(ctx):
    m, x, ref, p = two_conv_model()
    folder = ctx.fresh("ma")
    mp = ctx.save(m, folder)
    blob = os.path.join(folder, "out", "w.bin")
    ctx.expect_error(mp, [r"memory plan needs \d+ bytes of arena, more than --max-arena 1\b"],
                     extra=["--max-arena", "1", "--weights", blob])
    r = ctx.cnncc(["--info", mp])
    arena = int(re.search(r"^arena bytes: (\d+)$", r.stdout, re.M).group(1))
    ctx.expect_error(mp, [r"needs %d bytes" % arena], extra=["--max-arena", str(arena - 1)])
    out = os.path.join(folder, "ok", "m.c")
    r = ctx.cnncc([mp, "-o", out, "--max-arena", str(arena)])
    check(r.returncode == 0, "--max-arena %d (exactly enough) failed:\n%s" % (arena, r.stderr))


@case
def cli_driver_errors(ctx):
    """The generated program refuses bad inputs with exit 1 and a clear message."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("Cast", ["idx"], ["f"], to=TP.FLOAT), N("Add", ["x", "f"], ["y"])],
                          "drv", [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3]),
                                  helper.make_tensor_value_info("idx", TP.INT64, [3])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("drv")
    prog = ctx.compile(ctx.save(m, folder), os.path.join(folder, "out"))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    idx = np.array([10, -20, 1 << 40], np.int64)
    outs, _ = ctx.run_prog(prog, [x, idx])
    close(outs["y"], x + idx.astype(np.float32), "y")
    # int32 data feeds an int64 input (integer conversions are accepted)
    outs, _ = ctx.run_prog(prog, [x, np.array([1, 2, 3], np.int32)])
    close(outs["y"], x + np.array([1, 2, 3]), "y (int32 data)")

    def bad(inputs, pats, label):
        d = ctx.fresh("drvrun")
        paths = []
        for i, a in enumerate(inputs):
            if isinstance(a, (bytes, bytearray)):
                p = os.path.join(d, "in%d.npy" % i)
                with open(p, "wb") as f:
                    f.write(a)
            elif isinstance(a, str):
                p = a
            else:
                p = os.path.join(d, "in%d.npy" % i)
                np.save(p, a)
            paths.append(p)
        res = os.path.join(d, "res")
        os.makedirs(res)
        r = ctx.run([prog] + paths + ["--out-dir", res])
        check(r.returncode == 1, "%s: exit status %d, expected 1\n%s" %
              (label, r.returncode, r.stderr))
        check(r.stderr.startswith("error:"), "%s: stderr:\n%s" % (label, r.stderr))
        for pat in pats:
            check(re.search(pat, r.stderr), "%s: no /%s/ in:\n%s" % (label, pat, r.stderr))
        check(not os.listdir(res), "%s: outputs written: %s" % (label, os.listdir(res)))

    bad([x.reshape(3, 2), idx], [r"shape \(3, 2\) does not match input 'x' of shape \(2, 3\)"],
        "wrong shape")
    bad([x, idx.astype(np.float32)], [r"floating-point data cannot feed input 'idx'"],
        "float data for an int64 input")
    d = ctx.fresh("trunc")
    p = os.path.join(d, "x.npy")
    np.save(p, x)
    with open(p, "rb") as f:
        data = f.read()
    for cut in (0, 5, 40, len(data) - 4):
        bad([data[:cut], idx], [r"in0\.npy: "], "truncated .npy (%d bytes)" % cut)
    bad([b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz'}  " + b"\0" * 64, idx], [r"in0\.npy: "],
        "bad header")
    bad([os.path.join(d, "missing.npy"), idx], [r"missing\.npy: cannot read"], "missing file")
    bad([x], [r"takes 2 inputs, 1 given"], "too few inputs")


@case
def cli_deterministic(ctx):
    """The same model compiled twice (and in two folders) gives byte-identical files."""
    m, x, ref, p = two_conv_model()
    folder = ctx.fresh("det")
    mp = ctx.save(m, folder)
    trees = []
    for k in range(2):
        out = os.path.join(folder, "o%d" % k, "m.c")
        extra = ["--weights", os.path.join(folder, "w%d.bin" % k)]
        r = ctx.cnncc([mp, "-o", out, "--main"] + extra)
        check(r.returncode == 0, "cnncc failed:\n%s" % r.stderr)
        files = {}
        for f in sorted(os.listdir(os.path.dirname(out))):
            with open(os.path.join(os.path.dirname(out), f), "rb") as fh:
                files[f] = fh.read()
        trees.append(files)
    check(sorted(trees[0]) == sorted(trees[1]), "file lists differ: %s vs %s" %
          (sorted(trees[0]), sorted(trees[1])))
    for f in trees[0]:
        if f not in ("m_main.c",):  # the driver names its default weights file
            check(trees[0][f] == trees[1][f], "%s differs between two compilations" % f)
    with open(os.path.join(folder, "w0.bin"), "rb") as a, open(os.path.join(folder, "w1.bin"),
                                                               "rb") as b:
        check(a.read() == b.read(), "weights blobs differ")
    r1 = ctx.cnncc([mp, "-o", os.path.join(folder, "e1", "m.c"), "--main"])
    r2 = ctx.cnncc([mp, "-o", os.path.join(folder, "e2", "m.c"), "--main"])
    check(r1.returncode == 0 and r2.returncode == 0, "cnncc failed")
    for f in os.listdir(os.path.join(folder, "e1")):
        with open(os.path.join(folder, "e1", f), "rb") as a, \
                open(os.path.join(folder, "e2", f), "rb") as b:
            check(a.read() == b.read(), "%s differs between two compilations" % f)


@case
def sizes_past_int32(ctx):
    """Tensors of more than 2^31 elements compile to 64-bit sizes and offsets: the generated code
    (runtime headers included) builds warning-free with -Wconversion, and the header states the
    exact sizes. (Running it would need 12 GiB; the sizes are what int indexing would break.)"""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    n = 3 << 30  # 3 * 2^30 float32 elements: past INT32_MAX elements and past 2^33 bytes
    g = helper.make_graph([N("Relu", ["x"], ["a"], name="relu"), N("Neg", ["a"], ["y"], name="neg")],
                          "g", [helper.make_tensor_value_info("x", TP.FLOAT, [1, n])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("big")
    out = os.path.join(folder, "out")
    r = ctx.cnncc([ctx.save(m, folder), "-o", os.path.join(out, "m.c"), "--main"])
    check(r.returncode == 0, "cnncc failed:\n%s" % r.stderr)
    with open(os.path.join(out, "m.h")) as f:
        hdr = f.read()
    check("#define M_ARENA_BYTES %d\n" % (4 * n) in hdr, "arena size is not 4*%d:\n%s" % (n, hdr))
    check("#define M_INPUT0_SIZE %d " % n in hdr, "input size is not %d" % n)
    for src in ("m.c", "m_main.c"):
        r = ctx.run([ctx.cc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                     "-Wconversion", "-Wno-sign-conversion", "-c", os.path.join(out, src),
                     "-o", os.path.join(folder, src + ".o")])
        check(r.returncode == 0, "%s with sizes past 2^31 does not build cleanly with "
              "-Wconversion:\n%s" % (src, r.stderr[-4000:]))


@case
def bad_duplicate_input(ctx):
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    g = helper.make_graph([N("Add", ["x", "x"], ["y"], name="add")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [4]),
                           helper.make_tensor_value_info("x", TP.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ctx.expect_error(m, [r"graph input 'x' is listed twice"])


@case
def bounded_work(ctx):
    """Small models that ask for a lot of work or memory at compile time: each compile ends within
    a few seconds and 1 GiB of address space, either compiled (the work left to run time) or with
    one clear error and no files; never a hang, never an out-of-memory kill."""
    np, onnx, TP, helper, nh = onnx_modules()
    N = helper.make_node
    i64 = lambda name, v: nh.from_array(np.array(v, np.int64), name)
    f32 = lambda name, v: nh.from_array(np.array(v, np.float32), name)
    x = helper.make_tensor_value_info("x", TP.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TP.FLOAT, None)
    models = {
        # constants that would fold into 2^33..2^34 elements
        "ConstantOfShape 2^33": ([N("ConstantOfShape", ["s"], ["k"]), N("Add", ["x", "k"], ["y"])],
                                 [i64("s", [1 << 17, 1 << 16])]),
        "Expand 2^34": ([N("Expand", ["c", "s"], ["k"]), N("Add", ["x", "k"], ["y"])],
                        [f32("c", [1.0]), i64("s", [1 << 17, 1 << 17])]),
        "Tile 2^32": ([N("Tile", ["c", "r"], ["k"]), N("Add", ["x", "k"], ["y"])],
                      [f32("c", [[1.0, 2.0]]), i64("r", [1 << 16, 1 << 15])]),
        "Resize x2^16": ([N("Resize", ["c", "", "sc"], ["k"], mode="nearest"),
                          N("Add", ["x", "k"], ["y"])],
                         [f32("c", [[[[1.0, 2.0], [3.0, 4.0]]]]),
                          f32("sc", [1.0, 1.0, 65536.0, 65536.0])]),
        # a long chain of folds over a mid-sized constant (2^20 elements x 200 nodes)
        "fold chain": ([N("Neg", ["c" if i == 0 else "t%d" % (i - 1)], ["t%d" % i])
                        for i in range(200)] + [N("ReduceSum", ["t199"], ["r"], keepdims=0),
                                                N("Add", ["x", "r"], ["y"])],
                       [f32("c", np.ones((1 << 20,), np.float32))]),
        # softmax over an empty axis of 2^34 rows (folding it once walked every row)
        "empty softmax": ([N("ConstantOfShape", ["s"], ["k"]), N("Softmax", ["k"], ["sm"], axis=-1),
                           N("ReduceSum", ["sm"], ["r"], keepdims=0), N("Add", ["x", "r"], ["y"])],
                          [i64("s", [1 << 17, 1 << 17, 0])]),
    }
    for label, (nodes, inits) in models.items():
        g = helper.make_graph(nodes, "g", [x], [y], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        folder = ctx.fresh("bw")
        out_dir = os.path.join(folder, "out")
        t0 = time.time()
        r = ctx.cnncc([ctx.save(m, folder), "-o", os.path.join(out_dir, "m.c")], limit_mb=1024)
        dt = time.time() - t0
        check(r.returncode in (0, 1), "%s: exit status %d\n%s" % (label, r.returncode, r.stderr))
        check(dt < 30, "%s: took %.1f s" % (label, dt))
        if r.returncode == 1:
            check(r.stderr.startswith("cnncc: error:") and r.stderr.count("error:") >= 1,
                  "%s: no clear diagnostic:\n%s" % (label, r.stderr))
            left = os.listdir(out_dir) if os.path.isdir(out_dir) else []
            check(not left, "%s: files left after an error: %s" % (label, left))
        print("  %s: exit %d in %.2f s%s" % (label, r.returncode, dt,
                                             (": " + r.stderr.strip().splitlines()[0][:120])
                                             if r.returncode else ""))


@case
def deterministic_threads(ctx):
    """Results are bit-identical from run to run and for 1, 2, 3 and 4 threads: the quickstart CNN
    compiled for 4 threads, built with the AVX2 kernels where the host has them (the threaded
    packed GEMM and depthwise paths), the driver run on two samples with --threads 1..4 twice."""
    here = os.path.dirname(os.path.abspath(__file__))
    quick = os.path.join(here, "..", "..", "examples", "quickstart")
    samples = [os.path.join(quick, "samples", f) for f in sorted(os.listdir(
        os.path.join(quick, "samples"))) if f.endswith(".npy")][:2]
    folder = ctx.fresh("thr")
    out = os.path.join(folder, "out")
    r = ctx.cnncc([os.path.join(quick, "fashion_cnn.onnx"), "-o", os.path.join(out, "m.c"),
                   "--main", "--max-threads", "4"])
    check(r.returncode == 0, "cnncc failed:\n%s" % r.stderr)
    with open("/proc/cpuinfo") as f:
        cpu = f.read()
    simd = ["-mavx2", "-mfma"] if " avx2 " in cpu and " fma " in cpu else []
    prog = os.path.join(folder, "prog")
    r = ctx.run([ctx.cc, "-std=c99", "-O2"] + simd + [os.path.join(out, "m.c"),
                os.path.join(out, "m_main.c"), "-o", prog, "-lm", "-lpthread"])
    check(r.returncode == 0, "cc failed:\n%s" % r.stderr[-4000:])
    results = {}
    for run, threads in enumerate((1, 2, 3, 4, 1, 4)):
        res = os.path.join(folder, "res%d" % run)
        os.makedirs(res)
        for k, sample in enumerate(samples):
            r = ctx.run([prog, sample, "--out-dir", res, "--threads", str(threads)])
            check(r.returncode == 0, "driver failed with --threads %d:\n%s" % (threads, r.stderr))
            with open(os.path.join(res, os.listdir(res)[0]), "rb") as f:
                data = f.read()
            os.remove(os.path.join(res, os.listdir(res)[0]))
            results.setdefault(k, []).append((threads, data))
    for k, runs in results.items():
        for threads, data in runs[1:]:
            check(data == runs[0][1], "sample %d: output with --threads %d differs from "
                  "--threads 1" % (k, threads))
    print("  %d samples x %d runs bit-identical (%s)" % (len(results), len(results[0]),
                                                     "AVX2" if simd else "portable kernels"))


@case
def task_scratch_block(ctx):
    """Compiled for several threads, every layer's per-task scratch is one block after the
    tensors, task t at the same address in every layer (compiler/passes/memplan.c): the quickstart
    CNN's and the zoo model's task-split kernels all pass the same (offset, region stride), and
    the block of max-threads regions ends the arena. For one thread the plan keeps the scratch
    among the tensors (a smaller arena)."""
    here = os.path.dirname(os.path.abspath(__file__))
    models = [os.path.join(here, "..", "..", "examples", "quickstart", "fashion_cnn.onnx")]
    models.append(os.path.join(here, "..", "..", "examples", "dsl", "resnet18.cnn"))
    ref = re.compile(r"\(unsigned char \*\)\(void \*\)\(A \+ (\d+)\), (\d+)")
    for model in models:
        arenas = {}
        for threads in (1, 2, 3):
            out = os.path.join(ctx.fresh("tsb"), "m.c")
            r = ctx.cnncc([model, "-o", out, "--weights", out[:-2] + ".bin"] +
                          (["--max-threads", str(threads)] if threads > 1 else []))
            check(r.returncode == 0, "cnncc failed:\n%s" % r.stderr)
            with open(out) as f:
                code = f.read()
            with open(out[:-2] + ".h") as f:
                arena = int(re.search(r"#define M_ARENA_BYTES (\d+)", f.read()).group(1))
            arenas[threads] = arena
            refs = set((int(a), int(b)) for a, b in ref.findall(code))
            if threads == 1:
                continue
            check(len(ref.findall(code)) >= 2, "%s: fewer than two task-split layers" % model)
            check(len(refs) == 1, "%s, %d threads: task scratch at %s, not one block" %
                  (model, threads, sorted(refs)))
            offset, stride = refs.pop()
            check(offset + threads * stride == arena, "%s, %d threads: the block [%d, %d + %d x "
                  "%d) does not end the %d-byte arena" % (model, threads, offset, offset,
                                                           threads, stride, arena))
        check(arenas[1] < arenas[2] < arenas[3], "%s: arenas %s" % (model, arenas))
        print("  %s: arenas %s bytes for 1/2/3 threads, task scratch one block" %
              (os.path.basename(model), arenas))


@case
def memory_bounded(ctx):
    """cnncc holds a model's weights at most about twice (file + decoded message while loading,
    graph + weights blob while writing): on a model of 64 MiB of weights its peak RSS stays under
    2.4x the file (it was 2.9x when the loader copied every initializer)."""
    np, onnx, TP, helper, nh = onnx_modules()
    n = 4096
    W = np.arange(n * n, dtype=np.float32).reshape(n, n) * np.float32(1e-7)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1, n])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)],
                          [nh.from_array(W, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    folder = ctx.fresh("mem")
    mp = ctx.save(m, folder)
    size = os.path.getsize(mp)
    del W, m, g
    # A child's peak RSS includes what it inherited before exec, so cnncc is started from a
    # small intermediate Python that reports its only child's peak (KiB on Linux).
    measure = ("import resource, subprocess, sys\n"
               "rc = subprocess.call(sys.argv[1:])\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(rc)\n")
    r = ctx.run([sys.executable, "-S", "-c", measure, ctx.cnncc_path, mp, "-o",
                 os.path.join(folder, "out", "m.c"), "--weights",
                 os.path.join(folder, "out", "m.bin")])
    check(r.returncode == 0, "cnncc failed:\n%s" % r.stderr)
    peak = int(r.stdout.split()[-1]) * 1024
    # What cnncc holds before it reads anything (the process image and its shared libraries)
    # is not the model's: measure it with --version.
    r = ctx.run([sys.executable, "-S", "-c", measure, ctx.cnncc_path, "--version"])
    check(r.returncode == 0, "cnncc --version failed:\n%s" % r.stderr)
    base = int(r.stdout.split()[-1]) * 1024
    held = peak - base
    print("  model %.1f MiB, cnncc peak RSS %.1f MiB, %.1f MiB of it at start: %.2fx the model" %
          (size / 2**20, peak / 2**20, base / 2**20, held / size))
    if ctx.sanitized:
        return  # (ASan's shadow memory and quarantine say nothing about cnncc's own use)
    check(held < 2.4 * size, "cnncc held %.1f MiB: %.2fx the model" % (held / 2**20, held / size))


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--cnncc")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--list", action="store_true", help="print the case names")
    ap.add_argument("--timeout", type=int, default=60, help="per command, seconds")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if not args.cnncc:
        ap.error("--cnncc is required")
    names = args.cases or list(CASES)
    bad = [n for n in names if n not in CASES]
    if bad:
        ap.error("unknown case(s): %s" % ", ".join(bad))
    failed = []
    for name in names:
        tmp = tempfile.mkdtemp(prefix="cnncc_frontend_%s_" % name)
        ctx = Ctx(os.path.abspath(args.cnncc), args.cc, tmp, args.timeout)
        try:
            CASES[name](ctx)
            print("PASS %s" % name)
        except Failure as e:
            failed.append(name)
            print("FAIL %s: %s" % (name, e))
        except Exception:
            failed.append(name)
            print("FAIL %s (exception):\n%s" % (name, traceback.format_exc()))
        finally:
            if os.environ.get("CNNCC_FRONTEND_KEEP") != "1":
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print("  kept %s" % tmp)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
