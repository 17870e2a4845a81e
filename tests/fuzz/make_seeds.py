#!/usr/bin/python3
"""Seed corpora for cnncc's fuzz targets (tests/fuzz), written at test time.

Usage: /usr/bin/python3 make_seeds.py OUT_DIR [--node-dir DIR]... [--source-dir DIR]

Writes
  OUT_DIR/onnx_load/   small valid models built with onnx.helper + ~50 small ONNX backend node
                       test models (when a node test data dir is given and exists)
  OUT_DIR/pipeline/    the same models, those under 64 KiB with at most 48 nodes
  OUT_DIR/npy/         .npy images of every dtype cnnrt_npy.h reads, formats 1.0/2.0/3.0,
                       a few ranks, empty arrays, and the quickstart samples
  OUT_DIR/<target>.dict  libFuzzer dictionaries (-dict=, run_fuzzers.sh passes them):
                       operator and attribute names for the ONNX targets, header words for npy

--node-dir DIR: a folder made by tests/onnx_node/generate.py (DIR/node/<test>/model.onnx);
  given several times, the first that exists is used; none existing is not an error.
--source-dir DIR: the cnncc source tree (default: two levels above this script), for the
  supported-op list (compiler/ops.def) and the quickstart example.

The corpora are regenerated on every call (the folders are emptied first); a stamp file makes
no difference. Needs onnx and numpy. Deterministic: the same inputs give the same seeds.
"""
import io
import os
import re
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MAX_PIPELINE_BYTES = 64 * 1024
MAX_PIPELINE_NODES = 48
MAX_NODE_TESTS = 50
NODE_TEST_MAX_BYTES = 16 * 1024

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def rng():
    return np.random.default_rng(1234)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, inits=(), opset=13, name="g", ir_version=7):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="cnncc-fuzz-seeds")
    m.ir_version = ir_version
    return m


