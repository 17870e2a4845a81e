#!/usr/bin/env python3
"""Per-layer timing of cnncc-generated code (cnncc itself has no profiler yet).

usage: /usr/bin/python3 bench/layer_profile.py GEN_DIR INPUT.npy [--weights W.bin]
                                              [--runs N] [--threads T] [--cc gcc] [--json OUT]
                                              [--cputime] [--libs "-lxsmm ..."]
                                              [--pair-threads [--rounds R]]

GEN_DIR holds what `cnncc ... -o GEN_DIR/m.c --main` wrote. This copies it to GEN_DIR/prof/,
wraps every layer block of m.c -- the `  { /* Op 'node name' */ ... }` blocks that
NAME_run_parallel is made of -- in rdtsc reads, builds it with -O3 -march=native, runs the
driver with --bench 1 and with --bench N+1 and takes the difference of the counters (N warm
runs: the first, cold run and the warm-up are left out), and prints one line per layer to
stdout as JSON:
    {"layers": [{"node": ..., "op": ..., "share": fraction of all layer time}, ...],
     "median_ms": <driver's median of the instrumented build>}
Each layer is a separate region (parallel_for returns when its tasks are done), so shares
are wall-clock shares.

--pair-threads [--rounds R] links bench/layer_pair.c instead of the driver: R rounds of 4 runs
on one thread and 4 on two (m_run_parallel on a cnnrt_threadpool), alternating in one process
so that both modes of a layer see the same host phase, and prints per layer "min_1t_ms",
"min_2t_ms" (the fastest round's mean run), "mean_1t_ms", "mean_2t_ms" and "speedup"
(min_1t / min_2t); the JSON's "speedup_of_minima" sums the minima over the layers.

--cputime (one thread only) reads the thread's CPU clock instead of rdtsc: on a shared, loaded
machine time spent descheduled then does not count against the layer that was running. Each
layer then also gets "ms" (mean CPU ms of the N warm runs) and, for convolutions, "macs" and
"gflops". (Until session 7 "ms" was the sum over all N + 2 runs, cold first run included,
divided by N + 1: at --runs 30 a few % high, more for layers that first touch a large buffer.)
With --cputime each layer also gets "min_ms" and "median_ms" over the N warm runs (up to 2046
of them): on a noisy machine the minimum is the steadier figure for comparing kernels, and the
median against the minimum shows how much a layer suffers from the noise
(layer_compare.py --stat).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

BLOCK = re.compile(r"^  \{ /\* (\w+) '(.*)' \*/\s*$")

PRELUDE = """
/* --- bench/layer_profile.py instrumentation --- */
#include <stdio.h>
static unsigned long long cnncc_prof_ticks[%(n)d];
#define CNNCC_PROF_RUNS 2048
static unsigned long long cnncc_prof_runs[%(n)d][CNNCC_PROF_RUNS]; /* per-run samples */
static int cnncc_prof_count[%(n)d];
static void cnncc_prof_add(int k, unsigned long long t) {
  cnncc_prof_ticks[k] += t;
  if (cnncc_prof_count[k] < CNNCC_PROF_RUNS) {
    cnncc_prof_runs[k][cnncc_prof_count[k]++] = t;
  }
}
static const char *const cnncc_prof_names[%(n)d] = {%(names)s};
static const char *const cnncc_prof_ops[%(n)d] = {%(ops)s};
#include <time.h>
static unsigned long long cnncc_prof_clock(void) {
#if CNNCC_PROF_CPUTIME
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
#else
  return __builtin_ia32_rdtsc();
#endif
}
__attribute__((destructor)) static void cnncc_prof_dump(void) {
  FILE *f = fopen("%(out)s", "w");
  if (!f) return;
  for (int i = 0; i < %(n)d; i++) {
    fprintf(f, "%%s\\t%%s\\t%%llu", cnncc_prof_ops[i], cnncc_prof_names[i], cnncc_prof_ticks[i]);
    for (int r = 0; r < cnncc_prof_count[i]; r++)
      fprintf(f, "%%s%%llu", r ? " " : "\\t", cnncc_prof_runs[i][r]);
    fprintf(f, "\\n");
  }
  fclose(f);
}
/* --- end of instrumentation --- */
"""


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def instrument(src, out_path):
    lines = src.split("\n")
    out, names, ops, descs = [], [], [], []
    i = 0
    while i < len(lines):
        m = BLOCK.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        k = len(names)
        ops.append(m.group(1))
        names.append(m.group(2))
        descs.append(describe(lines[i + 1] if i + 1 < len(lines) else "") or ("", 0))
        out.append(lines[i])
        out.append(f"    unsigned long long cnncc_prof_t0 = cnncc_prof_clock();")
        j = i + 1
        while j < len(lines) and lines[j] != "  }":
            out.append(lines[j])
            j += 1
        out.append(f"    cnncc_prof_add({k}, cnncc_prof_clock() - cnncc_prof_t0);")
        if j < len(lines):
            out.append(lines[j])
        i = j + 1
    if not names:
        return None, None, None
    # after the last #include line at the top
    last_inc = max(idx for idx, l in enumerate(out[:200]) if l.startswith("#include"))
    prelude = PRELUDE % {"n": len(names), "names": ", ".join(c_str(n) for n in names),
                         "ops": ", ".join(c_str(o) for o in ops), "out": out_path}
    out.insert(last_inc + 1, prelude)
    return "\n".join(out), descs, list(zip(ops, names))


ACTS = ["", "relu", "leaky_relu", "clip", "sigmoid", "hard_sigmoid", "hard_swish", "silu",
        "tanh"]


def describe(line):
    """'1x1 16->96 @112x112 g1 +silu' from a conv block's params line, else ''."""
    def field(name):
        m = re.search(r"\.%s = (\{[^}]*\}|[-\w.]+)" % name, line)
        if not m:
            return None
        v = m.group(1)
        return [int(x) for x in v.strip("{}").split(",")] if v.startswith("{") else v
    k, cin, cout, g, o, s, act = (field(n) for n in
                                  ("kernel", "c_in", "c_out", "group", "out", "stride", "act"))
    if not (k and cin and cout and o):
        return ""
    macs = int(cout) * o[0] * o[1] * o[2] * int(cin) // int(g or 1) * k[0] * k[1] * k[2]
    d = f"{k[0]}x{k[1]} {cin}->{cout} @{o[0]}x{o[1]}"
    if s and s[0] != 1:
        d += f" s{s[0]}"
    if g and g != "1":
        d += " dw" if g == cin == cout else f" g{g}"
    try:
        a = ACTS[int(act)]
    except (TypeError, ValueError, IndexError):
        a = ""
    return d + (f" +{a}" if a else ""), macs


