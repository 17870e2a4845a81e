#!/usr/bin/env python3
"""cnncc vs ONNX Runtime vs PyTorch on torchvision CNNs (driven by bench/run.sh).

usage: /usr/bin/python3 bench/bench.py --work DIR --cnncc PATH --node-modules DIR
                                       [--rounds R] [--models a,b,...] [--quick]

Expects DIR/models/NAME/{model.onnx,state.pt,input.npy} (bench/export_models.py). For each
model: compiles it with cnncc and gcc, then runs R alternating rounds; each round runs every
engine once, as its own process, in an order rotated from round to round:
    cnncc 1T, cnncc 2T   the generated driver, --bench N --threads T
    ORT 1T, ORT 2T       bench/ort_bench.js (onnxruntime-node), intraOpNumThreads T
    PyTorch 1T           bench/torch_bench.py, torch.set_num_threads(1)
Each process does one warm-up and N timed runs and reports its median; the table shows the
median of the R per-round medians. Peak memory is the process's max RSS (wait4). Outputs of
round 1 are compared: cnncc vs ORT (PyTorch when ORT is not available). The single-core FMA
peak (bench/fma_peak.c) is measured before every model and at the end; the best is used.
Then, each within one process and ~20 s: cnncc and ORT alternating on one thread
(bench/pair_ort.c) and cnncc on one thread and on two alternating (bench/pair_threads.c),
in bursts that see the same machine speed (bench/pair_util.h).
Writes the report as Markdown to stdout and to DIR/results.md.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import shape_inference

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable

# name: (timed runs per process, cnncc weights in a blob file)
MODELS = {
    "resnet18": (10, True),
    "resnet50": (5, True),
    "mobilenet_v2": (20, False),
    "squeezenet1_1": (20, False),
    "efficientnet_b0": (20, False),
}
ENGINES = ["cnncc_1", "cnncc_2", "ort_1", "ort_2", "torch_1"]
TOL = 1e-4
PROC_TIMEOUT = 600


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def cmdline(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


# ----------------------------------------------------------------------------------------
# processes
# ----------------------------------------------------------------------------------------
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_rss(cmd, env=None, timeout=PROC_TIMEOUT):
    """Runs CMD; returns (rc, stdout, stderr, max RSS KiB) of that one process.

    The max RSS comes from GNU time (/usr/bin/time -f %M), which reaps CMD with wait4. Reaping
    CMD from here would not do: a child forked from this Python process keeps the parent's
    RSS as its high-water mark across exec. Without /usr/bin/time it is reported as None."""
    rss_file = None
    full = cmd
    if TIME:
        fd, rss_file = tempfile.mkstemp(prefix="rss", suffix=".txt")
        os.close(fd)
        full = [TIME, "-f", "maxrss_kib=%M", "-o", rss_file] + cmd
    try:
        r = subprocess.run(full, capture_output=True, text=True, env=env, timeout=timeout)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = -9, "", f"(timed out after {timeout} s)"
    rss = None
    if rss_file:
        with open(rss_file) as f:
            m = re.search(r"maxrss_kib=(\d+)", f.read())
        os.remove(rss_file)
        rss = int(m.group(1)) if m else None
    return rc, out, err, rss


def parse_median(stdout):
    lines = [l for l in stdout.strip().splitlines() if l.strip()]
    if not lines:
        return None
    m = re.match(r"median_ms=([0-9.eE+-]+)\s+min_ms=([0-9.eE+-]+)", lines[-1].strip())
    return (float(m.group(1)), float(m.group(2))) if m else None


def cpu_busy_jiffies():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, sum(v[:8])


def own_cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


# ----------------------------------------------------------------------------------------
# model facts
# ----------------------------------------------------------------------------------------
def onnx_macs(path):
    """(total, {node name: MACs}) of Conv/ConvTranspose/Gemm/MatMul, via shape inference."""
    m = shape_inference.infer_shapes(onnx.load(path))
    g = m.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    per = {}
    for n in g.node:
        macs = 0
        if n.op_type == "Conv":
            macs = int(np.prod(shapes[n.output[0]])) * int(np.prod(shapes[n.input[1]][1:]))
        elif n.op_type == "ConvTranspose":  # every input element meets its group's weights
            macs = int(np.prod(shapes[n.input[0]])) * int(np.prod(shapes[n.input[1]][1:]))
        elif n.op_type == "Gemm":
            a = shapes[n.input[0]]
            trans_a = any(at.name == "transA" and at.i for at in n.attribute)
            macs = int(np.prod(shapes[n.output[0]])) * (a[0] if trans_a else a[1])
        elif n.op_type == "MatMul":
            macs = int(np.prod(shapes[n.output[0]])) * shapes[n.input[0]][-1]
        if macs:
            per[n.name] = macs
    return sum(per.values()), per


def cnncc_info(cnncc, onnx_path):
    """(MACs, arena bytes, full text) from `cnncc --info`, for the benchmarked build (compiled
    with --max-threads 2: its task scratch block makes the arena larger than a 1-thread one's)."""
    r = sh([cnncc, "--info", onnx_path, "--max-threads", "2"])
    text = r.stdout + r.stderr
    macs = re.search(r"^MACs:\s*(\d+)", text, re.M)
    arena = re.search(r"^arena bytes:\s*(\d+)", text, re.M)
    return (int(macs.group(1)) if macs else None,
            int(arena.group(1)) if arena else None, text, r.returncode)


def rel_err(a, ref):
    a = np.asarray(a, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    if a.shape != ref.shape:
        return float("inf")
    den = np.abs(ref).max()
    return float(np.abs(a - ref).max() / (den if den > 0 else 1.0))


# ----------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------
def f_ms(x):
    if x is None:
        return "—"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def f_ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def f_mb(kib):
    return "—" if not kib else f"{kib / 1024:.0f}"


def f_err(e):
    if e is None:
        return "—"
    return f"{e:.1e}" + (" **FAIL**" if e > TOL else "")


def md_table(header, rows, left=1):
    """Markdown table; the first LEFT columns are left-aligned, the rest right-aligned."""
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


PAIR_SECONDS = 20  # time budget of one model's paired runs
PAIR_BURST = 4  # runs of each way per round of bench/pair_*.c (the first one not timed)


def run_pair_tool(cc, cflags, gdir, tool, libs, args, pair_ms, key, problems, name):
    """Builds bench/TOOL.c (pair_ort or pair_threads: two ways of running the model alternating
    in rounds of PAIR_BURST runs each in one process, ~PAIR_SECONDS) against the generated model
    in gdir and runs it with args + [rounds, burst]. Returns its last line's figures (which
    must include `key`) or None."""
    exe = os.path.join(gdir, tool)
    srcs = sorted(os.path.join(gdir, f) for f in os.listdir(gdir)
                  if f.endswith(".c") and not f.endswith("_main.c"))
    r = sh([cc] + cflags + ["-I", gdir, os.path.join(HERE, tool + ".c")] + srcs +
           ["-o", exe] + libs)
    if r.returncode != 0:
        problems.append(f"{name}: {tool}.c did not build: {r.stderr.strip()[-1000:]}")
        return None
    rounds = int(min(100, max(10, PAIR_SECONDS * 1000 / (PAIR_BURST * pair_ms))))
    r = sh([exe] + args + [str(rounds), str(PAIR_BURST)], timeout=PROC_TIMEOUT)
    last = (r.stdout.strip().splitlines() or [""])[-1]
    fig = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([0-9.eE+-]+)", last))
    if r.returncode != 0 or key not in fig:
        problems.append(f"{name}: {tool} failed: {(r.stderr or r.stdout).strip()[-500:]}")
        return None
    fig["rounds"], fig["burst"] = rounds, PAIR_BURST
    log(f"   {tool} (one process, {rounds} rounds of {PAIR_BURST}+{PAIR_BURST} runs): "
        f"{key} {fig[key]:.3f} (quartiles {fig['q25']:.3f}-{fig['q75']:.3f})")
    return fig


# ----------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--quick", action="store_true", help="2 rounds, fewer runs (a smoke test)")
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("--no-profile", action="store_true", help="skip the per-layer profile")
    a = ap.parse_args()

    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    models = [m for m in a.models.split(",") if m]
    rounds = 2 if a.quick else a.rounds
    cflags = ["-O3", "-march=native"]
    problems = []
    t_start = time.time()

    # -- machine and tools --------------------------------------------------------------
    lscpu = sh(["lscpu"]).stdout
    cpu = (re.search(r"^Model name:\s*(.+)$", lscpu, re.M) or [None, "?"])[1].strip()
    fam = re.search(r"^CPU family:\s*(\d+)", lscpu, re.M)
    mod = re.search(r"^Model:\s*(\d+)", lscpu, re.M)
    flags = re.search(r"^Flags:\s*(.+)$", lscpu, re.M)
    flags = flags.group(1).split() if flags else []
    isa = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx_vnni") if f in flags)
    cc_ver = sh([a.cc, "--version"]).stdout.splitlines()[0]
    cnncc_ver = sh([a.cnncc, "--version"]).stdout.strip()
    root = os.path.dirname(HERE)
    git = sh(["git", "-C", root, "rev-parse", "--short", "HEAD"]).stdout.strip()
    if git:
        dirty = sh(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"]).stdout
        cnncc_ver += f" (commit {git}{', with uncommitted changes' if dirty.strip() else ''})"
    node_ver = sh(["node", "--version"]).stdout.strip()
    torch_ver = sh([PY, "-c", "import torch; print(torch.__version__)"]).stdout.strip() or "?"
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    blas = ("reference (netlib) BLAS" if "/blas/" in blas else os.path.basename(blas)) \
        if os.path.exists(blas) else "?"
    load_start = open("/proc/loadavg").read().split()[:3]

    # -- FMA peak --------------------------------------------------------------------------
    fma = os.path.join(work, "fma_peak")
    r = sh([a.cc, "-O2", "-march=native", os.path.join(HERE, "fma_peak.c"), "-o", fma])
    if r.returncode != 0:
        problems.append(f"fma_peak.c did not build: {r.stderr.strip()}")
        fma = None
    peaks = {"avx2": [], "avx512": []}

    def measure_peak():
        if not fma:
            return
        r = sh([fma, "0.5"])
        for k in peaks:
            m = re.search(rf"^{k}_gflops=([0-9.]+)", r.stdout, re.M)
            if m:
                peaks[k].append(float(m.group(1)))

    # -- ONNX Runtime available? -------------------------------------------------------------
    node_env = dict(os.environ, NODE_PATH=a.node_modules)
    r = sh(["node", "-e", "const o=require('onnxruntime-node');"
            "console.log(o.env.versions.node||o.env.versions.common)"], env=node_env)
    ort_ok = r.returncode == 0
    ort_ver = r.stdout.strip() if ort_ok else None
    ort_msg = None
    if not ort_ok:
        msg = ("ONNX Runtime (onnxruntime-node) could not be loaded, so the ORT columns are "
               "empty and correctness is checked against PyTorch instead: "
               + next((l.strip() for l in r.stderr.splitlines() if "Error" in l),
                      (r.stderr.strip().splitlines() or ["?"])[-1]))
        ort_msg = msg.split(": ", 1)[-1]
        problems.append(msg)
        log("!! " + msg)
    engines = [e for e in ENGINES if ort_ok or not e.startswith("ort")]
    # the shared library inside onnxruntime-node, for bench/pair_ort.c
    ort_lib = next(iter(sorted(glob.glob(os.path.join(
        a.node_modules, "onnxruntime-node", "bin", "napi-v*", "linux", "x64",
        "libonnxruntime.so*")))), None) if ort_ok else None

    # -- per model -------------------------------------------------------------------------
    res = {}
    for name in models:
        runs, blob = MODELS.get(name, (10, True))
        if a.quick:
            runs = max(2, runs // 4)
        mdir = os.path.join(work, "models", name)
        gdir = os.path.join(work, "gen", name)
        onnx_path = os.path.join(mdir, "model.onnx")
        inp = os.path.join(mdir, "input.npy")
        R = res[name] = {"runs": runs, "blob": blob, "ms": {e: [] for e in engines},
                         "min": {e: [] for e in engines}, "rss": {e: [] for e in engines},
                         "err": {}, "fail": {}}
        log(f"== {name}")
        if not all(os.path.exists(p) for p in (onnx_path, inp)):
            R["fail"]["cnncc"] = f"{onnx_path} or {inp} missing (run export_models.py)"
            problems.append(f"{name}: {R['fail']['cnncc']}")
            del res[name]
            continue
        measure_peak()
        R["macs"], node_macs = onnx_macs(onnx_path)
        R["info_macs"], R["arena"], info_text, info_rc = cnncc_info(a.cnncc, onnx_path)
        if info_rc != 0:
            problems.append(f"{name}: `cnncc --info` failed: {info_text.strip()}")
        elif R["info_macs"] is not None and R["info_macs"] != R["macs"]:
            R["info_mismatch"] = True

        # compile
        shutil.rmtree(gdir, ignore_errors=True)  # no stale code, outputs or profiles
        os.makedirs(gdir)
        csrc = os.path.join(gdir, "m.c")
        wbin = os.path.join(gdir, "w.bin")
        prog = os.path.join(gdir, "prog")
        ccmd = [a.cnncc, onnx_path, "-o", csrc, "--main", "--max-threads", "2"]
        if blob:
            ccmd += ["--weights", wbin]
        t0 = time.perf_counter()
        r = sh(ccmd)
        R["t_cnncc"] = time.perf_counter() - t0
        R["cmd_cnncc"] = cmdline(ccmd)
        ok = r.returncode == 0
        if not ok:
            R["fail"]["cnncc"] = f"cnncc exit {r.returncode}: {(r.stderr or r.stdout).strip()}"
        else:
            srcs = sorted(os.path.join(gdir, f) for f in os.listdir(gdir) if f.endswith(".c"))
            gcmd = [a.cc] + cflags + srcs + ["-o", prog, "-lm", "-lpthread"]
            t0 = time.perf_counter()
            r = sh(gcmd)
            R["t_gcc"] = time.perf_counter() - t0
            R["cmd_gcc"] = cmdline([a.cc] + cflags + [os.path.join(gdir, "*.c"), "-o", prog,
                                                      "-lm", "-lpthread"])
            R["c_bytes"] = os.path.getsize(csrc)
            R["w_bytes"] = os.path.getsize(wbin) if blob and os.path.exists(wbin) else 0
            if r.returncode != 0:
                ok = False
                R["fail"]["cnncc"] = f"gcc exit {r.returncode}: {r.stderr.strip()[-2000:]}"
        if not ok:
            problems.append(f"{name}: {R['fail']['cnncc']}")
            log(f"!! {name}: {R['fail']['cnncc']}")

        def engine_cmd(e, first):
            kind, t = e.split("_")
            if kind == "cnncc":
                c = [prog, inp, "--bench", str(runs), "--threads", t]
                if blob:
                    c += ["--weights", wbin]
                # every run writes its outputs somewhere (the first round's are compared);
                # never into the caller's working directory
                out = os.path.join(gdir, f"out{t}" if first else "out_later")
                os.makedirs(out, exist_ok=True)
                c += ["--out-dir", out]
                return c, None
            if kind == "ort":
                c = ["node", os.path.join(HERE, "ort_bench.js"), onnx_path, inp,
                     "--threads", t, "--bench", str(runs)]
                if first:
                    c += ["--out", os.path.join(gdir, f"ort{t}.npy")]
                return c, node_env
            c = [PY, os.path.join(HERE, "torch_bench.py"), name,
                 os.path.join(mdir, "state.pt"), inp, "--threads", t, "--bench", str(runs)]
            if first:
                c += ["--out", os.path.join(gdir, "torch.npy")]
            return c, None

        R["cmd"] = {e: cmdline(engine_cmd(e, False)[0]) for e in engines}
        busy0, total0 = cpu_busy_jiffies()
        own0 = own_cpu_seconds()
        w0 = time.perf_counter()
        for rnd in range(rounds):
            order = engines[rnd % len(engines):] + engines[:rnd % len(engines)]
            for e in order:
                if e in R["fail"] or (e.startswith("cnncc") and not ok):
                    continue
                cmd, env = engine_cmd(e, rnd == 0)
                rc, out, err, rss = run_rss(cmd, env=env)
                med = parse_median(out) if rc == 0 else None
                if med is None:
                    R["fail"][e] = (f"exit {rc}: " + (err.strip() or out.strip())[-1500:])
                    problems.append(f"{name} / {e}: `{cmdline(cmd)}` failed: {R['fail'][e]}")
                    log(f"!! {name} {e}: {R['fail'][e]}")
                    continue
                R["ms"][e].append(med[0])
                R["min"][e].append(med[1])
                R["rss"][e].append(rss)
            log(f"   round {rnd + 1}/{rounds}: " + "  ".join(
                f"{e}={R['ms'][e][-1]:.1f}" for e in engines if len(R["ms"][e]) == rnd + 1))
        busy1, total1 = cpu_busy_jiffies()
        wall = time.perf_counter() - w0
        hz = os.sysconf("SC_CLK_TCK")
        foreign = ((busy1 - busy0) / hz - (own_cpu_seconds() - own0)) / wall if wall else 0
        R["foreign_cores"] = max(0.0, foreign)
        R["bench_s"] = wall

        # correctness (round 1 outputs)
        def load(p):
            return np.load(p) if os.path.exists(p) else None

        outs = {"cnncc_1": load(os.path.join(gdir, "out1", "output.npy")),
                "cnncc_2": load(os.path.join(gdir, "out2", "output.npy")),
                "ort_1": load(os.path.join(gdir, "ort1.npy")),
                "ort_2": load(os.path.join(gdir, "ort2.npy")),
                "torch_1": load(os.path.join(gdir, "torch.npy"))}
        ref_name = "ort_1" if outs["ort_1"] is not None else "torch_1"
        R["ref"] = ref_name
        ref = outs[ref_name]
        if ref is not None:
            for e in ("cnncc_1", "cnncc_2", "torch_1", "ort_2"):
                if e != ref_name and outs[e] is not None:
                    R["err"][e] = rel_err(outs[e], ref)
            for e in ("cnncc_1", "cnncc_2"):
                if e in R["err"] and R["err"][e] > TOL:
                    problems.append(f"{name}: cnncc output ({e}) differs from {ref_name}: "
                                    f"max|Δ|/max|ref| = {R['err'][e]:.2e} > {TOL}")
        # cnncc and ORT alternating in one process (bench/pair_ort.c), 1 thread
        if ok and ort_lib and R["ms"].get("cnncc_1") and R["ms"].get("ort_1"):
            R["pair"] = run_pair_tool(
                a.cc, cflags, gdir, "pair_ort", ["-ldl", "-lm"],
                [ort_lib, onnx_path, inp, wbin if blob else "-"],
                statistics.median(R["ms"]["cnncc_1"]) + statistics.median(R["ms"]["ort_1"]),
                "pair_ratio", problems, name)
        # cnncc on 1 and 2 threads alternating in one process (bench/pair_threads.c)
        if ok and R["ms"].get("cnncc_1") and R["ms"].get("cnncc_2"):
            R["pair_threads"] = pt = run_pair_tool(
                a.cc, cflags, gdir, "pair_threads", ["-lm", "-lpthread"],
                [inp, wbin if blob else "-"],
                statistics.median(R["ms"]["cnncc_1"]) + statistics.median(R["ms"]["cnncc_2"]),
                "pair_speedup", problems, name)
            if pt and pt.get("max_rel_diff", 0.0) > TOL:
                problems.append(f"{name}: cnncc 2-thread output differs from 1-thread: "
                                f"max|Δ|/max|ref| = {pt['max_rel_diff']:.2e} > {TOL}")
        # per-layer shares from an instrumented build (bench/layer_profile.py), 1 thread
        if ok and not a.no_profile:
            pcmd = [PY, os.path.join(HERE, "layer_profile.py"), gdir, inp, "--runs",
                    str(runs), "--cc", a.cc] + (["--weights", wbin] if blob else [])
            r = sh(pcmd)
            try:
                prof = json.loads(r.stdout.strip().splitlines()[-1])
                for l in prof["layers"]:
                    l["macs"] = node_macs.get(l["node"], 0)
                R["profile"] = prof
            except (ValueError, IndexError, KeyError):
                problems.append(f"{name}: layer profile failed: {(r.stderr or r.stdout)[-500:]}")
        measure_peak()

    measure_peak()
    load_end = open("/proc/loadavg").read().split()[:3]
    models = [m for m in models if m in res]

    # -- report ------------------------------------------------------------------------------
    pk = max(peaks["avx2"]) if peaks["avx2"] else None
    pk512 = max(peaks["avx512"]) if peaks["avx512"] else None
    # The generated code runs its AVX-512 GEMM tiles when built for a CPU that has AVX-512
    # (-march=native here): that peak is then cnncc's ceiling.
    use512 = pk512 is not None and "avx512f" in isa and "-march=native" in cflags
    pk_used, pk_name = (pk512, "AVX-512") if use512 else (pk, "AVX2")

    def med(R, e):
        v = R["ms"].get(e) or []
        return statistics.median(v) if v else None

    def bmin(R, e):  # best single run over all rounds: the least disturbed by other load
        v = R["min"].get(e) or []
        return min(v) if v else None

    L = []
    L.append("# cnncc benchmark: cnncc vs ONNX Runtime vs PyTorch (CPU, batch 1, 224×224)")
    L.append("")
    if not ort_ok:
        L.append(f"**ONNX Runtime was not available in this run** ({ort_msg}); its columns are "
                 "empty and correctness is checked against PyTorch.")
        L.append("")
    L.append(f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    L.append(f"- CPU: {cpu} (family {fam.group(1) if fam else '?'}, model "
             f"{mod.group(1) if mod else '?'}), {os.cpu_count()} logical CPUs; {isa}")
    L.append(f"- kernel: {platform.release()}; load average at start {' '.join(load_start)}, "
             f"at end {' '.join(load_end)}")
    L.append(f"- {cnncc_ver}; generated code built with `{a.cc} {' '.join(cflags)}` ({cc_ver})")
    L.append(f"- onnxruntime-node {ort_ver or 'NOT AVAILABLE'} (Node {node_ver}, CPU EP, "
             "sequential, graphOptimizationLevel 'all'); PyTorch " + torch_ver
             + f" (Debian python3-torch; libblas.so.3 is {blas}; torch.set_num_threads(1), "
             "inference_mode)")
    if pk:
        L.append(f"- single-core FMA peak (bench/fma_peak.c, best of {len(peaks['avx2'])} "
                 f"measurements, spread {min(peaks['avx2']):.0f}–{pk:.0f}): "
                 f"**AVX2 {pk:.0f} GFLOP/s**"
                 + (f", AVX-512 {pk512:.0f} GFLOP/s" if pk512 else ""))
    L.append(f"- {rounds} alternating rounds per model, engines in rotated order, each a fresh "
             "process: 1 warm-up + N timed runs, its median; table = median of the round "
             "medians")
    L.append("")
    hdr = ["model", "GMACs", "cnncc 1T ms", "cnncc 2T ms", "ORT 1T ms", "ORT 2T ms",
           "cnncc/ORT 1T", "cnncc/ORT 1T best min", "cnncc/ORT 1T paired", "cnncc/ORT 2T",
           "PyTorch 1T ms",
           "cnncc 1T GFLOP/s", f"% {pk_name} peak", "cnncc 2T GFLOP/s", "max RSS MB cnncc / ORT / PyTorch",
           "max\\|Δ\\|/max\\|ref\\|"]
    rows = []
    for name in models:
        R = res[name]
        c1, c2, o1, o2, t1 = (med(R, e) for e in ENGINES)
        gf1 = 2 * R["macs"] / (c1 * 1e6) if c1 else None
        gf2 = 2 * R["macs"] / (c2 * 1e6) if c2 else None
        rss_c = max((R["rss"].get("cnncc_1") or []) + (R["rss"].get("cnncc_2") or []),
                    default=None)
        rss_o = max((R["rss"].get("ort_1") or []) + (R["rss"].get("ort_2") or []), default=None)
        rss_t = max(R["rss"].get("torch_1") or [], default=None)
        errs = [R["err"][e] for e in ("cnncc_1", "cnncc_2") if e in R["err"]]
        cf = "FAILED" if "cnncc" in R["fail"] else None
        rows.append([
            name, f"{R['macs'] / 1e9:.3f}", cf or f_ms(c1), cf or f_ms(c2), f_ms(o1), f_ms(o2),
            f_ratio(c1, o1), f_ratio(bmin(R, "cnncc_1"), bmin(R, "ort_1")),
            f"{R['pair']['pair_ratio']:.2f}" if R.get("pair") else "—", f_ratio(c2, o2),
            f_ms(t1), f"{gf1:.1f}" if gf1 else "—",
            f"{100 * gf1 / pk_used:.0f}%" if gf1 and pk_used else "—",
            f"{gf2:.1f}" if gf2 else "—",
            f"{f_mb(rss_c)} / {f_mb(rss_o)} / {f_mb(rss_t)}",
            f_err(max(errs)) if errs else "—"])
    L.append(md_table(hdr, rows))
    L.append("")
    L.append("cnncc/ORT > 1 means cnncc is slower; \"best min\" compares the fastest single "
             "run of each engine over all rounds (on a loaded machine, the least disturbed); "
             "\"paired\" has both engines in one process (bench/pair_ort.c: cnncc's code and "
             "ORT's C API, one thread, ~20 s per model) alternating in rounds of 4 runs each, "
             "so that both see the same machine speed: the median over rounds of cnncc's "
             "median run / ORT's (first run of each burst left out). "
             "GFLOP/s = 2·MACs/time (MACs of Conv and "
             "Gemm, from ONNX shape inference). max|Δ|/max|ref|: cnncc output (worse of 1T and "
             f"2T) vs {'ONNX Runtime 1T' if ort_ok else 'PyTorch'}; **FAIL** when > {TOL:g}. "
             "Max RSS is the whole process: for ORT it includes Node.js (~50 MB), for "
             "PyTorch the Python interpreter and torch itself.")
    L.append("")
    if "resnet50" in res:
        R = res["resnet50"]
        c1, c2 = med(R, "cnncc_1"), med(R, "cnncc_2")
        o1, o2 = med(R, "ort_1"), med(R, "ort_2")
        pt = R.get("pair_threads")
        L.append(f"**resnet50, 2-thread speedup over 1 thread:** cnncc {f_ratio(c1, c2)}×"
                 + (f", ORT {f_ratio(o1, o2)}×" if ort_ok else "")
                 + " (medians of separate processes); cnncc paired "
                 + (f"{pt['pair_speedup']:.2f}× (quartiles {pt['q25']:.2f}-{pt['q75']:.2f})"
                    if pt else "—"))
        L.append("")
        L.append("\"paired\" 2-thread speedup: bench/pair_threads.c runs cnncc's code on one "
                 "thread and on two in one process, alternating in rounds of 4 runs each "
                 "(first run of each burst left out), and takes the median over rounds of the "
                 "1-thread median run / the 2-thread one. Separate processes minutes apart "
                 "can see different machine speeds (and one of the two vCPUs is often slower "
                 "than the other); the paired figure compares both on the same.")
        L.append("")

    L.append("## Details")
    L.append("")
    hdr = ["model", "engine", "runs/process", "median of medians ms", "round medians ms",
           "best min ms", "GFLOP/s", "max RSS MB"]
    rows = []
    for name in models:
        R = res[name]
        for e in engines:
            v = R["ms"][e]
            if not v:
                rows.append([name, e, R["runs"], "FAILED" if e in R["fail"] or
                             e.startswith("cnncc") else "—", "", "", "", ""])
                continue
            m = statistics.median(v)
            rows.append([name, e, R["runs"], f_ms(m), " ".join(f_ms(x) for x in v),
                         f_ms(min(R["min"][e])), f"{2 * R['macs'] / (m * 1e6):.1f}",
                         f_mb(max(R["rss"][e]))])
    L.append(md_table(hdr, rows, left=2))
    L.append("")
    hdr = ["model", "MACs (ONNX)", "MACs (cnncc --info)", "2T speedup cnncc / ORT",
           "2T speedup cnncc paired",
           "cnncc s", "gcc s", "m.c MB", "weights", "arena MB", "other load (cores)",
           "Δ cnncc 1T", "Δ cnncc 2T", "Δ PyTorch", "Δ ORT 2T"]
    rows = []
    for name in models:
        R = res[name]
        c1, c2, o1, o2 = (med(R, e) for e in ENGINES[:4])
        im = R.get("info_macs")
        rows.append([
            name, f"{R['macs']:,}", (f"{im:,}" if im is not None else "—")
            + (" ≠" if R.get("info_mismatch") else ""),
            f"{f_ratio(c1, c2)} / {f_ratio(o1, o2)}",
            f"{R['pair_threads']['pair_speedup']:.2f}" if R.get("pair_threads") else "—",
            f"{R.get('t_cnncc', 0):.1f}", f"{R.get('t_gcc', 0):.1f}",
            f"{R.get('c_bytes', 0) / 1e6:.1f}",
            f"blob {R.get('w_bytes', 0) / 1e6:.0f} MB" if R["blob"] else "embedded",
            f"{R['arena'] / 1e6:.1f}" if R.get("arena") else "—",
            f"{R['foreign_cores']:.2f}",
            f_err(R["err"].get("cnncc_1")), f_err(R["err"].get("cnncc_2")),
            f_err(R["err"].get("torch_1")), f_err(R["err"].get("ort_2"))])
    L.append(md_table(hdr, rows))
    L.append("")
    L.append("Δ = max|Δ|/max|ref| against " + ("ONNX Runtime 1T" if ort_ok else "PyTorch") +
             ". 'other load' = CPU cores used by other processes on the machine while the "
             "model's rounds ran (from /proc/stat minus this benchmark's own CPU time): above "
             "~0.2 the 2-thread figures are unreliable. '≠' marks a `cnncc --info` MAC count "
             "that differs from the ONNX one.")
    L.append("")

    profiled = [n for n in models if res[n].get("profile")]
    if profiled:
        L.append("## Slowest cnncc layers (1 thread)")
        L.append("")
        L.append("From a copy of each model's m.c with every layer block timed by rdtsc "
                 "(bench/layer_profile.py). ms = the layer's share of all layer time × the "
                 "uninstrumented cnncc 1T median above. 'by kind' sums the shares of layer "
                 "kinds.")
        L.append("")
        rows = []
        kinds_rows = []
        for name in profiled:
            R = res[name]
            base = med(R, "cnncc_1") or R["profile"]["median_ms"]
            layers = sorted(R["profile"]["layers"], key=lambda l: -l["share"])
            for l in layers[:6]:
                ms = l["share"] * base
                gf = 2 * l["macs"] / (ms * 1e6) if l["macs"] and ms > 0 else None
                rows.append([name, l["node"], l["desc"] or l["op"], f"{100 * l['share']:.1f}%",
                             f_ms(ms), f"{l['macs'] / 1e6:.1f}" if l["macs"] else "—",
                             f"{gf:.1f}" if gf else "—"])
            kinds = {}
            for l in layers:
                d = l["desc"]
                if not d:
                    k = l["op"]
                else:
                    k = "conv " + d.split()[0] + (" dw" if " dw" in d else "")
                    act = d.split("+")[-1] if "+" in d else None
                    k += f" +{act}" if act else ""
                kinds[k] = kinds.get(k, 0) + l["share"]
            top = sorted(kinds.items(), key=lambda kv: -kv[1])[:6]
            kinds_rows.append([name, ", ".join(f"{k} {100 * v:.0f}%" for k, v in top)])
        L.append(md_table(["model", "layer", "what", "share", "ms", "MMACs", "GFLOP/s"],
                          rows, left=3))
        L.append("")
        L.append(md_table(["model", "time by kind of layer"], kinds_rows, left=2))
        L.append("")

    mism = [n for n in models if res[n].get("info_mismatch")]
    if mism:
        problems.append("`cnncc --info` MAC counts differ from the ONNX Conv/Gemm count for "
                        + ", ".join(f"{n} ({res[n]['info_macs']:,} vs {res[n]['macs']:,})"
                                    for n in mism)
                        + "; the table uses the ONNX count")
    busy = [n for n in models if res[n].get("foreign_cores", 0) > 0.2]
    if busy:
        problems.append("other processes used CPU while these models ran ("
                        + ", ".join(f"{n}: {res[n]['foreign_cores']:.2f} cores" for n in busy)
                        + "): their 2-thread figures are not reliable")
    L.append("## Problems")
    L.append("")
    L += [f"- {p}" for p in problems] if problems else ["- none"]
    L.append("")
    L.append("## Commands")
    L.append("")
    L.append("```")
    for name in models:
        R = res[name]
        L.append(f"# {name}")
        for k in ("cmd_cnncc", "cmd_gcc"):
            if k in R:
                L.append(R[k])
        for e in engines:
            L.append(R["cmd"][e])
    L.append("```")
    L.append("")
    L.append(f"Total benchmark time: {(time.time() - t_start) / 60:.1f} min.")
    text = "\n".join(L) + "\n"
    with open(os.path.join(work, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"peaks": peaks, "models": res, "problems": problems}, f, indent=1,
                  default=str)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
