#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU) for tests/emit_onnx:
//
//   NODE_PATH=DIR/node_modules node ort_run.js model.onnx OUT_DIR in0.npy [in1.npy ...]
//
// Inputs are fed in the model's input order; output i is written to OUT_DIR/i.npy.
// .npy files: little-endian float32/float64/int32/int64, uint8/bool, C order.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const DESCR = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array],
  '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = header.match(/'descr':\s*'([^']*)'/)[1];
  if (!DESCR[descr]) throw new Error(`${file}: unsupported dtype ${descr}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: fortran order`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',')
    .map((s) => s.trim()).filter((s) => s.length).map(Number);
  const [type, Arr] = DESCR[descr];
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Arr(n); // a copy: the file's data need not be aligned
  Buffer.from(data.buffer).set(buf.subarray(hstart + hlen, hstart + hlen + n * Arr.BYTES_PER_ELEMENT));
  return new ort.Tensor(type, type === 'bool' ? Array.from(data, (v) => v !== 0) : data, shape);
}

function writeNpy(file, t) {
  const entry = Object.entries(DESCR).find(([, [type]]) => type === t.type);
  if (!entry) throw new Error(`output of type ${t.type} not supported`);
  const [descr, [, Arr]] = entry;
  const data = t.type === 'bool' ? Uint8Array.from(t.data, (v) => (v ? 1 : 0)) : Arr.from(t.data);
  const dims = t.dims.length === 1 ? `${t.dims[0]},` : t.dims.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

async function main() {
  const [model, outDir, ...inputs] = process.argv.slice(2);
  if (!model || !outDir) {
    console.error('usage: ort_run.js model.onnx OUT_DIR in0.npy ...');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
  });
  if (inputs.length !== session.inputNames.length) {
    throw new Error(`the model has ${session.inputNames.length} inputs, ${inputs.length} given`);
  }
  const feeds = {};
  session.inputNames.forEach((name, i) => { feeds[name] = readNpy(inputs[i]); });
  const result = await session.run(feeds);
  session.outputNames.forEach((name, i) => writeNpy(path.join(outDir, `${i}.npy`), result[name]));
  console.log(`onnxruntime-node ${ort.env.versions.common}: ${session.outputNames.length} outputs`);
}

main().catch((e) => {
  console.error(`ort_run.js: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
