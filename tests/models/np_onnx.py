#!/usr/bin/env python3
"""A small, slow, float64 numpy interpreter for the ONNX ops used by tests/models and
examples/quickstart -- an independent oracle (no onnxruntime here).

usage: /usr/bin/python3 tests/models/np_onnx.py MODEL.onnx INPUT.npy [--expected E.npy]
                                               [--dump DIR]
  prints max|ref-expected| / max|expected| when --expected is given;
  --dump DIR writes every intermediate tensor as DIR/<sanitised name>.npy (float32),
  handy for bisecting a mismatch of the compiled C against the graph.
As a module: run(model_path_or_proto, {input_name: array}) -> {name: array}.
"""
import argparse
import math
import os
import re
import sys

import numpy as np


def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads2(pads, nd):
    pads = list(pads) if pads else [0] * (2 * nd)
    return pads[:nd], pads[nd:]


def _conv(x, w, b, a):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    g = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("auto_pad")
    (pt, pl), (pb, pr) = _pads2(a.get("pads"), 2)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    # cols[n, c, kh, kw, oh, ow]
    cols = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                                  j * dw: j * dw + sw * (ow - 1) + 1: sw]
    mg = m // g
    out = np.empty((n, m, oh, ow))
    for gi in range(g):
        cg_cols = cols[:, gi * cg:(gi + 1) * cg].reshape(n, cg * kh * kw, oh * ow)
        wg = w[gi * mg:(gi + 1) * mg].reshape(mg, cg * kh * kw)
        out[:, gi * mg:(gi + 1) * mg] = np.einsum("mk,nkp->nmp", wg, cg_cols).reshape(n, mg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _conv_transpose(x, w, b, a):
    n, c, h, wd = x.shape
    _, mg, kh, kw = w.shape
    g = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    (pt, pl), (pb, pr) = _pads2(a.get("pads"), 2)
    oph, opw = a.get("output_padding", [0, 0])
    if "output_shape" in a:
        raise NotImplementedError("output_shape")
    fh = sh * (h - 1) + dh * (kh - 1) + 1 + oph
    fw = sw * (wd - 1) + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, g * mg, fh, fw))
    cg = c // g
    for gi in range(g):
        xg = x[:, gi * cg:(gi + 1) * cg]
        wg = w[gi * cg:(gi + 1) * cg]          # [cg, mg, kh, kw]
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,cm->nmhw", xg, wg[:, :, i, j])
                full[:, gi * mg:(gi + 1) * mg,
                     i * dh: i * dh + sh * (h - 1) + 1: sh,
                     j * dw: j * dw + sw * (wd - 1) + 1: sw] += contrib
    out = full[:, :, pt: fh - pb, pl: fw - pr]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _pool(x, a, kind):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    (pt, pl), (pb, pr) = _pads2(a.get("pads"), 2)
    ceil = a.get("ceil_mode", 0)
    n, c, h, wd = x.shape
    rnd = math.ceil if ceil else math.floor

    def osz(L, p0, p1, k, s, d):
        o = int(rnd((L + p0 + p1 - d * (k - 1) - 1) / s)) + 1
        if ceil and (o - 1) * s >= L + p0:      # last window must start inside
            o -= 1
        return o
    oh, ow = osz(h, pt, pb, kh, sh, dh), osz(wd, pl, pr, kw, sw, dw)
    out = np.empty((n, c, oh, ow))
    cip = a.get("count_include_pad", 0)
    for y in range(oh):
        for xx in range(ow):
            ys = [y * sh - pt + i * dh for i in range(kh)]
            xs = [xx * sw - pl + j * dw for j in range(kw)]
            yv = [v for v in ys if 0 <= v < h]
            xv = [v for v in xs if 0 <= v < wd]
            win = x[:, :, yv][:, :, :, xv]
            if kind == "max":
                out[:, :, y, xx] = win.max(axis=(2, 3))
            else:
                if cip:
                    cnt = len([v for v in ys if v < h + pb]) * len([v for v in xs if v < wd + pr])
                else:
                    cnt = len(yv) * len(xv)
                out[:, :, y, xx] = win.sum(axis=(2, 3)) / cnt
    return out


def _resize(x, roi, scales, sizes, a):
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    ctm = a.get("coordinate_transformation_mode", b"half_pixel")
    ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
    nm = a.get("nearest_mode", b"round_prefer_floor")
    nm = nm.decode() if isinstance(nm, bytes) else nm
    if sizes is not None and sizes.size:
        out_shape = [int(s) for s in sizes]
        scales = np.array(out_shape, dtype=np.float64) / np.array(x.shape)
    else:
        scales = np.asarray(scales, dtype=np.float64)
        out_shape = [int(math.floor(d * s)) for d, s in zip(x.shape, scales)]
    y = x
    for ax in range(x.ndim):
        if out_shape[ax] == x.shape[ax] and scales[ax] == 1:
            continue
        L, O, s = x.shape[ax], out_shape[ax], scales[ax]
        o = np.arange(O, dtype=np.float64)
        if ctm == "half_pixel":
            src = (o + 0.5) / s - 0.5
        elif ctm == "pytorch_half_pixel":
            src = (o + 0.5) / s - 0.5 if O > 1 else np.zeros(O)
        elif ctm == "asymmetric":
            src = o / s
        elif ctm == "align_corners":
            src = o * (L - 1) / (O - 1) if O > 1 else np.zeros(O)
        else:
            raise NotImplementedError(ctm)
        if mode == "nearest":
            if nm == "floor":
                idx = np.floor(src)
            elif nm == "ceil":
                idx = np.ceil(src)
            elif nm == "round_prefer_floor":
                idx = np.where(src - np.floor(src) == 0.5, np.floor(src), np.round(src))
            else:
                idx = np.where(src - np.floor(src) == 0.5, np.ceil(src), np.round(src))
            idx = np.clip(idx, 0, L - 1).astype(int)
            y = np.take(y, idx, axis=ax)
        elif mode == "linear":
            src = np.clip(src, 0, L - 1)
            i0 = np.floor(src).astype(int)
            i1 = np.minimum(i0 + 1, L - 1)
            f = src - i0
            shp = [1] * x.ndim
            shp[ax] = O
            f = f.reshape(shp)
            y = np.take(y, i0, axis=ax) * (1 - f) + np.take(y, i1, axis=ax) * f
        else:
            raise NotImplementedError(mode)
    return y


