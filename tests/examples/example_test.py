#!/usr/bin/env python3
"""Build and check the example applications (tests/examples/CMakeLists.txt runs this).

  example_test.py quickstart --cnncc CNNCC --cc CC --work DIR [--cflags "..."]
      Compiles examples/quickstart/fashion_cnn.onnx, builds classify.c with it (C99, -Werror),
      runs it with --logits on every sample and checks that the logits match PyTorch's
      (expected_logits.npy, max|d| <= 1e-4 * max|ref|), that every prediction equals the label
      in samples/labels.txt and that bad inputs are rejected with exit status 1.

  example_test.py reentrant --cnncc CNNCC --cc CC --work DIR [--cflags "..."] [--iterations N]
      Compiles the model twice (fashion_a: weights embedded; fashion_b: weights in a file),
      compiles a second, different CNN of the same input/output sizes (other_cnn.onnx, made
      here with onnx.helper), builds tests/examples/reentrant.c with the three and runs it:
      concurrent runs in several contexts must be bit-identical to sequential ones.

--cflags adds flags (e.g. sanitizers) to the compile and link commands; the sanitizers'
runtime options are set so that any report fails the test.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QUICKSTART = os.path.join(ROOT, "examples", "quickstart")
MODEL = os.path.join(QUICKSTART, "fashion_cnn.onnx")
SAMPLES = os.path.join(QUICKSTART, "samples")
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=66",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=66",
    "TSAN_OPTIONS": "halt_on_error=1:exitcode=66",
}


class Failure(Exception):
    pass


def run(cmd, cwd=None, check=True, timeout=300):
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    env = dict(os.environ, **SANITIZER_ENV)
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    if p.stdout:
        print(p.stdout, end="" if p.stdout.endswith("\n") else "\n")
    if p.stderr:
        print(p.stderr, end="" if p.stderr.endswith("\n") else "\n", file=sys.stderr)
    if check and p.returncode != 0:
        raise Failure("exit status %d: %s" % (p.returncode, cmd[0]))
    return p


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def read_labels():
    labels = []
    with open(os.path.join(SAMPLES, "labels.txt")) as f:
        for line in f:
            parts = line.split()
            if parts:
                labels.append((parts[0], int(parts[1])))
    return labels


def quickstart(args):
    work = os.path.abspath(args.work)
    fresh_dir(work)
    run([args.cnncc, MODEL, "-o", os.path.join(work, "fashion.c")])
    exe = os.path.join(work, "classify")
    run([args.cc, "-O2"] + STRICT + args.cflags + ["-I" + work,
         os.path.join(QUICKSTART, "classify.c"), os.path.join(work, "fashion.c"),
         "-o", exe, "-lm"])

    # Run from the samples folder: short names, and labels.txt is found in ".".
    labels = read_labels()
    files = [name for name, _ in labels]
    p = run([exe, "--logits"] + files, cwd=SAMPLES)
    lines = p.stdout.splitlines()

    # Expected layout: per image a result line, then "  logits: v0 ... v9"; then a summary.
    results, logits = [], []
    for line in lines:
        if line.startswith("  logits:"):
            logits.append([float(v) for v in line.split()[1:]])
        elif line and not line.startswith(" ") and line.split()[0] in files:
            results.append(line)
    if len(results) != len(files) or len(logits) != len(files):
        raise Failure("expected %d results with logits, got %d and %d"
                      % (len(files), len(results), len(logits)))
    got = np.array(logits, dtype=np.float64)
    ref = np.load(os.path.join(QUICKSTART, "expected_logits.npy")).astype(np.float64)
    if got.shape != ref.shape:
        raise Failure("logits shape %s, expected %s" % (got.shape, ref.shape))
    diff = np.abs(got - ref).max()
    tol = 1e-4 * np.abs(ref).max()
    print("logits vs PyTorch: max|d| = %.3g, tolerance %.3g" % (diff, tol))
    if not diff <= tol:
        raise Failure("logits differ from PyTorch's: max|d| %.3g > %.3g" % (diff, tol))

    for (name, label), line, row in zip(labels, results, got):
        if not line.startswith(name + " "):
            raise Failure("results out of order: %r for %s" % (line, name))
        if int(np.argmax(row)) != label:
            raise Failure("%s: predicted class %d, label %d" % (name, int(np.argmax(row)), label))
        if not line.rstrip().endswith("correct"):
            raise Failure("%s: the application does not report a correct prediction: %r"
                          % (name, line))
    summary = "%d of %d labelled images classified correctly" % (len(files), len(files))
    if summary not in lines:
        raise Failure("no summary line %r" % summary)

    # Bad inputs: reported on stderr, the rest still classified, exit status 1.
    bad = os.path.join(work, "bad")
    os.makedirs(bad)
    np.save(os.path.join(bad, "uint8.npy"), np.zeros((1, 1, 28, 28), np.uint8))
    np.save(os.path.join(bad, "shape.npy"), np.zeros((1, 3, 28, 28), np.float32))
    with open(os.path.join(SAMPLES, files[0]), "rb") as f:
        data = f.read()
    with open(os.path.join(bad, "truncated.npy"), "wb") as f:
        f.write(data[:len(data) // 2])
    with open(os.path.join(bad, "text.npy"), "w") as f:
        f.write("not a numpy file\n")
    bad_files = [os.path.join(bad, n) for n in
                 ("uint8.npy", "shape.npy", "truncated.npy", "text.npy", "missing.npy")]
    p = run([exe] + bad_files + [os.path.join(SAMPLES, files[1])], check=False)
    if p.returncode != 1:
        raise Failure("bad inputs: exit status %d, expected 1" % p.returncode)
    complaints = [l for l in p.stderr.splitlines() if l.startswith("classify: ")]
    if len(complaints) != len(bad_files) or "correct" not in p.stdout:
        raise Failure("bad inputs: expected %d complaints and one correct result"
                      % len(bad_files))
    if run([exe], check=False).returncode != 2:
        raise Failure("no arguments: expected exit status 2 (usage)")
    print("quickstart: OK")


def write_other_model(path):
    """A CNN unlike the quickstart one (other kernels: 5x5 conv with stride 2, sigmoid, average
    pooling, two Gemms) on the same 1x1x28x28 input with 10 outputs; fixed random weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)

    def init(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)
    N = helper.make_node
    nodes = [N("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[5, 5], strides=[2, 2],
               pads=[2, 2, 2, 2]),
             N("Sigmoid", ["c1"], ["s1"]),
             N("AveragePool", ["s1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             N("Flatten", ["p1"], ["f"]),
             N("Gemm", ["f", "w2", "b2"], ["g1"], transB=1),
             N("Relu", ["g1"], ["r"]),
             N("Gemm", ["r", "w3", "b3"], ["logits"], transB=1)]
    g = helper.make_graph(nodes, "other_cnn",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
                          [init("w1", 6, 1, 5, 5), init("b1", 6), init("w2", 32, 6 * 7 * 7),
                           init("b2", 32), init("w3", 10, 32), init("b3", 10)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def reentrant(args):
    work = os.path.abspath(args.work)
    fresh_dir(work)
    blob = os.path.join(work, "fashion_b.bin")
    flags = args.cnncc_flags
    run([args.cnncc, MODEL, "-o", os.path.join(work, "fashion_a.c")] + flags)
    run([args.cnncc, MODEL, "-o", os.path.join(work, "fashion_b.c"), "--weights", blob] + flags)
    other = os.path.join(work, "other_cnn.onnx")
    write_other_model(other)
    run([args.cnncc, other, "-o", os.path.join(work, "other.c")] + flags)
    exe = os.path.join(work, "reentrant")
    run([args.cc, "-O2", "-g"] + STRICT + args.cflags + ["-pthread", "-I" + work,
         os.path.join(HERE, "reentrant.c"), os.path.join(work, "fashion_a.c"),
         os.path.join(work, "fashion_b.c"), os.path.join(work, "other.c"), "-o", exe]
        + args.libs + ["-lm"])
    run([exe, blob, str(args.iterations)], timeout=args.timeout)
    print("reentrant: OK")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test", choices=["quickstart", "reentrant"])
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--cflags", default="", help="extra compile and link flags")
    ap.add_argument("--iterations", type=int, default=1000, help="reentrant: runs per thread")
    ap.add_argument("--cnncc-flags", default="", help="reentrant: extra cnncc options")
    ap.add_argument("--libs", default="", help="reentrant: extra libraries (after the sources)")
    ap.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()
    args.cflags = shlex.split(args.cflags)
    args.cnncc_flags = shlex.split(args.cnncc_flags)
    args.libs = shlex.split(args.libs)
    try:
        {"quickstart": quickstart, "reentrant": reentrant}[args.test](args)
    except (Failure, subprocess.TimeoutExpired, OSError) as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
