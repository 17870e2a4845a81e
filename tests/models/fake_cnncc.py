#!/usr/bin/env python3
"""Stand-in for cnncc, used only to test run_model_test.py itself.

usage: fake_cnncc.py MODELDIR/model.onnx -o OUT/NAME.c --main

Writes OUT/NAME.c (the bytes of MODELDIR/expected.npy as a C array) and
OUT/NAME_main.c (a driver with cnncc's CLI: `prog INPUT.npy --out-dir DIR`, which
checks that INPUT.npy exists and starts with the npy magic and writes
DIR/<sanitised graph output name>.npy).  Env FAKE_CNNCC_PERTURB=EPS adds EPS to the
first element, so that the failure path of the runner can be tested too.
"""
import io
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_model_test import graph_io_names, sanitize  # noqa: E402


def main():
    a = sys.argv[1:]
    if len(a) != 4 or a[1] != "-o" or a[3] != "--main":
        print("usage: fake_cnncc.py MODEL.onnx -o OUT/NAME.c --main", file=sys.stderr)
        return 2
    model, out = a[0], a[2]
    modeldir = os.path.dirname(os.path.abspath(model))
    y = np.load(os.path.join(modeldir, "expected.npy")).astype(np.float32)
    eps = float(os.environ.get("FAKE_CNNCC_PERTURB", "0"))
    if eps:
        y.flat[0] += eps
    buf = io.BytesIO()
    np.save(buf, y)
    data = buf.getvalue()
    _, outputs = graph_io_names(modeldir)
    fname = sanitize(outputs[0]) + ".npy"
    base = out[:-2] if out.endswith(".c") else out
    rows = [", ".join(str(b) for b in data[i:i + 20]) for i in range(0, len(data), 20)]
    with open(base + ".c", "w") as f:
        f.write("/* fake cnncc output: the expected tensor as npy bytes */\n"
                "#include <stddef.h>\n"
                "const unsigned char fake_npy[%d] = {\n  %s\n};\n"
                "const size_t fake_npy_len = %d;\n" % (len(data), ",\n  ".join(rows), len(data)))
    with open(base + "_main.c", "w") as f:
        f.write(r'''#include <stdio.h>
#include <string.h>
#include <stddef.h>
extern const unsigned char fake_npy[];
extern const size_t fake_npy_len;
int main(int argc, char **argv)
{
    const char *in = NULL, *dir = ".";
    char path[4096], magic[6];
    FILE *f;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc) dir = argv[++i];
        else in = argv[i];
    }
    if (!in) { fprintf(stderr, "usage: %s INPUT.npy [--out-dir DIR]\n", argv[0]); return 2; }
    f = fopen(in, "rb");
    if (!f || fread(magic, 1, 6, f) != 6 || memcmp(magic, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "%s: cannot read npy\n", in);
        return 1;
    }
    fclose(f);
    sprintf(path, "%.3000s/%s", dir, "@FNAME@");
    f = fopen(path, "wb");
    if (!f || fwrite(fake_npy, 1, fake_npy_len, f) != fake_npy_len) return 1;
    fclose(f);
    printf("wrote %s\n", path);
    return 0;
}
'''.replace("@FNAME@", fname))
    return 0


if __name__ == "__main__":
    sys.exit(main())
