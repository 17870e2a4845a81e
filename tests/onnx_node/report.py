#!/usr/bin/python3
"""Run ALL ONNX backend node tests through cnncc and summarize (release notes).

Usage: /usr/bin/python3 report.py DATA_DIR --cnncc PATH [-j 2] [--filter REGEX]
                                  [--cc CC] [--cflags "..."] [--failures] [--log FILE]

DATA_DIR is the generate.py output directory (or its node/ subdirectory).
Every test (selected by ops.txt or not) runs via run_node_test.py, 2 at a
time by default.  Prints pass/fail per op family (split into tests selected
for ctest and the others), failure counts per stage, and the tests that pass
although they are outside the selected list.  --log writes one line per test
(PASS/FAIL + reason) to FILE.
"""
import argparse
import collections
import concurrent.futures as cf
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

TIMEOUT = 120


def run_one(test_dir, a):
    cmd = [sys.executable, os.path.join(HERE, "run_node_test.py"), test_dir, "--cnncc", a.cnncc]
    if a.cc:
        cmd += ["--cc", a.cc]
    if a.cflags:
        cmd += ["--cflags=" + a.cflags]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        out = p.stdout.decode("utf-8", "replace")
        ok = p.returncode == 0
    except subprocess.TimeoutExpired:
        out, ok = "FAIL: timeout: runner exceeded %d s" % TIMEOUT, False
    return ok, out.strip(), time.time() - t0


def one_line(out, limit=220):
    """FAIL line plus the first line of the failing tool's own message."""
    lines = [l for l in out.splitlines() if l.strip()]
    if not lines:
        return "(no output)"
    msg = lines[0]
    rest = [l.strip() for l in lines[1:] if not l.lstrip().startswith("$ ")
            and not l.lstrip().startswith("work dir kept")]
    if rest:
        msg += " -- " + rest[0]
    return msg if len(msg) <= limit else msg[:limit - 3] + "..."


def stage_of(out):
    m = re.search(r"^FAIL [^:]*: (\w+)", out, re.M) or re.search(r"^FAIL: (\w+)", out, re.M)
    if not m:
        return "runner"
    s = m.group(1)
    return {"run": "run"}.get(s, s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("data_dir")
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--filter", default=None, help="only tests whose name matches REGEX")
    ap.add_argument("--cc", default=None)
    ap.add_argument("--cflags", default=None)
    ap.add_argument("--failures", action="store_true", help="print every failure reason")
    ap.add_argument("--log", default=None)
    a = ap.parse_args()
    a.cnncc = common.resolve_exe(a.cnncc)
    ndir = common.node_dir(a.data_dir)
    supported = common.load_ops()
    info = common.test_info(ndir)
    tests = sorted(info)
    if a.filter:
        tests = [t for t in tests if re.search(a.filter, t)]
    excluded = common.load_excluded()
    selected = {t for t in tests
                if common.is_selected(info[t][1], supported, info[t][0]) and t not in excluded}

    results = {}
    t0 = time.time()
    with cf.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {ex.submit(run_one, os.path.join(ndir, t), a): t for t in tests}
        for i, f in enumerate(cf.as_completed(futs), 1):
            t = futs[f]
            results[t] = f.result()
            if sys.stderr.isatty():
                sys.stderr.write("\r[%d/%d] %-60s" % (i, len(tests), t[:60]))
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 80 + "\r")
    wall = time.time() - t0

    if a.log:
        with open(a.log, "w") as f:
            for t in tests:
                ok, out, dt = results[t]
                f.write("PASS %s\n" % t if ok else one_line(out, 10000) + "\n")

    # per family: [sel_pass, sel_total, other_pass, other_total]
    fam = collections.defaultdict(lambda: [0, 0, 0, 0])
    for t in tests:
        ok = results[t][0]
        row = fam[info[t][0]]
        k = 0 if t in selected else 2
        row[k + 1] += 1
        row[k] += ok
    order = [o for o in supported if o in fam] + sorted(o for o in fam if o not in supported)
    w = max([len(o) for o in order] + [6]) if order else 6
    print("%-*s  %-11s  %-11s" % (w, "op", "selected", "other"))
    for o in order:
        sp, st, op_, ot = fam[o]
        cell = lambda p, n: ("%d/%d" % (p, n)) if n else "-"
        mark = "" if (sp == st and op_ == ot) else "  <"
        print("%-*s  %-11s  %-11s%s" % (w, o, cell(sp, st), cell(op_, ot), mark))
    missing = [o for o in supported if o not in fam]
    if missing and not a.filter:
        print("no test in onnx %s: %s" % (_onnx_version(), " ".join(missing)))

    sel_pass = sum(results[t][0] for t in selected)
    oth = [t for t in tests if t not in selected]
    oth_pass = sorted(t for t in oth if results[t][0])
    print()
    print("selected: %d/%d passed" % (sel_pass, len(selected)))
    print("other:    %d/%d passed" % (len(oth_pass), len(oth)))
    print("total:    %d/%d passed in %.0f s (-j %d)" % (sel_pass + len(oth_pass), len(tests), wall, a.jobs))

    stages = collections.Counter(stage_of(results[t][1]) for t in selected if not results[t][0])
    if stages:
        print("selected failures by stage: " + ", ".join("%s %d" % kv for kv in stages.most_common()))
    sel_fail = sorted(t for t in selected if not results[t][0])
    if sel_fail:
        print("\nfailing selected tests (%d):" % len(sel_fail))
        for t in sel_fail:
            out = results[t][1]
            if a.failures:
                print("  " + out.replace("\n", "\n  "))
            else:
                print("  " + one_line(out))
    if oth_pass:
        print("\npassing tests outside the selected list (%d):" % len(oth_pass))
        for t in oth_pass:
            print("  %-60s %s" % (t, " ".join(sorted(set(info[t][1])))))
    return 0 if sel_pass == len(selected) else 1


def _onnx_version():
    import onnx
    return onnx.__version__


if __name__ == "__main__":
    sys.exit(main())
