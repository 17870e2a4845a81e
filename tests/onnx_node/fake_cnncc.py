#!/usr/bin/python3
"""A tiny stand-in for cnncc, used only to self-test the node test harness.

Same CLI as cnncc (MODEL -o OUT/NAME.c --main [--bind NAME=FILE.npy]...) but
it handles only single-node graphs of a few ops on float32/int64/bool tensors
(Identity Relu Neg Abs Sqrt Exp Floor Ceil Sigmoid, same-shape
Add Sub Mul Div, Reshape with a bound shape, Clip with bound min/max).  It
emits real C99: a model file and a _main.c driver with a minimal .npy
reader/writer.
"""
import argparse
import os
import re
import sys

import numpy as np
import onnx

UNARY = {"Identity": "x", "Relu": "(x > 0 ? x : 0)", "Neg": "-x", "Abs": "fabs(x)",
         "Sqrt": "sqrt(x)", "Exp": "exp(x)", "Floor": "floor(x)", "Ceil": "ceil(x)",
         "Sigmoid": "1 / (1 + exp(-x))"}
BINARY = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}
CTYPE = {onnx.TensorProto.FLOAT: ("float", "<f4"), onnx.TensorProto.INT64: ("long long", "<i8"),
         onnx.TensorProto.BOOL: ("unsigned char", "|b1"), onnx.TensorProto.DOUBLE: ("double", "<f8"),
         onnx.TensorProto.INT32: ("int", "<i4")}


