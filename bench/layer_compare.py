#!/usr/bin/env python3
"""Layer-by-layer comparison of cnncc's generated code with ONNX Runtime on one model.

usage: /usr/bin/python3 bench/layer_compare.py MODEL.onnx CNNCC.json ORT.json [--top N] [--json OUT]

CNNCC.json is bench/layer_profile.py --cputime --json (one entry per fused layer, named by the
ONNX node that heads it); ORT.json is bench/ort_layers.js (one entry per ORT kernel). The two
engines fuse differently, so each ORT node is attributed to an ONNX node first:
  - "<tensor>_nchwc" (ORT's NCHWc convolutions/pools) and plain tensor names: the node that
    produces <tensor> in MODEL.onnx;
  - node names ("/a/b/Mul/QuickGeluFusion/"): the longest "/"-prefix that names a node;
and then walked back from that node through the elementwise ops both engines fuse into the
producing convolution (Relu, Clip, Sigmoid, Mul, Add, ...) to the first node cnncc reports.
ORT nodes attributed to nothing (its layout reorders) are listed separately.

Prints one row per cnncc layer, largest cnncc - ORT difference first: cnncc ms, ORT ms, their
ratio, cnncc GFLOP/s and the layer's shape, then the totals. ms are per run; with --stat mean
(the default) cnncc's are means of warm runs (layer_profile.py leaves out the cold first run and
the warm-up) and ORT's medians after 5 warm-up runs; --stat min compares each layer's fastest
run, --stat median both medians. On a noisy machine compare --stat min (what the kernels can
do) with --stat median (how much the noise costs each engine).
"""
import argparse
import json
import sys

import onnx

# Ops that either engine may fuse into the layer that produces their (first) input.
FUSABLE = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Mul",
           "Add", "Sum", "BatchNormalization", "Identity",
           "GlobalAveragePool"}  # cnncc computes an SE block's pool in the depthwise conv


def attribute(model, cn_names, ort_nodes):
    producer = {}
    by_name = {}
    for node in model.graph.node:
        by_name[node.name] = node
        for t in node.output:
            producer[t] = node

    def walk_back(node):
        seen = 0
        while node is not None and node.name not in cn_names and seen < 16:
            if node.op_type not in FUSABLE:
                return None
            # the input made by a node cnncc reports (a conv) if there is one: an Add's
            # residual input is the other one
            ins = [producer.get(t) for t in node.input]
            ins = [p for p in ins if p is not None]
            direct = [p for p in ins if p.name in cn_names]
            node = direct[-1] if direct else (ins[0] if ins else None)
            seen += 1
        return node.name if node is not None and node.name in cn_names else None

    out = {}
    for n in ort_nodes:
        name = n["name"]
        start = None
        tensor = name[:-len("_nchwc")] if name.endswith("_nchwc") else name
        if tensor in producer:
            start = producer[tensor]
        else:
            parts = name.rstrip("/").split("/")
            for k in range(len(parts), 0, -1):
                if "/".join(parts[:k]) in by_name:
                    start = by_name["/".join(parts[:k])]
                    break
        out[name] = walk_back(start) if start is not None else None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("cnncc")
    ap.add_argument("ort")
    ap.add_argument("--top", type=int, default=0, help="print only the N largest differences")
    ap.add_argument("--json", help="write the rows as JSON")
    ap.add_argument("--stat", choices=["mean", "min", "median"], default="mean",
                    help="cnncc's mean (default) and ORT's median per run, both engines' fastest "
                         "run, or both medians")
    a = ap.parse_args()
    model = onnx.load(a.model, load_external_data=False)
    cn_key = {"mean": "ms", "min": "min_ms", "median": "median_ms"}[a.stat]
    ort_key = "min_ms" if a.stat == "min" else "ms"
    layers = json.load(open(a.cnncc))["layers"]
    if not all(cn_key in l for l in layers):
        sys.exit(f"layer_compare: CNNCC.json has no '{cn_key}' (layer_profile.py --cputime)")
    for l in layers:
        l["ms"] = l[cn_key]
        if l.get("macs") and l["ms"] > 0:
            l["gflops"] = 2 * l["macs"] / (l["ms"] * 1e-3) / 1e9
    ort_nodes = json.load(open(a.ort))["nodes"]
    if not all(ort_key in n for n in ort_nodes):
        sys.exit(f"layer_compare: ORT.json has no '{ort_key}' (bench/ort_layers.js)")
    for n in ort_nodes:
        n["ms"] = n[ort_key]
    cn_names = {l["node"] for l in layers}
    owner = attribute(model, cn_names, ort_nodes)
    ort_ms = {}
    ort_parts = {}
    unowned = []
    for n in ort_nodes:
        o = owner[n["name"]]
        if o is None:
            unowned.append(n)
            continue
        ort_ms[o] = ort_ms.get(o, 0.0) + n["ms"]
        ort_parts.setdefault(o, []).append(n["op"])
    rows = []
    for l in layers:
        o = ort_ms.get(l["node"], 0.0)
        rows.append({"node": l["node"], "op": l["op"], "desc": l.get("desc", ""),
                     "cnncc_ms": l["ms"], "ort_ms": o, "gflops": l.get("gflops"),
                     "ort_ops": ort_parts.get(l["node"], [])})
    rows.sort(key=lambda r: r["ort_ms"] - r["cnncc_ms"])
    shown = rows[:a.top] if a.top else rows
    print(f"{'cnncc-ORT':>9} {'cnncc ms':>8} {'ORT ms':>7} {'ratio':>6} {'GF/s':>6}  layer")
    for r in shown:
        ratio = f"{r['cnncc_ms'] / r['ort_ms']:.2f}" if r["ort_ms"] > 0 else "-"
        gf = f"{r['gflops']:.0f}" if r.get("gflops") else ""
        print(f"{r['cnncc_ms'] - r['ort_ms']:+9.3f} {r['cnncc_ms']:8.3f} {r['ort_ms']:7.3f} "
              f"{ratio:>6} {gf:>6}  {r['op']} {r['desc']} {r['node']}")
    tc = sum(r["cnncc_ms"] for r in rows)
    to = sum(r["ort_ms"] for r in rows)
    tu = sum(n["ms"] for n in unowned)
    print(f"total: cnncc {tc:.2f} ms, ORT {to + tu:.2f} ms "
          f"({tu:.2f} ms in {len(unowned)} ORT nodes with no cnncc layer: "
          f"{', '.join(sorted({n['op'] for n in unowned}))})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "ort_unattributed": unowned}, f, indent=1)


if __name__ == "__main__":
    main()
