#!/usr/bin/env node
// Per-node times of ONNX Runtime (onnxruntime-node, CPU), from its own profiler, for
// bench/layer_compare.py.
//
//   NODE_PATH=DIR/node_modules node bench/ort_layers.js model.onnx input.npy OUT.json \
//       [--threads T] [--runs N]
//
// Same session options as bench/ort_bench.js: intraOpNumThreads T,
// sequential, graphOptimizationLevel 'all' -- so the nodes are ORT's fused NCHWc kernels, named
// by the tensor they write ("<tensor>_nchwc") or by the fusion that made them. Runs the model
// N times (default 30) with enableProfiling and writes
//   {"runs": N, "nodes": [{"name": ..., "op": ..., "ms": median over the runs after the first 5,
//                          "min_ms": the fastest of those runs}]}
// in execution order. The profiler's own file (ORT writes it to the working directory) is
// deleted afterwards.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy } = require('./ort_bench.js');

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : 0.5 * (s[h - 1] + s[h]);
}

async function main() {
  const args = process.argv.slice(2);
  const opt = { threads: 1, runs: 30 };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') opt.threads = Number(args[++i]);
    else if (args[i] === '--runs') opt.runs = Number(args[++i]);
    else pos.push(args[i]);
  }
  if (pos.length !== 3 || !(opt.runs > 5)) {
    console.error('usage: ort_layers.js model.onnx input.npy OUT.json [--threads T] [--runs N>5]');
    process.exit(2);
  }
  const prefix = path.join(os.tmpdir(), `ort_layers_${process.pid}`);
  const session = await ort.InferenceSession.create(pos[0], {
    executionProviders: ['cpu'],
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const x = readNpy(pos[1]);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
  for (let i = 0; i < opt.runs; i++) await session.run(feeds);
  session.endProfiling();
  const dir = path.dirname(prefix);
  const file = fs.readdirSync(dir).find((f) => f.startsWith(path.basename(prefix)));
  if (!file) throw new Error('ONNX Runtime wrote no profile');
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  fs.unlinkSync(path.join(dir, file));
  const times = new Map();
  const ops = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (!times.has(name)) times.set(name, []);
    times.get(name).push(e.dur / 1000);
    ops.set(name, e.args && e.args.op_name);
  }
  const nodes = [];
  for (const [name, v] of times) {
    const warm = v.slice(5);
    nodes.push({ name, op: ops.get(name), ms: median(warm), min_ms: Math.min(...warm) });
  }
  fs.writeFileSync(pos[2], JSON.stringify({ runs: opt.runs, nodes }, null, 1));
}

main().catch((e) => {
  console.error(`ort_layers: ${e.message}`);
  process.exit(1);
});
