#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU) timing for bench/run.sh.
//
//   NODE_PATH=DIR/node_modules node bench/ort_bench.js model.onnx input.npy \
//       [--threads T] [--bench N] [--out FILE.npy]
//
// One session (intraOpNumThreads T, interOpNumThreads 1, executionMode 'sequential',
// graphOptimizationLevel 'all'), one warm-up run, then N timed runs (process.hrtime).
// Writes the first output as float32 .npy to FILE.npy when asked. The last stdout line is
//   median_ms=<x> min_ms=<y>
// like cnncc's generated driver.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${path}: need little-endian float32`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: fortran order`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',')
    .map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n); // copy: the file data need not be 4-byte aligned
  Buffer.from(data.buffer).set(buf.subarray(hstart + hlen, hstart + hlen + 4 * n));
  return { shape, data };
}

function writeNpy(path, shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

async function main() {
  const args = process.argv.slice(2);
  const opt = { threads: 1, bench: 10, out: null };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') opt.threads = Number(args[++i]);
    else if (args[i] === '--bench') opt.bench = Number(args[++i]);
    else if (args[i] === '--out') opt.out = args[++i];
    else pos.push(args[i]);
  }
  if (pos.length !== 2) {
    console.error('usage: ort_bench.js model.onnx input.npy [--threads T] [--bench N] [--out F]');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(pos[0], {
    executionProviders: ['cpu'],
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const x = readNpy(pos[1]);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };

  let result = await session.run(feeds); // warm-up
  const times = [];
  for (let i = 0; i < opt.bench; i++) {
    const t0 = process.hrtime.bigint();
    result = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (opt.out) {
    const y = result[session.outputNames[0]];
    writeNpy(opt.out, y.dims, y.data);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const median = n ? (n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2) : 0;
  console.log(`ort=${ort.env.versions.node} threads=${opt.threads} runs=${n}`);
  console.log(`median_ms=${median.toFixed(4)} min_ms=${(n ? times[0] : 0).toFixed(4)}`);
}

module.exports = { readNpy }; // for bench/ort_layers.js

if (require.main === module) {
  main().catch((e) => {
    console.error(`ort_bench.js: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  });
}
