#!/usr/bin/python3
"""Run one ONNX backend node test through cnncc.

Usage: /usr/bin/python3 run_node_test.py TESTDIR --cnncc PATH [--cc gcc]
                                         [--cflags "..."] [--keep DIR] [-v]

Steps: cnncc TESTDIR/model.onnx -o WORK/out/m.c --main [--bind NAME=FILE.npy]...
       CC -O1 -std=c99 -Wall -Wextra -Wpedantic -Werror [CFLAGS] -o WORK/prog WORK/out/*.c -lm
       cd WORK/test_data_set_N && WORK/prog in0.npy in1.npy ... --out-dir res   (per data set)
then compares WORK/test_data_set_N/res/<sanitized output name>.npy with output_*.pb:
same shape, same dtype kind, allclose(rtol=1e-3, atol=1e-5, equal_nan) for
floats, exact equality otherwise.  Exit 0 when every data set passes, 1 on
failure (with a short reason), 2 on usage errors.

Graph inputs feeding shape-like / compile-time-constant slots (Reshape.shape,
Slice starts.., Pad pads, Resize scales, Clip min/max, ...) are passed with
--bind instead of at run time; their values come from the data set.  When
data sets disagree on bound values the model is recompiled per data set.
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

RTOL = 1e-3
ATOL = 1e-5

# op_type -> input slots that cnncc requires to be compile-time constants.
# Slots that do not exist at the model's opset version are simply absent
# from the node, so no version check is needed.
BIND_SLOTS = {
    "Reshape": (1,),
    "Expand": (1,),
    "Tile": (1,),
    "ConstantOfShape": (0,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 2, 3),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,),
    "ReduceSum": (1,), "ReduceL2": (1,), "ReduceL1": (1,),
    "ReduceProd": (1,), "ReduceLogSum": (1,), "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,),
    "Clip": (1, 2),
    "TopK": (1,),
    "OneHot": (1,),
    "Range": (0, 1, 2),
    # Not shape-like, but cnncc only does inference: ratio and training_mode
    # must be known at compile time.
    "Dropout": (1, 2),
}


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def bound_inputs(model):
    """Names of graph inputs that feed a BIND_SLOTS slot (any subgraph too)."""
    init = {t.name for t in model.graph.initializer}
    gin = [i.name for i in model.graph.input if i.name not in init]
    want = set()

    def walk(g):
        for n in g.node:
            for s in BIND_SLOTS.get(n.op_type, ()):
                if s < len(n.input) and n.input[s]:
                    want.add(n.input[s])
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)
    walk(model.graph)
    return [x for x in gin if x in want]


def resolve_exe(path):
    """Absolute path for an existing file, else leave it to the PATH search."""
    return os.path.abspath(path) if os.path.isfile(path) else path


class Fail(Exception):
    pass


def tail(text, n=15):
    lines = text.decode("utf-8", "replace").strip().splitlines() if isinstance(text, bytes) else text.strip().splitlines()
    if len(lines) > n:
        lines = lines[:n] + ["... (%d more lines)" % (len(lines) - n)]
    return "\n".join("    " + l for l in lines)


def run(cmd, stage, deadline, cwd=None):
    left = deadline - time.time()
    if left <= 1:
        raise Fail("%s: out of time budget" % stage)
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=left)
    except subprocess.TimeoutExpired:
        raise Fail("%s: timed out (%.0f s)\n  $ %s" % (stage, left, " ".join(map(shlex.quote, cmd))))
    except OSError as e:
        raise Fail("%s: cannot run %s: %s" % (stage, cmd[0], e))
    if p.returncode != 0:
        rc = p.returncode
        how = ("killed by signal %d" % -rc) if rc < 0 else ("exit status %d" % rc)
        raise Fail("%s failed (%s)\n  $ %s\n%s" % (stage, how, " ".join(map(shlex.quote, cmd)), tail(p.stdout)))
    return p.stdout


def load_pb(path, vinfo):
    if not vinfo.type.HasField("tensor_type"):
        kind = vinfo.type.WhichOneof("value")
        raise Fail("load: %s has non-tensor type '%s' (unsupported)" % (vinfo.name, kind))
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # e.g. unsupported data type
        raise Fail("load: %s: %s" % (os.path.basename(path), e))


def save_npy(path, arr):
    try:
        np.save(path, arr, allow_pickle=False)
    except Exception as e:
        raise Fail("write: cannot save %s (dtype %s) as .npy: %s" % (os.path.basename(path), arr.dtype, e))


def kind(dt):
    k = np.dtype(dt).kind
    return {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}.get(k, "other(%s)" % dt)


def compare(name, act, exp):
    if act.shape != exp.shape:
        raise Fail("compare %s: shape %s, expected %s" % (name, act.shape, exp.shape))
    if kind(act.dtype) != kind(exp.dtype):
        raise Fail("compare %s: dtype %s, expected %s" % (name, act.dtype, exp.dtype))
    k = kind(exp.dtype)
    if k in ("float", "complex"):
        a = act.astype(np.complex128 if k == "complex" else np.float64)
        e = exp.astype(np.complex128 if k == "complex" else np.float64)
        ok = np.isclose(a, e, rtol=RTOL, atol=ATOL, equal_nan=True)
        if not ok.all():
            with np.errstate(all="ignore"):
                d = np.abs(a - e)
                fin = np.isfinite(d)
                mabs = d[fin].max() if fin.any() else float("nan")
                rel = d / np.abs(e)
                rfin = np.isfinite(rel)
                mrel = rel[rfin].max() if rfin.any() else float("nan")
            idx = tuple(int(i) for i in np.argwhere(~ok)[0])
            raise Fail("compare %s: %d/%d elements differ; max abs err %.3g, max rel err %.3g; "
                       "first at %s: got %r expected %r"
                       % (name, int((~ok).sum()), ok.size, mabs, mrel, idx,
                          a[idx].item(), e[idx].item()))
    else:
        if not np.array_equal(act, exp):
            ne = act != exp
            idx = tuple(int(i) for i in np.argwhere(ne)[0]) if ne.ndim else ()
            raise Fail("compare %s: %d/%d elements differ; first at %s: got %r expected %r"
                       % (name, int(np.sum(ne)), exp.size, idx, act[idx].item(), exp[idx].item()))


def run_test(a, work):
    tdir = os.path.abspath(a.testdir)
    model_path = os.path.join(tdir, "model.onnx")
    model = onnx.load(model_path)
    init = {t.name for t in model.graph.initializer}
    ginputs = [i for i in model.graph.input if i.name not in init]
    goutputs = list(model.graph.output)
    binds = set(bound_inputs(model))
    sets = sorted(glob.glob(os.path.join(tdir, "test_data_set_*")),
                  key=lambda p: int(p.rsplit("_", 1)[1]))
    if not sets:
        raise Fail("setup: no test_data_set_* in %s" % tdir)
    deadline = time.time() + a.timeout
    cc = shlex.split(a.cc)
    cflags = shlex.split(a.cflags or "")
    cnncc_flags = shlex.split(a.cnncc_flags or "")
    libs = shlex.split(a.libs or "")
    builds = []   # [(bind values dict, prog path)]
    for ds in sets:
        dsn = os.path.basename(ds)
        n_in = len(glob.glob(os.path.join(ds, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(ds, "output_*.pb")))
        if n_in > len(ginputs) or n_out != len(goutputs):
            raise Fail("setup: %s has %d inputs/%d outputs, graph has %d/%d"
                       % (dsn, n_in, n_out, len(ginputs), len(goutputs)))
        inputs = [(ginputs[j].name, load_pb(os.path.join(ds, "input_%d.pb" % j), ginputs[j]))
                  for j in range(n_in)]
        expected = [(goutputs[j].name, load_pb(os.path.join(ds, "output_%d.pb" % j), goutputs[j]))
                    for j in range(n_out)]
        bvals = {n: v for n, v in inputs if n in binds}
        prog = None
        for bv, p in builds:
            if bv.keys() == bvals.keys() and all(
                    bv[k].dtype == bvals[k].dtype and bv[k].shape == bvals[k].shape
                    and np.array_equal(bv[k], bvals[k]) for k in bv):
                prog = p
        if prog is None:
            bdir = os.path.join(work, "build%d" % len(builds)) if builds else work
            outdir = os.path.join(bdir, "out")
            os.makedirs(outdir, exist_ok=True)
            cmd = [a.cnncc, model_path, "-o", os.path.join(outdir, "m.c"), "--main"] + cnncc_flags
            for j, (n, v) in enumerate(inputs):
                if n in bvals:
                    f = os.path.join(bdir, "bind_%d_%s.npy" % (j, sanitize(n)))
                    save_npy(f, v)
                    cmd += ["--bind", "%s=%s" % (n, f)]
            run(cmd, "cnncc", deadline)
            srcs = sorted(glob.glob(os.path.join(outdir, "*.c")))
            if not srcs:
                raise Fail("cnncc: produced no .c files in %s" % outdir)
            prog = os.path.join(bdir, "prog")
            run(cc + ["-O1", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
                + cflags + ["-o", prog] + srcs + libs + ["-lm"], "compile", deadline)
            builds.append((bvals, prog))
        rdir = os.path.join(work, dsn)
        res = os.path.join(rdir, "res")
        if os.path.isdir(res):
            shutil.rmtree(res)
        os.makedirs(res)
        argv = [prog]
        for j, (n, v) in enumerate(inputs):
            if n not in bvals:
                f = os.path.join(rdir, "in%d.npy" % j)
                save_npy(f, v)
                argv.append(f)
        run(argv + ["--out-dir", res], "run(%s)" % dsn, deadline, cwd=rdir)
        for n, exp in expected:
            f = os.path.join(res, sanitize(n) + ".npy")
            if not os.path.isfile(f):
                have = sorted(os.listdir(res))
                raise Fail("compare %s (%s): output file %s missing; res/ has: %s"
                           % (n, dsn, os.path.basename(f), " ".join(have[:10]) or "nothing"))
            try:
                act = np.load(f, allow_pickle=False)
            except Exception as e:
                raise Fail("compare %s (%s): cannot load %s: %s" % (n, dsn, f, e))
            try:
                compare(n, act, exp)
            except Fail as e:
                raise Fail("%s [%s]" % (e, dsn))
        if a.verbose:
            print("  %s ok" % dsn)
    return len(sets), len(builds), sorted(binds)


def main():
    ap = argparse.ArgumentParser(description="Run one ONNX backend node test through cnncc.")
    ap.add_argument("testdir")
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", default=os.environ.get("CC") or "gcc")
    ap.add_argument("--cflags", default="", help="extra C compiler flags (appended)")
    ap.add_argument("--cnncc-flags", default="", help="extra cnncc options (e.g. --gemm libxsmm)")
    ap.add_argument("--libs", default="", help="extra libraries, after the sources (e.g. -lxsmm)")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    ap.add_argument("--timeout", type=float, default=110.0, help="total time budget in seconds")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    name = os.path.basename(os.path.normpath(a.testdir))
    if not os.path.isfile(os.path.join(a.testdir, "model.onnx")):
        print("%s: no model.onnx in %s" % (name, a.testdir))
        return 2
    a.cnncc = resolve_exe(a.cnncc)
    if a.keep:
        work = os.path.abspath(a.keep)
        if os.path.isdir(work):
            shutil.rmtree(work)
        os.makedirs(work)
    else:
        work = tempfile.mkdtemp(prefix="cnncc_node_")
    try:
        nsets, nbuilds, binds = run_test(a, work)
    except Fail as e:
        print("FAIL %s: %s" % (name, e))
        if a.keep:
            print("  work dir kept: %s" % work)
        return 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("PASS %s (%d data set%s%s)" % (name, nsets, "" if nsets == 1 else "s",
                                        ("; bound: " + ", ".join(binds)) if binds else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