def die(msg):
    sys.stderr.write("fake_cnncc: error: %s\n" % msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("-o", required=True)
    ap.add_argument("--main", action="store_true")
    ap.add_argument("--bind", action="append", default=[])
    a = ap.parse_args()
    m = onnx.load(a.model)
    binds = {}
    for b in a.bind:
        n, f = b.split("=", 1)
        binds[n] = np.load(f)
    g = m.graph
    if len(g.node) != 1:
        die("only single-node graphs are supported (got %d nodes)" % len(g.node))
    node = g.node[0]
    op = node.op_type
    ins = [i for i in g.input if i.name not in binds]
    out = g.output[0]

    def info(v):
        tt = v.type.tensor_type
        if tt.elem_type not in CTYPE:
            die("unsupported dtype %s for %s" % (onnx.TensorProto.DataType.Name(tt.elem_type), v.name))
        shape = [d.dim_value for d in tt.shape.dim]
        return CTYPE[tt.elem_type], shape

    (oct, odescr), oshape = info(out)
    n = int(np.prod(oshape)) if oshape else 1
    body = []
    if op in UNARY and len(ins) == 1:
        body.append("for (i = 0; i < %d; i++) { double x = in0[i]; out[i] = (%s)(%s); }" % (n, oct, UNARY[op]))
    elif op in BINARY and len(ins) == 2 and info(ins[0])[1] == info(ins[1])[1] == oshape:
        body.append("for (i = 0; i < %d; i++) out[i] = (%s)(in0[i] %s in1[i]);" % (n, oct, BINARY[op]))
    elif op == "Reshape" and node.input[1] in binds:
        shape = [int(s) for s in binds[node.input[1]]]
        body.append("for (i = 0; i < %d; i++) out[i] = in0[i];" % n)
    elif op == "Clip" and len(ins) == 1:
        lo = float(binds[node.input[1]]) if len(node.input) > 1 and node.input[1] else -1e300
        hi = float(binds[node.input[2]]) if len(node.input) > 2 and node.input[2] else 1e300
        body.append("for (i = 0; i < %d; i++) { double x = in0[i]; out[i] = (%s)(x < %r ? %r : x > %r ? %r : x); }"
                    % (n, oct, lo, lo, hi, hi))
    else:
        die("op %s not supported by the fake" % op)

    odir = os.path.dirname(os.path.abspath(a.o))
    base = os.path.splitext(os.path.basename(a.o))[0]
    params = ", ".join(["const %s *in%d" % (info(v)[0][0], k) for k, v in enumerate(ins)] + ["%s *out" % oct])
    with open(a.o, "w") as f:
        f.write("#include <math.h>\nvoid model_run(%s);\nvoid model_run(%s)\n{\n    int i;\n    %s\n}\n"
                % (params, params, "\n    ".join(body)))
    # driver
    lines = ["#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", "",
             "void model_run(%s);" % params, "",
             "static void *load(const char *p, const char *descr, size_t n, size_t esz)",
             "{",
             "    FILE *f = fopen(p, \"rb\"); unsigned char h[10]; char hdr[4096]; size_t hl; void *d;",
             "    if (!f) { fprintf(stderr, \"cannot open %s\\n\", p); exit(1); }",
             "    if (fread(h, 1, 10, f) != 10 || memcmp(h, \"\\x93NUMPY\", 6) != 0) { fprintf(stderr, \"bad npy %s\\n\", p); exit(1); }",
             "    hl = (size_t)h[8] | ((size_t)h[9] << 8);",
             "    if (hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) { fprintf(stderr, \"bad header\\n\"); exit(1); }",
             "    hdr[hl] = 0;",
             "    if (!strstr(hdr, descr)) { fprintf(stderr, \"%s: dtype mismatch (want %s): %s\\n\", p, descr, hdr); exit(1); }",
             "    d = calloc(n ? n : 1, esz);",
             "    if (fread(d, esz, n, f) != n) { fprintf(stderr, \"%s: short read\\n\", p); exit(1); }",
             "    fclose(f); return d;",
             "}", "",
             "static void save(const char *dir, const char *name, const char *descr, const char *shape, const void *d, size_t n, size_t esz)",
             "{",
             "    char path[4096], hdr[256]; size_t hl, tot; FILE *f;",
             "    sprintf(path, \"%s/%s.npy\", dir, name);",
             "    hl = (size_t)sprintf(hdr, \"{'descr': '%s', 'fortran_order': False, 'shape': %s, }\", descr, shape);",
             "    tot = 10 + hl + 1; while (tot % 64) { hdr[hl++] = ' '; tot++; } hdr[hl++] = '\\n';",
             "    f = fopen(path, \"wb\"); if (!f) { fprintf(stderr, \"cannot write %s\\n\", path); exit(1); }",
             "    fwrite(\"\\x93NUMPY\\x01\\x00\", 1, 8, f); fputc((int)(hl & 255), f); fputc((int)(hl >> 8), f);",
             "    fwrite(hdr, 1, hl, f); fwrite(d, esz, n, f); fclose(f);",
             "}", "",
             "int main(int argc, char **argv)",
             "{",
             "    const char *od = \".\"; int k;"]
    for k, v in enumerate(ins):
        (ct, descr), shp = info(v)
        lines.append("    %s *in%d;" % (ct, k))
    lines.append("    %s *out = calloc(%d, sizeof(%s));" % (oct, max(n, 1), oct))
    lines.append("    for (k = 1; k < argc; k++) if (!strcmp(argv[k], \"--out-dir\") && k + 1 < argc) od = argv[k + 1];")
    lines.append("    if (argc < %d) { fprintf(stderr, \"usage: prog inputs... --out-dir D\\n\"); return 2; }" % (len(ins) + 1))
    for k, v in enumerate(ins):
        (ct, descr), shp = info(v)
        nn = int(np.prod(shp)) if shp else 1
        lines.append("    in%d = load(argv[%d], \"%s\", %d, sizeof(%s));" % (k, k + 1, descr, nn, ct))
    lines.append("    model_run(%s);" % ", ".join(["in%d" % k for k in range(len(ins))] + ["out"]))
    shp = oshape if op != "Reshape" else list(np.empty(int(np.prod(info(ins[0])[1])))
                                                 .reshape([s if s != 0 else info(ins[0])[1][i]
                                                           for i, s in enumerate(shape)]).shape)
    shs = "(" + "".join("%d, " % s for s in shp).rstrip(" ") + ")" if len(shp) != 1 else "(%d,)" % shp[0]
    shs = shs.replace(",)", ")") if len(shp) > 1 else shs
    lines.append("    save(od, \"%s\", \"%s\", \"%s\", out, %d, sizeof(%s));"
                 % (re.sub(r"[^A-Za-z0-9_]", "_", out.name), odescr, shs, n, oct))
    lines.append("    return 0;")
    lines.append("}")
    with open(os.path.join(odir, base + "_main.c"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