def handmade():
    """(name, ModelProto) pairs: small models covering each op family and each pass."""
    r = rng()
    w = lambda *s: r.standard_normal(s).astype(np.float32) * 0.1
    out = []

    # Conv + bias + Relu (fused epilogue), NCHW 1x3x8x8.
    out.append(("conv_relu", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"])],
        [vi("x", F, [1, 3, 8, 8])], [vi("y", F, [1, 4, 8, 8])],
        [init("w", w(4, 3, 3, 3)), init("b", w(4))])))

    # Conv → BatchNormalization (folded) → Clip (fused), strided, dilated.
    out.append(("conv_bn_clip", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2],
                          dilations=[1, 1], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-5),
         helper.make_node("Clip", ["n", "lo", "hi"], ["y"])],
        [vi("x", F, [1, 2, 9, 9])], [vi("y", F, [1, 4, 5, 5])],
        [init("w", w(4, 2, 3, 3)), init("s", w(4) + 1), init("bb", w(4)), init("m", w(4)),
         init("v", np.abs(w(4)) + 1), init("lo", np.float32(0)), init("hi", np.float32(6))])))

    # Depthwise conv (group = C) + Sigmoid*x (SiLU as exported).
    out.append(("dwconv_silu", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], group=8,
                          pads=[1, 1, 1, 1]),
         helper.make_node("Sigmoid", ["c"], ["s"]),
         helper.make_node("Mul", ["c", "s"], ["y"])],
        [vi("x", F, [1, 8, 6, 6])], [vi("y", F, [1, 8, 6, 6])], [init("w", w(8, 1, 3, 3))])))

    # Residual block: Conv → Add(x) → Relu (residual fusion).
    out.append(("residual", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
         helper.make_node("Add", ["c", "x"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])],
        [vi("x", F, [1, 4, 5, 5])], [vi("y", F, [1, 4, 5, 5])], [init("w", w(4, 4, 1, 1))])))

    # ConvTranspose with output_padding.
    out.append(("conv_transpose", model(
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[3, 3],
                          strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])],
        [vi("x", F, [1, 3, 4, 4])], [vi("y", F, [1, 2, 8, 8])],
        [init("w", w(3, 2, 3, 3)), init("b", w(2))])))

    # 1-D conv with auto_pad.
    out.append(("conv1d_same", model(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], auto_pad="SAME_UPPER")],
        [vi("x", F, [1, 2, 10])], [vi("y", F, [1, 3, 10])], [init("w", w(3, 2, 3))])))

    # Gemm (transB, alpha/beta) → Softmax.
    out.append(("gemm_softmax", model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1, alpha=0.5, beta=2.0),
         helper.make_node("Softmax", ["g"], ["y"], axis=1)],
        [vi("x", F, [2, 16])], [vi("y", F, [2, 10])], [init("w", w(10, 16)), init("b", w(10))])))

    # MatMul with broadcasting batch dims.
    out.append(("matmul_batched", model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [vi("x", F, [2, 3, 4, 5])], [vi("y", F, [2, 3, 4, 6])], [init("w", w(5, 6))])))

    # Pools: MaxPool (ceil_mode, pads) → AveragePool (count_include_pad) → GlobalAveragePool.
    out.append(("pools", model(
        [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                          pads=[1, 1, 1, 1], ceil_mode=1),
         helper.make_node("AveragePool", ["p"], ["q"], kernel_shape=[2, 2], pads=[0, 0, 1, 1],
                          count_include_pad=1),
         helper.make_node("GlobalAveragePool", ["q"], ["y"])],
        [vi("x", F, [1, 3, 11, 11])], [vi("y", F, [1, 3, 1, 1])])))

    out.append(("global_max_lp_pool", model(
        [helper.make_node("GlobalMaxPool", ["x"], ["a"]),
         helper.make_node("GlobalLpPool", ["x"], ["b"], p=2),
         helper.make_node("Add", ["a", "b"], ["y"])],
        [vi("x", F, [1, 3, 4, 4])], [vi("y", F, [1, 3, 1, 1])])))

    # Resize: nearest with scales, linear with sizes.
    out.append(("resize_nearest", model(
        [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
        [vi("x", F, [1, 2, 3, 3])], [vi("y", F, [1, 2, 6, 6])],
        [init("sc", np.array([1, 1, 2, 2], np.float32))])))
    out.append(("resize_linear_sizes", model(
        [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="linear",
                          coordinate_transformation_mode="align_corners")],
        [vi("x", F, [1, 2, 4, 4])], [vi("y", F, [1, 2, 7, 5])],
        [init("sz", np.array([1, 2, 7, 5], np.int64))])))
    out.append(("upsample_v9", model(
        [helper.make_node("Upsample", ["x", "sc"], ["y"], mode="nearest")],
        [vi("x", F, [1, 1, 2, 2])], [vi("y", F, [1, 1, 4, 4])],
        [init("sc", np.array([1, 1, 2, 2], np.float32))], opset=9)))

    # Exporter shape chain: Shape → Gather → Unsqueeze → Concat → Reshape (all folded).
    out.append(("reshape_chain", model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "ax"], ["nu"]),
         helper.make_node("Concat", ["nu", "m1"], ["shp"], axis=0),
         helper.make_node("Reshape", ["x", "shp"], ["r"]),
         helper.make_node("Flatten", ["r"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)],
        [vi("x", F, [2, 3, 4, 4])], [vi("y", F, [2, 5])],
        [init("i0", np.array(0, np.int64)), init("ax", np.array([0], np.int64)),
         init("m1", np.array([-1], np.int64)), init("w", w(5, 48))])))

    # Concat + Split + Transpose + Squeeze/Unsqueeze.
    out.append(("concat_split_transpose", model(
        [helper.make_node("Concat", ["x", "z"], ["c"], axis=1),
         helper.make_node("Split", ["c", "sp"], ["a", "b"], axis=1),
         helper.make_node("Transpose", ["a"], ["t"], perm=[0, 2, 3, 1]),
         helper.make_node("Unsqueeze", ["b", "ax"], ["u"]),
         helper.make_node("Squeeze", ["u", "ax"], ["y2"])],
        [vi("x", F, [1, 2, 3, 3]), vi("z", F, [1, 4, 3, 3])],
        [vi("t", F, [1, 3, 3, 3]), vi("y2", F, [1, 3, 3, 3])],
        [init("sp", np.array([3, 3], np.int64)), init("ax", np.array([0], np.int64))])))

    # Pad (constant, reflect, edge).
    for mode in ("constant", "reflect", "edge"):
        out.append(("pad_" + mode, model(
            [helper.make_node("Pad", ["x", "p", "v"] if mode == "constant" else ["x", "p"], ["y"],
                              mode=mode)],
            [vi("x", F, [1, 2, 4, 4])], [vi("y", F, [1, 2, 6, 7])],
            [init("p", np.array([0, 0, 1, 1, 0, 0, 1, 2], np.int64))] +
            ([init("v", np.float32(0.5))] if mode == "constant" else []))))

    # Slice with negative steps, Tile, Expand, Gather on data.
    out.append(("slice_tile_expand", model(
        [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["s"]),
         helper.make_node("Tile", ["s", "rep"], ["t"]),
         helper.make_node("Expand", ["t", "eshape"], ["e"]),
         helper.make_node("Gather", ["e", "idx"], ["y"], axis=1)],
        [vi("x", F, [1, 3, 6, 6])], [vi("y", F, [2, 2, 4, 6])],
        [init("st", np.array([5, 0], np.int64)), init("en", np.array([-100, 6], np.int64)),
         init("ax", np.array([2, 3], np.int64)), init("sp", np.array([-2, 2], np.int64)),
         init("rep", np.array([1, 1, 1, 2], np.int64)),
         init("eshape", np.array([2, 1, 1, 1], np.int64)),
         init("idx", np.array([2, 0], np.int64))])))

    # Reductions and arg-reductions.
    out.append(("reduce", model(
        [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=1),
         helper.make_node("ReduceMax", ["x"], ["mx"], axes=[1], keepdims=0),
         helper.make_node("ArgMax", ["x"], ["am"], axis=1, keepdims=1),
         helper.make_node("ReduceSumSquare", ["x"], ["ss"], keepdims=0)],
        [vi("x", F, [1, 3, 4, 4])],
        [vi("m", F, [1, 3, 1, 1]), vi("mx", F, [1, 4, 4]), vi("am", I64, [1, 1, 4, 4]),
         vi("ss", F, [])])))

    # Normalisations.
    out.append(("norms", model(
        [helper.make_node("InstanceNormalization", ["x", "s", "b"], ["i"], epsilon=1e-5),
         helper.make_node("LRN", ["i"], ["l"], size=3),
         helper.make_node("LayerNormalization", ["l", "ls", "lb"], ["y"], axis=-1,
                          epsilon=1e-5)],
        [vi("x", F, [1, 3, 4, 4])], [vi("y", F, [1, 3, 4, 4])],
        [init("s", w(3) + 1), init("b", w(3)), init("ls", w(4) + 1), init("lb", w(4))],
        opset=17)))

    # Element-wise chain with broadcasting and every unary family.
    unary = ["Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Erf", "Abs", "Neg", "Exp",
             "Floor", "Ceil", "Sqrt", "Reciprocal", "Log", "HardSwish", "Mish"]
    nodes, prev = [], "x"
    for i, op in enumerate(unary):
        nodes.append(helper.make_node(op, [prev], ["u%d" % i]))
        prev = "u%d" % i
    nodes += [helper.make_node("LeakyRelu", [prev], ["lr"], alpha=0.2),
              helper.make_node("Elu", ["lr"], ["el"], alpha=1.0),
              helper.make_node("HardSigmoid", ["el"], ["hs"], alpha=0.2, beta=0.5),
              helper.make_node("PRelu", ["hs", "slope"], ["pr"]),
              helper.make_node("Pow", ["pr", "two"], ["pw"]),
              helper.make_node("Div", ["pw", "two"], ["dv"]),
              helper.make_node("Sub", ["dv", "x"], ["sb"]),
              helper.make_node("Max", ["sb", "x", "dv"], ["y"])]
    out.append(("elementwise", model(
        nodes, [vi("x", F, [1, 3, 2, 2])], [vi("y", F, [1, 3, 2, 2])],
        [init("slope", w(3, 1, 1)), init("two", np.float32(2))], opset=14)))

    # Comparisons, Where, Cast, logic.
    out.append(("where_cast", model(
        [helper.make_node("Greater", ["x", "zero"], ["gt"]),
         helper.make_node("Less", ["x", "one"], ["lt"]),
         helper.make_node("And", ["gt", "lt"], ["in"]),
         helper.make_node("Not", ["in"], ["out"]),
         helper.make_node("Cast", ["out"], ["of"], to=F),
         helper.make_node("Where", ["in", "x", "of"], ["y"])],
        [vi("x", F, [2, 5])], [vi("y", F, [2, 5])],
        [init("zero", np.float32(0)), init("one", np.float32(1))])))

    # Constant / ConstantOfShape / Size folded into a computation.
    out.append(("constants", model(
        [helper.make_node("Constant", [], ["k"],
                          value=helper.make_tensor("kv", F, [2], [1.5, -2.0])),
         helper.make_node("ConstantOfShape", ["shp"], ["z"],
                          value=helper.make_tensor("zv", F, [1], [0.25])),
         helper.make_node("Size", ["x"], ["n"]),
         helper.make_node("Cast", ["n"], ["nf"], to=F),
         helper.make_node("Add", ["z", "k"], ["zk"]),
         helper.make_node("Mul", ["zk", "nf"], ["zkn"]),
         helper.make_node("Add", ["x", "zkn"], ["y"])],
        [vi("x", F, [3, 2])], [vi("y", F, [3, 2])],
        [init("shp", np.array([3, 2], np.int64))])))

    # DepthToSpace / SpaceToDepth, Dropout / Identity pass-throughs, Hardmax, LogSoftmax.
    out.append(("d2s_s2d", model(
        [helper.make_node("SpaceToDepth", ["x"], ["s"], blocksize=2),
         helper.make_node("Identity", ["s"], ["i"]),
         helper.make_node("Dropout", ["i"], ["dr"]),
         helper.make_node("DepthToSpace", ["dr"], ["d"], blocksize=2, mode="CRD"),
         helper.make_node("LogSoftmax", ["d"], ["ls"], axis=-1),
         helper.make_node("Hardmax", ["ls"], ["y"], axis=-1)],
        [vi("x", F, [1, 2, 4, 4])], [vi("y", F, [1, 2, 4, 4])])))

    # A tiny CNN classifier (conv/pool/gemm), with a symbolic batch fixed to 1.
    out.append(("tiny_cnn", model(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"]),
         helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Conv", ["p1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c2"], ["r2"]),
         helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
         helper.make_node("Flatten", ["g"], ["f"]),
         helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1)],
        [vi("x", F, [1, 1, 8, 8])], [vi("y", F, [1, 10])],
        [init("w1", w(4, 1, 3, 3)), init("b1", w(4)), init("w2", w(8, 4, 3, 3)),
         init("w3", w(10, 8)), init("b3", w(10))])))

    # Integer and double data paths.
    out.append(("int_ops", model(
        [helper.make_node("Add", ["x", "k"], ["a"]),
         helper.make_node("Mul", ["a", "k"], ["m"]),
         helper.make_node("ReduceSum", ["m", "ax"], ["y"], keepdims=0)],
        [vi("x", TensorProto.INT32, [2, 3])], [vi("y", TensorProto.INT32, [2])],
        [init("k", np.array([1, 2, 3], np.int32)), init("ax", np.array([1], np.int64))])))
    out.append(("double_ops", model(
        [helper.make_node("Sqrt", ["x"], ["s"]),
         helper.make_node("Sum", ["s", "x", "x"], ["y"])],
        [vi("x", TensorProto.DOUBLE, [4])], [vi("y", TensorProto.DOUBLE, [4])])))

    # Initializer encodings: float_data / int64_data instead of raw_data; float16 raw bits.
    m = model([helper.make_node("Add", ["x", "b"], ["y"])],
              [vi("x", F, [3])], [vi("y", F, [3])],
              [helper.make_tensor("b", F, [3], [1.0, 2.0, 3.0])])
    out.append(("float_data", m))
    out.append(("float16", model(
        [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
         helper.make_node("Add", ["h", "b"], ["a"]),
         helper.make_node("Cast", ["a"], ["y"], to=F)],
        [vi("x", F, [4])], [vi("y", F, [4])],
        [init("b", np.arange(4).astype(np.float16))])))

    # Old opset / IR versions (attribute forms of later inputs).
    out.append(("opset7_pad_slice", model(
        [helper.make_node("Pad", ["x"], ["p"], pads=[0, 1, 0, 1], mode="constant", value=0.0),
         helper.make_node("Slice", ["p"], ["y"], starts=[0], ends=[3], axes=[1])],
        [vi("x", F, [2, 2])], [vi("y", F, [2, 3])], opset=7, ir_version=3)))
    out.append(("opset11_clip_split", model(
        [helper.make_node("Clip", ["x", "lo"], ["c"]),
         helper.make_node("Split", ["c"], ["a", "b"], axis=0, split=[1, 1]),
         helper.make_node("Add", ["a", "b"], ["y"])],
        [vi("x", F, [2, 3])], [vi("y", F, [1, 3])],
        [init("lo", np.float32(-0.5))], opset=11, ir_version=6)))

    # Two inputs, two outputs, an output that is also an intermediate, an input as output.
    out.append(("multi_io", model(
        [helper.make_node("Add", ["a", "b"], ["s"]),
         helper.make_node("Relu", ["s"], ["r"])],
        [vi("a", F, [2, 2]), vi("b", F, [2, 2])],
        [vi("s", F, [2, 2]), vi("r", F, [2, 2]), vi("a", F, [2, 2])])))

    # Symbolic dimension (refused without --shape: exercises the error path).
    out.append(("symbolic_batch", model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [vi("x", F, ["N", 3])], [vi("y", F, ["N", 3])])))
    return out


