#!/usr/bin/env python3
"""Run a list of ONNX backend node tests through cnncc for a cross target, as one test case.

usage: /usr/bin/python3 tests/arm/run_node_tests.py LIST NODEDIR --cnncc PATH --cc "CC..."
           [--cflags "..."] [--name aarch64] [-j N] [--timeout 110]

LIST is the file of selected test names that tests/onnx_node writes at configure time
(<build>/tests/onnx_node/onnx_node_tests.txt), NODEDIR the folder holding <test>/model.onnx.
Each test goes through tests/onnx_node/run_node_test.py with --cnncc PATH --cc CC --cflags ...
(its run_test(), called in this process to save a Python start per test; --subprocess runs
the script itself instead). For a cross target CC is tests/arm/qemu_cc.sh, which leaves a
program that runs the ARM binary under qemu-user, and PATH a cnncc wrapper that adds
--target. N tests run at a time (default 2). Prints every failure with its reason, then
"NAME: P/T passed"; exit 0 when all pass, 1 otherwise.
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER_DIR = os.path.normpath(os.path.join(HERE, "..", "onnx_node"))
RUNNER = os.path.join(RUNNER_DIR, "run_node_test.py")


def run_one_inproc(rnt, args, test):
    """run_node_test.run_test() in this process; same outcome lines as its main()."""
    t0 = time.time()
    a = argparse.Namespace(testdir=os.path.join(args.nodedir, test), cnncc=args.cnncc,
                           cc=args.cc, cflags=args.cflags, cnncc_flags="", libs="", keep=None,
                           timeout=args.timeout, verbose=False)
    work = tempfile.mkdtemp(prefix="cnncc_arm_node_")
    try:
        rnt.run_test(a, work)
        out, rc = "PASS %s" % test, 0
    except rnt.Fail as e:
        out, rc = "FAIL %s: %s" % (test, e), 1
    except Exception as e:  # a bug here or a changed run_node_test.py: say so, do not hide it
        out, rc = "FAIL %s: %s: %s (try --subprocess)" % (test, type(e).__name__, e), 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return test, rc, out, time.time() - t0


def run_one(args, test):
    cmd = [sys.executable, RUNNER, os.path.join(args.nodedir, test), "--cnncc", args.cnncc,
           "--cc", args.cc, "--timeout", str(args.timeout)]
    if args.cflags:
        cmd.append("--cflags=" + args.cflags)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=args.timeout + 30)
        out, rc = p.stdout.decode("utf-8", "replace").strip(), p.returncode
    except subprocess.TimeoutExpired:
        out, rc = "FAIL %s: runner timed out" % test, 1
    return test, rc, out, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("list")
    ap.add_argument("nodedir")
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("--cflags", default="")
    ap.add_argument("--name", default="onnx_node")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=110.0, help="seconds per node test")
    ap.add_argument("--subprocess", action="store_true",
                    help="run run_node_test.py as a program for every test")
    args = ap.parse_args()
    args.cnncc = os.path.abspath(args.cnncc) if os.path.isfile(args.cnncc) else args.cnncc
    one = lambda t: run_one(args, t)
    if not args.subprocess:
        sys.path.insert(0, RUNNER_DIR)
        import run_node_test as rnt
        one = lambda t: run_one_inproc(rnt, args, t)

    with open(args.list) as f:
        tests = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    if not tests:
        print("%s: no tests in %s" % (args.name, args.list))
        return 1
    t0 = time.time()
    failed = []
    slowest = (0.0, "")
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        for test, rc, out, dt in ex.map(one, tests):
            slowest = max(slowest, (dt, test))
            if rc != 0:
                failed.append(test)
                print(out if out else "FAIL %s: exit status %d" % (test, rc))
                sys.stdout.flush()
    passed = len(tests) - len(failed)
    print("%s: %d/%d passed in %.0fs (slowest: %s, %.1fs)" % (
        args.name, passed, len(tests), time.time() - t0, slowest[1], slowest[0]))
    if failed:
        print("%s: failed: %s" % (args.name, " ".join(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
