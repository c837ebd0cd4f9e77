#!/usr/bin/env node
// ort_speed.js: times an ONNX model on ONNX Runtime's CPU execution provider the way
// `octet-bench speed` times it on Octet (bench/evaluation.cc, MeasureSpeed), so that the two
// can be put side by side (bench/compare_onnxruntime.sh):
//
//   - the input is one sample of "random" pixels from octet-bench's generator and seed (the
//     same float values, bit for bit), repeated across the batch;
//   - `warmup` untimed runs, then `runs` timed runs, each repeating inference until at least
//     `min_run_ms` have passed; a run's latency is its elapsed time over its inference count;
//   - the median (the upper one for an even count, as octet-bench), min and max of those
//     latencies, and throughput = batch * 1000 / median ms.
//
// The Node binding's run() is asynchronous (it runs the graph on this thread from a
// setImmediate callback); each call is awaited before the next, so there is one inference in
// flight at a time, as with octet-bench. That wrapper and the output's conversion into a JS
// tensor are part of what is timed, as Octet's output allocation is part of its time.
//
//   node ort_speed.js --model M.onnx [--batch 1,16,64] [--threads 1,2] [--json]
'use strict';

const os = require('os');
const {ort, ortVersion, parseFlags, parseIntList, fail, createSession, singleInput} =
    require('./ort_session');

const USAGE = `usage: node ort_speed.js --model MODEL.onnx [flags]
  --batch 1,16,64   batch sizes, comma-separated
  --threads T,...   intra-op threads, comma-separated (default 0: ONNX Runtime's default)
  --warmup 3        warm-up runs
  --runs 7          timed runs (median, min and max are reported)
  --min-run-ms 300  each timed run repeats inference for at least this long
  --spin=false      forbid ONNX Runtime's pool threads to spin while idle (default: allowed)
  --json            print one JSON object on stdout, shaped like octet-bench speed --json
`;

// octet-bench speed's input without --dataset: an LCG (Numerical Recipes' constants) seeded
// with 12345, its top 8 bits as a float pixel value in [0, 255].
function randomPixels(count) {
  const values = new Float32Array(count);
  let state = 12345;
  for (let i = 0; i < count; ++i) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state >>> 24;
  }
  return values;
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function measureSpeed(session, input, sample, batch, options) {
  const perSample = sample.length;
  const data = new Float32Array(batch * perSample);
  for (let i = 0; i < batch; ++i) data.set(sample, i * perSample);
  const feeds = {[input.name]: new ort.Tensor('float32', data, [batch, ...input.shape.slice(1)])};
  for (let i = 0; i < options.warmup; ++i) await session.run(feeds);
  const latencies = [];
  let inferences = 0;
  for (let run = 0; run < options.runs; ++run) {
    let count = 0;
    const start = nowMs();
    let elapsed;
    do {
      await session.run(feeds);
      ++count;
      elapsed = nowMs() - start;
    } while (elapsed < options.min_run_ms);
    latencies.push(elapsed / count);
    inferences += count;
  }
  latencies.sort((a, b) => a - b);
  const median = latencies[Math.floor(latencies.length / 2)];
  return {
    batch,
    median,
    min: latencies[0],
    max: latencies[latencies.length - 1],
    throughput: (batch * 1000) / median,
    inferences,
  };
}

async function main() {
  const flags = parseFlags(
      process.argv.slice(2),
      {model: '', batch: '', threads: '', warmup: 3, runs: 7, min_run_ms: 300, spin: true,
       json: false},
      USAGE);
  if (flags.model === '') fail(`--model is required\n${USAGE}`, 2);
  if (flags.runs < 1 || flags.warmup < 0 || flags.min_run_ms < 0) {
    fail('--runs must be >= 1, --warmup and --min-run-ms >= 0', 2);
  }
  const batches = parseIntList(flags.batch, [1, 16, 64], 'batch');
  const threadCounts = parseIntList(flags.threads, [0], 'threads');
  if (batches.some((b) => b < 1)) fail('--batch: batch sizes must be >= 1', 2);

  const rows = [];
  if (!flags.json) {
    console.log(`model ${flags.model}, fp32, onnxruntime-node ${ortVersion} (cpu)`);
    console.log(['batch', 'threads', 'images/s', 'median ms', 'min ms', 'max ms']
                    .map((h, i) => h.padStart([6, 8, 14, 12, 10, 10][i]))
                    .join(' '));
  }
  for (const threads of threadCounts) {
    const session = await createSession(flags.model, threads, flags.spin);
    const input = singleInput(session);
    const sample = randomPixels(input.shape.slice(1).reduce((a, b) => a * b, 1));
    // 0 leaves the choice to ONNX Runtime, which takes one thread per physical core.
    const reportedThreads = threads === 0 ? os.availableParallelism() : threads;
    for (const batch of batches) {
      const r = await measureSpeed(session, input, sample, batch, flags);
      if (flags.json) {
        rows.push({
          batch: r.batch,
          threads: reportedThreads,
          throughput_per_s: Number(r.throughput.toFixed(1)),
          latency_ms_median: Number(r.median.toFixed(4)),
          latency_ms_min: Number(r.min.toFixed(4)),
          latency_ms_max: Number(r.max.toFixed(4)),
          inferences: r.inferences,
        });
      } else {
        console.log(`${String(r.batch).padStart(6)} ${String(reportedThreads).padStart(8)} ` +
                    `${r.throughput.toFixed(1).padStart(14)} ${r.median.toFixed(4).padStart(12)} ` +
                    `${r.min.toFixed(4).padStart(10)} ${r.max.toFixed(4).padStart(10)}`);
      }
    }
    await session.release();
  }
  // maxRSS is in KiB and includes Node itself (some 40 MiB before any model is loaded).
  const peakRssMiB = Number((process.resourceUsage().maxRSS / 1024).toFixed(1));
  if (flags.json) {
    console.log(JSON.stringify({
      model: flags.model,
      precision: 'fp32',
      runtime: `onnxruntime-node ${ortVersion}`,
      execution_provider: 'cpu',
      peak_rss_mib: peakRssMiB,
      results: rows,
    }));
  } else {
    console.log(`peak RSS ${peakRssMiB} MiB (Node included)`);
  }
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