def supported_ops(source_dir):
    path = os.path.join(source_dir, "compiler", "ops.def")
    try:
        with open(path) as f:
            return set(re.findall(r'^OP\([A-Z_0-9]+,\s*"[a-z_0-9]*",\s*"([A-Za-z]+)"', f.read(),
                                  re.M))
    except OSError:
        return None


def node_tests(node_dirs, source_dir):
    """Up to MAX_NODE_TESTS small node test models whose ops cnncc knows, spread over ops."""
    base = next((d for d in node_dirs if os.path.isdir(os.path.join(d, "node"))), None)
    if base is None:
        return []
    ops = supported_ops(source_dir)
    by_op = {}
    root = os.path.join(base, "node")
    for test in sorted(os.listdir(root)):
        path = os.path.join(root, test, "model.onnx")
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        if size > NODE_TEST_MAX_BYTES:
            continue
        try:
            m = onnx.load(path)
        except Exception:
            continue
        types = sorted({n.op_type for n in m.graph.node})
        if not types or (ops is not None and not set(types) <= ops):
            continue
        by_op.setdefault(types[0], []).append((test, path))
    # Round robin over the ops (the first test of each op, then the second, ...), spread evenly
    # over the alphabet when there are more candidates than places.
    order, rank = [], 0
    while True:
        row = [by_op[op][rank] for op in sorted(by_op) if rank < len(by_op[op])]
        if not row:
            break
        order.append(row)
        rank += 1
    picked = []
    for row in order:
        room = MAX_NODE_TESTS - len(picked)
        if room <= 0:
            break
        if len(row) > room:
            row = [row[i * len(row) // room] for i in range(room)]
        picked += row
    return picked


def node_model_bytes(path):
    """The node test model, its integer inputs (shapes, axes, pads, repeats: what cnncc needs at
    compile time, and --bind gives the node tests) made initializers from test_data_set_0."""
    m = onnx.load(path)
    data_dir = os.path.join(os.path.dirname(path), "test_data_set_0")
    inits = []
    for i, inp in enumerate(m.graph.input):
        if inp.type.tensor_type.elem_type != TensorProto.INT64:
            continue
        pb = os.path.join(data_dir, "input_%d.pb" % i)
        try:
            t = onnx.TensorProto()
            with open(pb, "rb") as f:
                t.ParseFromString(f.read())
        except OSError:
            continue
        t.name = inp.name
        inits.append(t)
    if not inits:
        with open(path, "rb") as f:
            return f.read()
    names = {t.name for t in inits}
    keep = [inp for inp in m.graph.input if inp.name not in names]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.graph.initializer.extend(inits)
    return m.SerializeToString()


def npy_image(arr, version=1, fortran=False, header_pad=0):
    """A .npy file image written by hand (numpy's writer does not do every version)."""
    descr = np.lib.format.dtype_to_descr(arr.dtype)
    shape = "(" + "".join("%d," % d if arr.ndim == 1 else "%d, " % d for d in arr.shape)
    shape = shape.rstrip(", ") + ("," if arr.ndim == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape)
    d += " " * header_pad
    pre = 10 if version == 1 else 12
    total = pre + len(d) + 1
    d += " " * ((64 - total % 64) % 64) + "\n"
    if version == 1:
        head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d))
    else:
        head = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(d))
    data = (np.asfortranarray(arr) if fortran else np.ascontiguousarray(arr)).tobytes(
        order="F" if fortran else "C")
    return head + d.encode("latin1") + data


