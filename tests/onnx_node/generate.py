#!/usr/bin/python3
"""Generate the ONNX backend node test data (onnx 1.12) into a directory.

Usage: /usr/bin/python3 generate.py OUT_DIR [--force]

Runs onnx.backend.test.cmd_tools generate-data -o OUT_DIR in-process, after
restoring the numpy aliases (np.float, np.int, ...) that numpy >= 1.24 removed
but the onnx 1.12 test case scripts still use.  Node tests end up in
OUT_DIR/node/<test_name>/.  A stamp file (OUT_DIR/.cnncc_generated) makes
repeated runs a no-op unless --force is given or the onnx version changed.
"""
import os
import sys
import time
import warnings

STAMP = ".cnncc_generated"


def _numpy_aliases():
    import numpy as np
    aliases = {
        "float": float, "int": int, "bool": bool, "object": object,
        "complex": complex, "str": str, "long": int, "unicode": str,
    }
    for name, val in aliases.items():
        # np.float etc. raise AttributeError (numpy >= 1.24) or warn (1.20-1.23)
        if name not in np.__dict__:
            setattr(np, name, val)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    force = "--force" in argv[1:]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    out = os.path.abspath(args[0])
    import onnx
    stamp = os.path.join(out, STAMP)
    want = "onnx %s\n" % onnx.__version__
    if not force and os.path.isfile(stamp):
        with open(stamp) as f:
            if f.read() == want and os.path.isdir(os.path.join(out, "node")):
                print("generate.py: %s up to date (%s)" % (out, want.strip()))
                return 0
    if os.path.exists(stamp):
        os.remove(stamp)

    _numpy_aliases()
    warnings.simplefilter("ignore")
    from onnx.backend.test import cmd_tools

    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    saved = sys.argv
    sys.argv = ["backend-test-tools", "generate-data", "-o", out]
    try:
        cmd_tools.main()
    finally:
        sys.argv = saved
    node_dir = os.path.join(out, "node")
    n = len([d for d in os.listdir(node_dir)
             if os.path.isfile(os.path.join(node_dir, d, "model.onnx"))])
    with open(stamp, "w") as f:
        f.write(want)
    print("generate.py: %d node tests in %s (%.1f s)" % (n, node_dir, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
