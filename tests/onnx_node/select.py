#!/usr/bin/python3
"""Select the ONNX backend node tests that cnncc is expected to support.

Usage: /usr/bin/python3 select.py DATA_DIR [-o LIST_FILE] [--ops OPS_TXT] [-q]

DATA_DIR is the generate.py output directory (or its node/ subdirectory).
A test is selected when every node of its graph (subgraphs included) is an
ai.onnx op listed in ops.txt.  Selected test names go to LIST_FILE (one per
line) or, without -o, to stdout.  A per-op summary goes to stderr (stdout
when -o is given) unless -q.
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def select(data_dir, ops_file=None):
    supported = common.load_ops(ops_file)
    info = common.test_info(data_dir)
    excluded = common.load_excluded()
    sel = [t for t, (fam, ops) in sorted(info.items())
           if common.is_selected(ops, supported, fam) and t not in excluded]
    return supported, info, sel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("data_dir")
    ap.add_argument("-o", "--output")
    ap.add_argument("--ops", default=None)
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(common.node_dir(a.data_dir)):
        sys.stderr.write("select.py: no such directory %s\n" % a.data_dir)
        return 1
    supported, info, sel = select(a.data_dir, a.ops)
    text = "".join(t + "\n" for t in sel)
    if a.output:
        with open(a.output + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.output + ".tmp", a.output)
        log = sys.stdout
    else:
        sys.stdout.write(text)
        log = sys.stderr
    if not a.quiet:
        per = collections.Counter(info[t][0] for t in sel)
        w = max(len(o) for o in supported)
        for op in supported:
            log.write("  %-*s %4d%s\n" % (w, op, per.get(op, 0),
                                          "" if per.get(op) else "   (no test)"))
        for fam in sorted(set(per) - set(supported)):
            log.write("  %-*s %4d   (expanded function)\n" % (w, fam, per[fam]))
        log.write("select.py: %d of %d node tests selected\n" % (len(sel), len(info)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
