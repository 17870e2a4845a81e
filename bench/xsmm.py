#!/usr/bin/env python3
"""cnncc's own GEMM kernels vs --gemm libxsmm, same models, same run (bench/run.sh --libxsmm).

usage: /usr/bin/python3 bench/xsmm.py --work build/bench --cnncc build/cnncc
                                      [--models resnet18,...] [--rounds R] [--runs N]

For each model exported by export_models.py (WORK/models/NAME/{model.onnx,input.npy}):
  cnncc model.onnx -o WORK/xsmm/NAME/{own,libxsmm}/m.c --main --max-threads 2 --weights w.bin
        [--gemm libxsmm]
  gcc -O3 -march=native */m*.c -o prog -lm -lpthread [-lxsmm -lxsmmnoblas -ldl]
then R alternating rounds (order rotated each round) of `prog input.npy --bench N --threads T`
for own and libxsmm at 1 and 2 threads, each a fresh process; the medians of the per-process
medians are reported. The outputs of the two builds are compared (max|d| / max|ref|).
Per layer: bench/layer_profile.py --cputime (one thread, CPU time of each layer) on both builds,
the GEMM-shaped layers (convolutions other than depthwise, Gemm) side by side.
Markdown on stdout and in WORK/xsmm_results.md."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0"]
XSMM_LIBS = ["-lxsmm", "-lxsmmnoblas", "-lpthread", "-ldl"]
VARIANTS = ["own", "libxsmm"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd[:3]), r.returncode,
                                                (r.stderr or r.stdout)[-1500:]))
    return r


def median_ms(stdout):
    m = re.search(r"median_ms=([0-9.]+)", stdout)
    if not m:
        raise RuntimeError("no median_ms in: " + stdout[-500:])
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("--quick", action="store_true", help="2 rounds, 5 runs")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.runs = 2, 5
    models = [m for m in a.models.split(",") if m]
    res = {}
    for name in models:
        mdir = os.path.join(a.work, "models", name)
        onnx_path, inp = os.path.join(mdir, "model.onnx"), os.path.join(mdir, "input.npy")
        if not os.path.exists(onnx_path):
            log("!! %s: %s missing (export_models.py)" % (name, onnx_path))
            continue
        R = res[name] = {"ms": {}, "layers": {}}
        progs = {}
        for v in VARIANTS:
            gdir = os.path.join(a.work, "xsmm", name, v)
            os.makedirs(gdir, exist_ok=True)
            for f in os.listdir(gdir):
                if f.endswith((".c", ".h")):
                    os.remove(os.path.join(gdir, f))
            log("== %s: cnncc + gcc (%s)" % (name, v))
            wbin = os.path.join(gdir, "w.bin")  # weights in a file: gcc compiles much faster
            run([a.cnncc, onnx_path, "-o", os.path.join(gdir, "m.c"), "--main", "--max-threads",
                 "2", "--weights", wbin] + (["--gemm", "libxsmm"] if v == "libxsmm" else []))
            srcs = sorted(os.path.join(gdir, f) for f in os.listdir(gdir) if f.endswith(".c"))
            prog = os.path.join(gdir, "prog")
            run([a.cc, "-O3", "-march=native"] + srcs + ["-o", prog]
                + (XSMM_LIBS if v == "libxsmm" else []) + ["-lm", "-lpthread"])
            progs[v] = prog
            outd = os.path.join(gdir, "out")
            os.makedirs(outd, exist_ok=True)
            run([prog, inp, "--out-dir", outd, "--weights", wbin])
        outs = {}
        for v in VARIANTS:
            od = os.path.join(a.work, "xsmm", name, v, "out")
            outs[v] = np.load(os.path.join(od, sorted(os.listdir(od))[0]))
        R["rel_err"] = float(np.max(np.abs(outs["libxsmm"] - outs["own"])) /
                             max(float(np.max(np.abs(outs["own"]))), 1e-30))
        engines = [(v, t) for t in (1, 2) for v in VARIANTS]
        samples = {"%s_%d" % e: [] for e in engines}
        for rnd in range(a.rounds):
            order = engines[rnd % len(engines):] + engines[:rnd % len(engines)]
            for v, t in order:
                r = run([progs[v], inp, "--bench", str(a.runs), "--threads", str(t), "--weights",
                         os.path.join(a.work, "xsmm", name, v, "w.bin")])
                samples["%s_%d" % (v, t)].append(median_ms(r.stdout))
            log("   round %d: %s" % (rnd + 1, "  ".join(
                "%s=%.2f" % (k, s[-1]) for k, s in samples.items())))
        R["ms"] = {k: statistics.median(s) for k, s in samples.items()}
        for v in VARIANTS:
            gdir = os.path.join(a.work, "xsmm", name, v)
            cmd = [sys.executable, os.path.join(HERE, "layer_profile.py"), gdir, inp, "--cputime",
                   "--runs", str(a.runs), "--cc", a.cc, "--weights", os.path.join(gdir, "w.bin")]
            if v == "libxsmm":
                cmd += ["--libs", " ".join(XSMM_LIBS)]
            try:
                R["layers"][v] = json.loads(run(cmd).stdout)["layers"]
            except (RuntimeError, ValueError) as e:
                log("!! %s: layer profile (%s) failed: %s" % (name, v, e))
    L = ["# cnncc --gemm own vs --gemm libxsmm", "",
         "- libxsmm 1.17 (Debian libxsmm-dev), gcc -O3 -march=native; %d alternating rounds, "
         "%d timed runs per process; median ms." % (a.rounds, a.runs), "",
         "| model | own 1T ms | libxsmm 1T ms | libxsmm/own 1T | own 2T ms | libxsmm 2T ms | "
         "libxsmm/own 2T | max rel. diff |", "|---|---|---|---|---|---|---|---|"]
    for name, R in res.items():
        ms = R["ms"]
        L.append("| %s | %.2f | %.2f | **%.2f** | %.2f | %.2f | **%.2f** | %.1e |" % (
            name, ms["own_1"], ms["libxsmm_1"], ms["libxsmm_1"] / ms["own_1"], ms["own_2"],
            ms["libxsmm_2"], ms["libxsmm_2"] / ms["own_2"], R["rel_err"]))
    L += ["", "libxsmm/own > 1: libxsmm is slower.", ""]
    for name, R in res.items():
        lay = R["layers"]
        if len(lay) != 2:
            continue
        xs = {l["node"]: l for l in lay["libxsmm"]}
        rows = []
        for l in lay["own"]:
            x = xs.get(l["node"])
            if x is None or l["op"] not in ("Conv", "Gemm") or " dw" in l.get("desc", ""):
                continue
            rows.append((l, x))
        if not rows:
            continue
        own_t = sum(l["ms"] for l, _ in rows)
        xs_t = sum(x["ms"] for _, x in rows)
        L += ["## %s: GEMM-shaped layers, one thread (CPU ms per run)" % name, "",
              "Total of these layers: own %.2f ms, libxsmm %.2f ms (libxsmm/own %.2f)." % (
                  own_t, xs_t, xs_t / own_t if own_t else float("nan")), "",
              "| layer | shape | own ms | own GFLOP/s | libxsmm ms | libxsmm GFLOP/s | libxsmm/own |",
              "|---|---|---|---|---|---|---|"]
        for l, x in rows:
            L.append("| %s | %s | %.3f | %s | %.3f | %s | %.2f |" % (
                l["node"], l.get("desc", "") or l["op"], l["ms"],
                "%.0f" % l["gflops"] if "gflops" in l else "", x["ms"],
                "%.0f" % x["gflops"] if "gflops" in x else "", x["ms"] / l["ms"] if l["ms"] else 0))
        L.append("")
    text = "\n".join(L) + "\n"
    with open(os.path.join(a.work, "xsmm_results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.work, "xsmm_results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