_erf = np.frompyfunc(math.erf, 1, 1)


def _node(op, ins, a):
    x = ins[0] if ins else None
    if op == "Conv":
        return _conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)
    if op == "ConvTranspose":
        return _conv_transpose(x, ins[1], ins[2] if len(ins) > 2 else None, a)
    if op == "BatchNormalization":
        s, b, m, v = [t.reshape(1, -1, *([1] * (x.ndim - 2))) for t in ins[1:5]]
        return (x - m) / np.sqrt(v + a.get("epsilon", 1e-5)) * s + b
    if op == "InstanceNormalization":
        ax = tuple(range(2, x.ndim))
        m = x.mean(axis=ax, keepdims=True)
        v = x.var(axis=ax, keepdims=True)
        shp = (1, -1) + (1,) * (x.ndim - 2)
        return (x - m) / np.sqrt(v + a.get("epsilon", 1e-5)) * ins[1].reshape(shp) + ins[2].reshape(shp)
    if op == "Relu":
        return np.maximum(x, 0)
    if op == "LeakyRelu":
        return np.where(x >= 0, x, a.get("alpha", 0.01) * x)
    if op == "Elu":
        al = a.get("alpha", 1.0)
        return np.where(x > 0, x, al * (np.exp(np.minimum(x, 0)) - 1))
    if op == "Sigmoid":
        return 1 / (1 + np.exp(-x))
    if op == "HardSigmoid":
        return np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1)
    if op == "Tanh":
        return np.tanh(x)
    if op == "Erf":
        return _erf(x).astype(np.float64)
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
        return np.clip(x, lo, hi)
    if op in ("Add", "Sub", "Mul", "Div"):
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                "Div": np.divide}[op](ins[0], ins[1])
    if op == "MaxPool":
        return _pool(x, a, "max")
    if op == "AveragePool":
        return _pool(x, a, "avg")
    if op == "GlobalAveragePool":
        return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)
    if op == "GlobalMaxPool":
        return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)
    if op == "Flatten":
        ax = a.get("axis", 1)
        return x.reshape(int(np.prod(x.shape[:ax])), -1)
    if op == "Gemm":
        A = x.T if a.get("transA", 0) else x
        B = ins[1].T if a.get("transB", 0) else ins[1]
        y = a.get("alpha", 1.0) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            y = y + a.get("beta", 1.0) * ins[2]
        return y
    if op == "MatMul":
        return ins[0] @ ins[1]
    if op == "Softmax":
        ax = a.get("axis", -1)
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        return e / e.sum(axis=ax, keepdims=True)
    if op == "Concat":
        return np.concatenate(ins, axis=a["axis"])
    if op == "Identity":
        return x
    if op == "Shape":
        return np.array(x.shape, dtype=np.int64)
    if op == "Reshape":
        shp = [int(s) for s in ins[1]]
        if not a.get("allowzero", 0):
            shp = [x.shape[i] if s == 0 else s for i, s in enumerate(shp)]
        return x.reshape(shp)
    if op == "Transpose":
        return np.transpose(x, a.get("perm"))
    if op == "Resize":
        return _resize(x, ins[1] if len(ins) > 1 else None, ins[2] if len(ins) > 2 else None,
                       ins[3] if len(ins) > 3 else None, a)
    raise NotImplementedError(op)


def run(model, feeds, keep_all=False):
    import onnx
    from onnx import numpy_helper
    if isinstance(model, str):
        model = onnx.load(model)
    env = {}
    for t in model.graph.initializer:
        arr = numpy_helper.to_array(t)
        env[t.name] = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    for k, v in feeds.items():
        env[k] = np.asarray(v, dtype=np.float64)
    for node in model.graph.node:
        a = _attrs(node)
        if node.op_type == "Constant":
            arr = numpy_helper.to_array(a["value"])
            env[node.output[0]] = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
            continue
        ins = [env[i] if i else None for i in node.input]
        env[node.output[0]] = _node(node.op_type, ins, a)
    if keep_all:
        return env
    return {o.name: env[o.name] for o in model.graph.output}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input", nargs="+")
    ap.add_argument("--expected")
    ap.add_argument("--dump")
    args = ap.parse_args()
    import onnx
    m = onnx.load(args.model)
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    env = run(m, {n: np.load(p) for n, p in zip(names, args.input)}, keep_all=True)
    y = env[m.graph.output[0].name]
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        for k, v in env.items():
            if k in inits:
                continue
            np.save(os.path.join(args.dump, re.sub(r"[^A-Za-z0-9_]", "_", k) + ".npy"),
                    np.asarray(v, dtype=np.float32 if np.asarray(v).dtype.kind == "f" else None))
    if args.expected:
        e = np.load(args.expected).astype(np.float64)
        d = np.abs(y - e).max()
        print("np_onnx %s: max|d|=%.3g max|ref|=%.3g rel=%.3g" %
              (args.model, d, np.abs(e).max(), d / np.abs(e).max()))
        return 0 if d <= 1e-4 * np.abs(e).max() else 1
    print(y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