def npy_seeds(source_dir):
    out = []
    r = np.random.default_rng(7)
    dtypes = ["<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8", "|b1"]
    for dt in dtypes:
        a = (r.integers(0, 2, size=(2, 3)) if dt == "|b1" else r.integers(0, 100, size=(2, 3)))
        out.append(("dtype_" + dt.strip("<|"), npy_image(a.astype(np.dtype(dt)))))
    a = r.standard_normal((1, 1, 4, 4)).astype(np.float32)
    out.append(("v2", npy_image(a, version=2)))
    out.append(("v3", npy_image(a, version=3)))
    out.append(("scalar", npy_image(np.array(3.5, np.float32))))
    out.append(("rank1", npy_image(np.arange(5, dtype=np.float32))))
    out.append(("empty", npy_image(np.zeros((0, 3), np.float32))))
    out.append(("rank8", npy_image(np.zeros((1, 2, 1, 2, 1, 2, 1, 2), np.int8))))
    out.append(("fortran", npy_image(np.zeros((2, 3), np.float32), fortran=True)))
    out.append(("padded", npy_image(np.ones((3,), np.float64), header_pad=100)))
    # numpy's own writer, double-quoted keys, and a truncated file.
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=np.float32).reshape(3, 4))
    out.append(("numpy_save", buf.getvalue()))
    out.append(("double_quotes", npy_image(np.ones((2,), np.float32)).replace(b"'", b'"')))
    out.append(("truncated", npy_image(np.ones((4, 4), np.float32))[:-7]))
    sample = os.path.join(source_dir, "examples", "quickstart", "samples", "00_tshirt.npy")
    if os.path.exists(sample):
        with open(sample, "rb") as f:
            out.append(("quickstart_sample", f.read()))
    return out


