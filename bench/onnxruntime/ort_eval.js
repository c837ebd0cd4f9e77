#!/usr/bin/env node
// ort_eval.js: top-1 accuracy of an ONNX model on ONNX Runtime's CPU execution provider over
// a CIFAR-10 binary file, with the same preprocessing as `octet-bench eval` (the float input
// is bit for bit the same: x = float((pixel * scale - mean[c]) / std[c]), computed in double).
// bench/compare_onnxruntime.sh compares its correct count with Octet's as a check that the
// two runtimes compute the same function before their speeds are compared; octet-bench has
// no way to dump raw outputs, so agreement is judged on the 10,000 predictions' sum.
//
//   node ort_eval.js --model M.onnx --dataset cifar10:test.bin [--scale 1/255
//       --mean 0.4914,0.4822,0.4465 --std 0.2470,0.2435,0.2616] [--batch 64] [--json]
'use strict';

const fs = require('fs');
const {ort, ortVersion, parseFlags, fail, createSession, singleInput} = require('./ort_session');

const USAGE = `usage: node ort_eval.js --model MODEL.onnx --dataset cifar10:PATH [flags]
  --scale 1         pixel multiplier: a number or a fraction A/B
  --mean m0,m1,m2   per-channel means (default 0)
  --std s0,s1,s2    per-channel standard deviations (default 1)
  --batch 64        batch size
  --threads 0       intra-op threads (0: ONNX Runtime's default)
  --limit -1        evaluate only the first N images
  --json            print one JSON object, shaped like octet-bench eval --json
`;

const CIFAR_CHANNELS = 3;
const CIFAR_PLANE = 32 * 32;
const CIFAR_IMAGE_BYTES = CIFAR_CHANNELS * CIFAR_PLANE;
const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;  // label byte, then the CHW pixels

function parseScale(text) {
  const parts = text.split('/').map(Number);
  if (parts.length > 2 || parts.some((v) => !Number.isFinite(v)) || parts[1] === 0) {
    fail(`--scale '${text}': expected a number or a fraction A/B`, 2);
  }
  return parts.length === 2 ? parts[0] / parts[1] : parts[0];
}

function parsePerChannel(text, fallback, what) {
  if (text === '') return new Array(CIFAR_CHANNELS).fill(fallback);
  const values = text.split(',').map(Number);
  if (values.length !== CIFAR_CHANNELS || values.some((v) => !Number.isFinite(v))) {
    fail(`--${what} '${text}': expected ${CIFAR_CHANNELS} numbers`, 2);
  }
  return values;
}

// pixel value -> model input, per channel, rounded to float32 as Octet's lookup table is.
function preprocessingTable(scale, mean, std) {
  const table = new Float32Array(CIFAR_CHANNELS * 256);
  for (let c = 0; c < CIFAR_CHANNELS; ++c) {
    for (let p = 0; p < 256; ++p) table[c * 256 + p] = (p * scale - mean[c]) / std[c];
  }
  return table;
}

async function main() {
  const flags = parseFlags(
      process.argv.slice(2),
      {model: '', dataset: '', scale: '1', mean: '', std: '', batch: 64, threads: 0, limit: -1,
       json: false},
      USAGE);
  if (flags.model === '' || !flags.dataset.startsWith('cifar10:')) {
    fail(`--model and --dataset cifar10:PATH are required\n${USAGE}`, 2);
  }
  if (flags.batch < 1) fail('--batch must be >= 1', 2);
  const table = preprocessingTable(parseScale(flags.scale), parsePerChannel(flags.mean, 0, 'mean'),
                                   parsePerChannel(flags.std, 1, 'std'));
  const file = fs.readFileSync(flags.dataset.slice('cifar10:'.length));
  if (file.length === 0 || file.length % CIFAR_RECORD_BYTES !== 0) {
    fail(`${flags.dataset}: not a whole number of ${CIFAR_RECORD_BYTES}-byte records`);
  }
  let total = file.length / CIFAR_RECORD_BYTES;
  if (flags.limit >= 0) total = Math.min(total, flags.limit);

  const session = await createSession(flags.model, flags.threads, true);
  const input = singleInput(session);
  if (input.shape.slice(1).join(',') !== `${CIFAR_CHANNELS},32,32`) {
    fail(`the model input is [${input.shape}], expected [N,3,32,32]`);
  }
  let correct = 0;
  const start = process.hrtime.bigint();
  for (let first = 0; first < total; first += flags.batch) {
    const n = Math.min(flags.batch, total - first);
    const data = new Float32Array(n * CIFAR_IMAGE_BYTES);
    for (let i = 0; i < n; ++i) {
      const pixels = (first + i) * CIFAR_RECORD_BYTES + 1;
      for (let j = 0; j < CIFAR_IMAGE_BYTES; ++j) {
        const channel = Math.floor(j / CIFAR_PLANE);
        data[i * CIFAR_IMAGE_BYTES + j] = table[channel * 256 + file[pixels + j]];
      }
    }
    const batch = new ort.Tensor('float32', data, [n, ...input.shape.slice(1)]);
    const outputs = await session.run({[input.name]: batch});
    const scores = outputs[session.outputNames[0]];
    const classes = scores.dims[scores.dims.length - 1];
    if (scores.dims.length !== 2 || scores.dims[0] !== n) {
      fail('evaluation needs a first output of shape [N, classes]');
    }
    for (let i = 0; i < n; ++i) {
      let best = 0;  // the first maximum, as std::max_element
      for (let k = 1; k < classes; ++k) {
        if (scores.data[i * classes + k] > scores.data[i * classes + best]) best = k;
      }
      correct += best === file[(first + i) * CIFAR_RECORD_BYTES];
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (flags.json) {
    console.log(JSON.stringify({
      model: flags.model,
      dataset: flags.dataset,
      precision: 'fp32',
      runtime: `onnxruntime-node ${ortVersion}`,
      samples: total,
      correct,
      accuracy: Number((correct / total).toFixed(6)),
      batch: flags.batch,
      threads: flags.threads,
      seconds: Number(seconds.toFixed(3)),
      throughput_per_s: Number((total / seconds).toFixed(1)),
    }));
  } else {
    console.log(`model      ${flags.model}\ndataset    ${flags.dataset} (${total} images)\n` +
                `runtime    onnxruntime-node ${ortVersion} (cpu), fp32\n` +
                `accuracy   ${(100 * correct / total).toFixed(2)}% (${correct}/${total})\n` +
                `time       ${seconds.toFixed(2)} s (batch ${flags.batch})`);
  }
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
