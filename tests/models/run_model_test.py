#!/usr/bin/env python3
"""Whole-model test: compile MODELDIR/model.onnx with cnncc, build and run the C
program, compare its output with MODELDIR/expected.npy (PyTorch).

usage: /usr/bin/python3 tests/models/run_model_test.py MODELDIR --cnncc PATH
           [--cc gcc] [--cflags "..."] [--sanitize] [--work DIR] [--keep]
           [--rtol 1e-4] [--timeout 300]

Steps (WORK = --work DIR, default a fresh temporary directory):
  1. CNNCC MODELDIR/model.onnx -o WORK/out/m.c --main
  2. CC -O2 -std=c99 -Wall -Wextra -Wpedantic -Werror WORK/out/*.c -o WORK/prog -lm
     (--sanitize: -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
      instead of -O2; --cflags are appended)
  3. WORK/prog MODELDIR/input.npy --out-dir WORK/res
  4. load WORK/res/<graph output name, chars outside [A-Za-z0-9_] -> '_'>.npy
     pass iff shape matches expected.npy and
              max|actual-expected| <= rtol * max|expected|   (rtol = 1e-4)
Always prints "model NAME: max|d|=.. max|ref|=.. rel=..". Exit 0 pass, 1 fail.
The graph output name comes from onnx.load(model.onnx), or from MODELDIR/meta.json
(written by export.py) when the onnx module is not available.
If PATH ends in .py it is run with this Python interpreter (see fake_cnncc.py).
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def graph_io_names(modeldir):
    """(input names, output names) of the graph, initializers excluded."""
    path = os.path.join(modeldir, "model.onnx")
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        m = onnx.load(path, load_external_data=False)
        inits = {i.name for i in m.graph.initializer}
        return ([i.name for i in m.graph.input if i.name not in inits],
                [o.name for o in m.graph.output])
    with open(os.path.join(modeldir, "meta.json")) as f:
        meta = json.load(f)
    return [i["name"] for i in meta["inputs"]], [o["name"] for o in meta["outputs"]]


def compare(actual, expected, rtol=1e-4):
    """Return (ok, message-fields dict)."""
    info = {"max_d": float("nan"), "max_ref": float(np.max(np.abs(expected)))
            if expected.size else 0.0, "rel": float("nan"), "why": ""}
    if actual.shape != expected.shape:
        info["why"] = "shape %s != expected %s" % (actual.shape, expected.shape)
        return False, info
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    if not np.all(np.isfinite(a)):
        info["why"] = "non-finite values in output (%d)" % int(np.sum(~np.isfinite(a)))
        return False, info
    d = float(np.max(np.abs(a - e))) if a.size else 0.0
    info["max_d"] = d
    ref = info["max_ref"]
    info["rel"] = d / ref if ref > 0 else (0.0 if d == 0 else float("inf"))
    ok = d <= rtol * ref if ref > 0 else d == 0.0
    if not ok:
        idx = np.unravel_index(int(np.argmax(np.abs(a - e))), a.shape)
        info["why"] = "worst at %s: got %.7g want %.7g (tolerance %.3g)" % (
            tuple(int(i) for i in idx), a[idx], e[idx], rtol * ref)
    return ok, info


def run(cmd, timeout, what, env=None):
    print("+ " + " ".join(shlex.quote(c) for c in cmd))
    sys.stdout.flush()
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        print("FAIL: %s timed out after %ss" % (what, timeout))
        return False, time.time() - t0
    dt = time.time() - t0
    out = p.stdout.decode("utf-8", "replace")
    if out.strip():
        lines = out.rstrip().splitlines()
        if len(lines) > 200:
            lines = lines[:100] + ["... (%d lines cut) ..." % (len(lines) - 150)] + lines[-50:]
        print("\n".join(lines))
    if p.returncode != 0:
        print("FAIL: %s exited with status %d (%.1fs)" % (what, p.returncode, dt))
        return False, dt
    return True, dt


def main():
    ap = argparse.ArgumentParser(description="cnncc whole-model test vs PyTorch")
    ap.add_argument("modeldir")
    ap.add_argument("--cnncc", required=True, help="path of the cnncc compiler")
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("--cflags", default="", help="extra C flags (appended)")
    ap.add_argument("--cnncc-flags", default="", help="extra cnncc options (e.g. --gemm libxsmm)")
    ap.add_argument("--libs", default="", help="extra libraries, after the sources (e.g. -lxsmm)")
    ap.add_argument("--sanitize", action="store_true",
                    help="build with ASan+UBSan (-O1 -g) instead of -O2")
    ap.add_argument("--work", help="work directory (default: fresh temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp work dir")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=float, default=300, help="seconds per step")
    ap.add_argument("--threads", type=int, default=1,
                    help="compile with --max-threads N and run the driver with --threads N")
    args = ap.parse_args()

    modeldir = os.path.abspath(args.modeldir)
    name = os.path.basename(os.path.normpath(modeldir))
    model = os.path.join(modeldir, "model.onnx")
    for f in ("model.onnx", "input.npy", "expected.npy"):
        if not os.path.exists(os.path.join(modeldir, f)):
            print("model %s: missing %s (run export.py first)" % (name, f))
            return 1

    tmp = None
    if args.work:
        work = os.path.abspath(args.work)
    else:
        work = tmp = tempfile.mkdtemp(prefix="cnncc-model-%s-" % name)
    outd, resd, prog = (os.path.join(work, "out"), os.path.join(work, "res"),
                        os.path.join(work, "prog"))
    for d in (outd, resd):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    if os.path.exists(prog):
        os.remove(prog)

    inputs, outputs = graph_io_names(modeldir)
    if len(inputs) != 1:
        print("model %s: expected exactly one graph input, got %s" % (name, inputs))
        return 1
    if len(outputs) != 1:
        print("note: graph has %d outputs, comparing the first (%s)" %
              (len(outputs), outputs[0]))
    out_file = os.path.join(resd, sanitize(outputs[0]) + ".npy")

    ok_all = False
    summary = False
    timings = []
    try:
        cnncc = [sys.executable, args.cnncc] if args.cnncc.endswith(".py") else [args.cnncc]
        threads = ["--max-threads", str(args.threads)] if args.threads > 1 else []
        ok, dt = run(cnncc + [model, "-o", os.path.join(outd, "m.c"), "--main"] + threads
                     + shlex.split(args.cnncc_flags),
                     args.timeout, "cnncc")
        timings.append(("cnncc", dt))
        if not ok:
            return 1
        srcs = sorted(glob.glob(os.path.join(outd, "*.c")))
        if not srcs:
            print("FAIL: cnncc wrote no .c file into %s" % outd)
            return 1
        opt = (["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
               if args.sanitize else ["-O2"])
        cc = shlex.split(args.cc)
        cmd = (cc + opt + ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
               + shlex.split(args.cflags) + srcs + ["-o", prog] + shlex.split(args.libs)
               + ["-lm", "-lpthread"])
        ok, dt = run(cmd, args.timeout, "C compiler")
        timings.append(("cc", dt))
        if not ok:
            return 1
        env = dict(os.environ)
        if args.sanitize:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        run_threads = ["--threads", str(args.threads)] if args.threads > 1 else []
        ok, dt = run([prog, os.path.join(modeldir, "input.npy"), "--out-dir", resd] + run_threads,
                     args.timeout, "compiled model", env)
        timings.append(("run", dt))
        if not ok:
            return 1
        if not os.path.exists(out_file):
            print("FAIL: %s not written; %s has: %s" % (
                out_file, resd, sorted(os.listdir(resd))))
            return 1
        actual = np.load(out_file)
        expected = np.load(os.path.join(modeldir, "expected.npy"))
        ok_all, info = compare(actual, expected, args.rtol)
        summary = True
        print("model %s: max|d|=%.3g max|ref|=%.3g rel=%.3g%s" % (
            name, info["max_d"], info["max_ref"], info["rel"],
            "" if ok_all else "  FAIL: " + info["why"]))
        print("timings: " + "  ".join("%s %.1fs" % t for t in timings))
        return 0 if ok_all else 1
    finally:
        if not ok_all:
            # always print the summary line, even when an earlier step failed
            if not summary:
                print("model %s: max|d|=nan max|ref|=nan rel=nan  FAIL" % name)
            if tmp:
                print("work dir kept: %s" % tmp)
        elif tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