ATTR_WORDS = [
    "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", "SAME_UPPER",
    "SAME_LOWER", "VALID", "NOTSET", "output_padding", "output_shape", "ceil_mode",
    "count_include_pad", "storage_order", "axis", "axes", "keepdims", "select_last_index",
    "noop_with_empty_axes", "perm", "split", "num_outputs", "starts", "ends", "steps", "mode",
    "constant", "reflect", "edge", "wrap", "nearest", "linear", "cubic", "bilinear",
    "coordinate_transformation_mode", "half_pixel", "pytorch_half_pixel", "align_corners",
    "asymmetric", "tf_crop_and_resize", "nearest_mode", "round_prefer_floor",
    "round_prefer_ceil", "floor", "ceil", "cubic_coeff_a", "exclude_outside",
    "extrapolation_value", "alpha", "beta", "gamma", "epsilon", "momentum", "bias", "size",
    "lambd", "transA", "transB", "to", "value", "value_float", "value_floats", "value_int",
    "value_ints", "blocksize", "DCR", "CRD", "allowzero", "min", "max", "p", "start", "end",
    "training_mode", "spatial", "is_test", "seed", "ratio", "scales", "sizes", "height_scale",
    "width_scale", "paddings", "ai.onnx", "ai.onnx.ml",
]