def pair_threads(a, prof, descs, blocks):
    """--pair-threads: builds prof/m.c with bench/layer_pair.c, runs it, prints the JSON.
    blocks: (op, node name) of each instrumented layer block."""
    here = os.path.dirname(os.path.abspath(__file__))
    srcs = sorted(os.path.join(prof, f) for f in os.listdir(prof)
                  if f.endswith(".c") and not f.endswith("_main.c"))
    exe = os.path.join(prof, "layer_pair")
    r = subprocess.run([a.cc, "-O3", "-march=native", "-DCNNCC_PROF_CPUTIME=0", "-I", prof,
                        os.path.join(here, "layer_pair.c")] + srcs + ["-o", exe] +
                       a.libs.split() + ["-lm", "-lpthread"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("layer_profile: build failed: " + r.stderr[-2000:])
    r = subprocess.run([exe, a.input, a.weights or "-", str(a.rounds), "4"],
                       capture_output=True, text=True)
    m = re.search(r"tsc_hz=([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit("layer_profile: run failed: " + (r.stderr or r.stdout)[-2000:])
    per_ms = float(m.group(1)) / 1e3
    layers = []
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) != 5:
            continue
        k = int(f[0])
        min1, min2, mean1, mean2 = (float(x) / per_ms for x in f[1:])
        layers.append({"op": blocks[k][0], "node": blocks[k][1], "desc": descs[k][0],
                       "min_1t_ms": min1, "min_2t_ms": min2, "mean_1t_ms": mean1,
                       "mean_2t_ms": mean2, "speedup": min1 / min2 if min2 > 0 else 0.0})
    t1 = sum(l["min_1t_ms"] for l in layers)
    t2 = sum(l["min_2t_ms"] for l in layers)
    res = {"layers": layers, "speedup_of_minima": t1 / t2 if t2 > 0 else 0.0,
           "sum_min_1t_ms": t1, "sum_min_2t_ms": t2}
    text = json.dumps(res)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen")
    ap.add_argument("input")
    ap.add_argument("--weights")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--json")
    ap.add_argument("--cputime", action="store_true")
    ap.add_argument("--libs", default="", help="extra libraries (e.g. -lxsmm for --gemm libxsmm)")
    ap.add_argument("--pair-threads", action="store_true",
                    help="one thread and two alternating in one process (bench/layer_pair.c)")
    ap.add_argument("--rounds", type=int, default=20, help="rounds of --pair-threads")
    a = ap.parse_args()
    if a.cputime and (a.threads != 1 or a.pair_threads):
        sys.exit("layer_profile: --cputime needs --threads 1 and no --pair-threads")

    prof = os.path.join(a.gen, "prof")
    shutil.rmtree(prof, ignore_errors=True)
    os.makedirs(prof)
    for f in os.listdir(a.gen):
        if f.endswith((".c", ".h")):
            shutil.copy(os.path.join(a.gen, f), prof)
    ticks_file = os.path.abspath(os.path.join(prof, "ticks.tsv"))
    with open(os.path.join(prof, "m.c")) as f:
        src, descs, blocks = instrument(f.read(), ticks_file)
    if src is None:
        sys.exit("layer_profile: no layer blocks found in m.c (generated code changed?)")
    with open(os.path.join(prof, "m.c"), "w") as f:
        f.write(src)
        if a.pair_threads:  # what bench/layer_pair.c reads the counters through
            f.write("\nunsigned long long *cnncc_prof_ticks_array(void);\n"
                    "unsigned long long *cnncc_prof_ticks_array(void) { return cnncc_prof_ticks; }\n"
                    "int cnncc_prof_layer_count(void);\n"
                    "int cnncc_prof_layer_count(void) { return %d; }\n" % len(descs))
    if a.pair_threads:
        pair_threads(a, prof, descs, blocks)
        return
    srcs = sorted(os.path.join(prof, f) for f in os.listdir(prof) if f.endswith(".c"))
    exe = os.path.join(prof, "prog")
    cflags = ["-O3", "-march=native", "-DCNNCC_PROF_CPUTIME=%d" % (1 if a.cputime else 0)]
    r = subprocess.run([a.cc] + cflags + srcs + ["-o", exe] + a.libs.split() + ["-lm", "-lpthread"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("layer_profile: build failed: " + r.stderr[-2000:])
    def run(bench):
        """Per-layer ticks summed over the process's runs, and the driver's median ms."""
        cmd = [exe, a.input, "--bench", str(bench), "--threads", str(a.threads), "--out-dir", prof]
        if a.weights:
            cmd += ["--weights", a.weights]
        r = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"median_ms=([0-9.]+)", r.stdout)
        if r.returncode != 0 or not m:
            sys.exit("layer_profile: run failed: " + (r.stderr or r.stdout)[-2000:])
        rows = []
        with open(ticks_file) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                op, node, t = fields[:3]
                samples = [int(x) for x in fields[3].split()] if len(fields) > 3 else []
                rows.append((op, node, int(t), samples))
        return rows, float(m.group(1))

    # The driver runs the model once before --bench (to write the outputs), then a warm-up,
    # then the timed runs, and the counters add up all of them: the first run pays the page
    # faults of the arena's first touch (the stem, which writes the first large buffer, ran
    # 1.77 ms per run at --runs 5 and 1.48 at --runs 60 in the same ResNet-50 binary). So the
    # counters of a --bench 1 process (3 runs) are subtracted from those of a --bench runs+1
    # process (runs + 3 runs): what remains is `runs` warm runs.
    base, _ = run(1)
    full, median_ms = run(a.runs + 1)
    layers = []
    for (op, node, t, samples), (_, _, t0, _) in zip(full, base):
        # per-run samples of the timed runs (the first two are the output run and the warm-up)
        layers.append({"op": op, "node": node, "ticks": max(t - t0, 0),
                       "samples": sorted(samples[2:]) or sorted(samples)})
    total = sum(l["ticks"] for l in layers) or 1
    for l, (d, macs) in zip(layers, descs):
        t = l.pop("ticks")
        samples = l.pop("samples")
        l["share"] = t / total
        l["desc"] = d
        if a.cputime:
            l["ms"] = t / a.runs / 1e6
            if samples:  # the fastest run and the median run of the layer
                l["min_ms"] = samples[0] / 1e6
                l["median_ms"] = samples[len(samples) // 2] / 1e6
            if macs:
                l["macs"] = macs
                l["gflops"] = 2 * macs / (l["ms"] * 1e-3) / 1e9 if l["ms"] > 0 else 0.0
    res = {"layers": layers, "median_ms": median_ms}
    text = json.dumps(res)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
