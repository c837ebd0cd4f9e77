// What ort_speed.js and ort_eval.js share: their command-line flags, parsed the way
// octet-bench's absl flags are (--name=value or --name value; '-' and '_' alike), and the one
// place that sets ONNX Runtime's session options, so both tools measure the same
// configuration.
'use strict';

const path = require('path');
const ort = require('onnxruntime-node');

// Parses argv into {name: value} for the flags in `defaults` (the values there are the
// defaults and give each flag's type: string, number or boolean). Unknown flags are an error,
// so a typo never silently falls back to a default.
function parseFlags(argv, defaults, usage) {
  const flags = {...defaults};
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(usage);
      process.exit(0);
    }
    const match = /^--([A-Za-z0-9_-]+)(?:=(.*))?$/.exec(arg);
    if (!match) fail(`unexpected argument '${arg}'\n${usage}`, 2);
    const name = match[1].replace(/-/g, '_');
    if (!(name in defaults)) fail(`unknown flag --${match[1]}\n${usage}`, 2);
    let value = match[2];
    if (typeof defaults[name] === 'boolean') {
      flags[name] = value === undefined || value === 'true' || value === '1';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) fail(`--${match[1]} needs a value`, 2);
      value = argv[++i];
    }
    if (typeof defaults[name] === 'number') {
      const n = Number(value);
      if (!Number.isInteger(n)) fail(`--${match[1]}: '${value}' is not an integer`, 2);
      flags[name] = n;
    } else {
      flags[name] = value;
    }
  }
  return flags;
}

// "1,16,64" -> [1, 16, 64]; an empty string gives `fallback`.
function parseIntList(text, fallback, what) {
  if (text === '') return fallback;
  return text.split(',').map((part) => {
    const n = Number(part);
    if (part === '' || !Number.isInteger(n) || n < 0) {
      fail(`--${what}: '${part}' is not a non-negative integer`, 2);
    }
    return n;
  });
}

// Exit status as octet-bench's: 2 for a usage error, 1 for anything else.
function fail(message, status = 1) {
  process.stderr.write(`${path.basename(process.argv[1])}: ${message}\n`);
  process.exit(status);
}

// One intra-op thread pool of `threads` threads (the calling thread included, as with
// Octet's OpenMP team), nodes run one after another (no inter-op parallelism), every graph
// optimization on. `spin` keeps ONNX Runtime's default of letting its pool threads spin
// between nodes and between runs; it matters only when threads > 1.
async function createSession(modelPath, threads, spin) {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: {session: {intra_op: {allow_spinning: spin ? '1' : '0'}}},
  });
}

// The model's single input: its name and its shape with symbolic dimensions set to 1 (as
// octet-bench does); the first dimension is the batch.
function singleInput(session) {
  if (session.inputNames.length !== 1) fail('the model must have exactly one input');
  const meta = session.inputMetadata[0];
  if (!meta.isTensor || meta.type !== 'float32') fail('the model input must be a float32 tensor');
  const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
  return {name: session.inputNames[0], shape};
}

const ortVersion = ort.env.versions.node;

module.exports = {ort, ortVersion, parseFlags, parseIntList, fail, createSession, singleInput};