def write_dicts(out, source_dir):
    ops = sorted(supported_ops(source_dir) or [])
    words = ops + ATTR_WORDS
    for target in ("onnx_load", "pipeline"):
        with open(os.path.join(out, target + ".dict"), "w") as f:
            for w in words:
                f.write('"%s"\n' % w)
    npy_words = ["\\x93NUMPY", "descr", "fortran_order", "shape", "True", "False", "<f4",
                 "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8", "|b1",
                 ">f4", "(", ")", ", ", "{", "}", "'", "\\\"", ":"]
    with open(os.path.join(out, "npy.dict"), "w") as f:
        for w in npy_words:
            f.write('"%s"\n' % w)
    return len(words)


def reset(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def main(argv):
    args, node_dirs, source_dir = [], [], None
    i = 1
    while i < len(argv):
        if argv[i] == "--node-dir" and i + 1 < len(argv):
            node_dirs.append(argv[i + 1])
            i += 2
        elif argv[i] == "--source-dir" and i + 1 < len(argv):
            source_dir = argv[i + 1]
            i += 2
        elif argv[i].startswith("-"):
            sys.stderr.write(__doc__)
            return 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    out = os.path.abspath(args[0])
    if source_dir is None:
        source_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for sub in ("onnx_load", "pipeline", "npy", "dsl_parse"):
        reset(os.path.join(out, sub))

    models = [(name, m.SerializeToString()) for name, m in handmade()]
    # The repo's real model (the quickstart CNN, ~400 KiB: the loader's corpus only).
    quick = os.path.join(source_dir, "examples", "quickstart", "fashion_cnn.onnx")
    if os.path.exists(quick):
        with open(quick, "rb") as f:
            models.append(("quickstart_fashion_cnn", f.read()))
    nodes = node_tests(node_dirs, source_dir)
    for test, path in nodes:
        models.append(("node_" + test, node_model_bytes(path)))
    n_load = n_pipe = 0
    for name, data in models:
        with open(os.path.join(out, "onnx_load", name + ".onnx"), "wb") as f:
            f.write(data)
        n_load += 1
        if len(data) <= MAX_PIPELINE_BYTES:
            m = onnx.load_from_string(data)
            if len(m.graph.node) <= MAX_PIPELINE_NODES:
                with open(os.path.join(out, "pipeline", name + ".onnx"), "wb") as f:
                    f.write(data)
                n_pipe += 1
    n_npy = 0
    for name, data in npy_seeds(source_dir):
        with open(os.path.join(out, "npy", name + ".npy"), "wb") as f:
            f.write(data)
        n_npy += 1
    # The .cnn front end: the example models and the DSL tests' sources.
    n_dsl = 0
    for folder in (os.path.join(source_dir, "examples", "dsl"),
                   os.path.join(source_dir, "tests", "dsl"),
                   os.path.join(source_dir, "tests", "dsl", "regressions")):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".cnn") or folder.endswith("regressions"):
                path = os.path.join(folder, name)
                if os.path.isfile(path) and os.path.getsize(path) <= 1 << 16:
                    shutil.copyfile(path, os.path.join(out, "dsl_parse", "%d_%s" % (n_dsl, name)))
                    n_dsl += 1
    n_words = write_dicts(out, source_dir)
    print("make_seeds: %d dsl_parse seeds" % n_dsl)
    dsl_words = ["model", "input", "output", "block", "repeat", "as", "if", "else", "train",
                 "params", "seed", "->", "f32", "conv2d", "linear", "relu", "maxpool", "avgpool",
                 "batchnorm", "concat", "split", "flatten", "kernel=", "stride=", "pad=",
                 "groups=", "{", "}", "(", ")", "[", "]", ",", "=", "+", "*", "?", ":"]
    with open(os.path.join(out, "dsl_parse.dict"), "w") as f:
        for w in dsl_words:
            f.write('"%s"\n' % w)
    print("make_seeds: %d onnx_load (%d node tests), %d pipeline, %d npy seeds, %d dictionary words in %s" %
          (n_load, len(nodes), n_pipe, n_npy, n_words, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
