#!/usr/bin/env python3
"""cnncc --gemm: the option's user errors and what it selects.

  diag_test.py --cnncc CNNCC --work DIR

1. --gemm libxsmm with a non-x86 target (aarch64, armv7, cortex-m, generic) is a user error:
   exit status 1, one diagnostic naming the option and the target, no output file.
2. An unknown --gemm value, and --gemm libxsmm with --train (the train step has its own
   kernels), are user errors (exit status 1).
3. On x86-64, --dump=schedule shows libxsmm kernels on the Conv and on the Gemm, and the
   generated code includes cnnrt_xsmm.h and says how to link (-lxsmm) in NAME.h.
4. Without --gemm, and with --gemm own, the generated code does not use libxsmm."""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np


def write_model(path):
    from onnx import TensorProto, helper, numpy_helper
    import onnx
    rng = np.random.default_rng(3)

    def init(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
    N = helper.make_node
    nodes = [N("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("Relu", ["c"], ["r"]),
             N("Flatten", ["r"], ["f"]),
             N("Gemm", ["f", "w2", "b2"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "tiny",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                          [init("w", 4, 2, 3, 3), init("b", 4), init("w2", 5, 4 * 36),
                           init("b2", 5)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    model = os.path.join(a.work, "tiny.onnx")
    write_model(model)
    failures = []

    def cnncc(outdir, *args):
        return subprocess.run([a.cnncc, model, "-o", os.path.join(a.work, outdir, "m.c")]
                              + list(args), capture_output=True, text=True, timeout=60)

    for target in ("aarch64", "armv7", "cortex-m", "generic"):
        p = cnncc("bad_" + target, "--gemm", "libxsmm", "--target", target)
        lines = [l for l in p.stderr.splitlines() if "error" in l]
        if (p.returncode != 1 or len(lines) != 1 or "--gemm libxsmm" not in lines[0]
                or "x86-64" not in lines[0] or target not in lines[0]):
            failures.append("--target %s: status %d, stderr %r" % (target, p.returncode, p.stderr))
        if os.path.exists(os.path.join(a.work, "bad_" + target, "m.c")):
            failures.append("--target %s: an output file was written" % target)
    p = cnncc("bad_train", "--gemm", "libxsmm", "--train")
    if p.returncode != 1 or "without --train" not in p.stderr:
        failures.append("--gemm libxsmm --train: status %d, stderr %r" % (p.returncode, p.stderr))
    p = cnncc("bad_value", "--gemm", "blas")
    if p.returncode != 1 or "--gemm takes own or libxsmm" not in p.stderr:
        failures.append("--gemm blas: status %d, stderr %r" % (p.returncode, p.stderr))

    p = cnncc("xsmm", "--gemm", "libxsmm", "--dump=schedule")
    dump = p.stdout + p.stderr
    conv = [l for l in dump.splitlines() if "Conv" in l]
    gemm = [l for l in dump.splitlines() if "Gemm" in l]
    if p.returncode != 0:
        failures.append("--gemm libxsmm: status %d, stderr %r" % (p.returncode, p.stderr))
    elif not conv or not all("libxsmm" in l for l in conv) or not gemm or \
            not all("libxsmm" in l for l in gemm):
        failures.append("--dump=schedule does not show libxsmm on Conv and Gemm:\n" + dump)
    else:
        src = open(os.path.join(a.work, "xsmm", "m.c")).read()
        hdr = open(os.path.join(a.work, "xsmm", "m.h")).read()
        if '#include "cnnrt_xsmm.h"' not in src or "-lxsmm" not in hdr:
            failures.append("--gemm libxsmm: m.c does not include cnnrt_xsmm.h or m.h does not "
                            "say -lxsmm")
    for outdir, args in (("default", ()), ("own", ("--gemm", "own"))):
        p = cnncc(outdir, *args)
        src = open(os.path.join(a.work, outdir, "m.c")).read() if p.returncode == 0 else ""
        if p.returncode != 0 or "cnnrt_xsmm" in src or "#include" not in src:
            failures.append("%s: status %d, or libxsmm used" % (outdir, p.returncode))
    for f in failures:
        print("FAIL: " + f)
    print("diag: OK" if not failures else "diag: %d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
