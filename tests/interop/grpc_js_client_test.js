#!/usr/bin/env node
// Interoperability: a gRPC client that Octet did not write (@grpc/grpc-js with
// @grpc/proto-loader, from npm) loads proto/inference.proto at run time and calls octet-server:
// ServerMetadata, ModelMetadata, and ModelInfer with raw_input_contents (FP32 little-endian)
// and typed contents on Fashion-MNIST test images whose top-1 is known; an unknown model is
// NOT_FOUND.
//
//   node tests/interop/grpc_js_client_test.js --proto-dir proto \
//       (--address HOST:PORT | --server-binary build/server/octet-server \
//        --model-repository examples/models)
//
// With --server-binary it copies the repository to a temporary directory, starts the server
// there on a free loopback port (the port is read from its "octet-server listening on port N"
// line) and stops it with SIGTERM at the end, expecting exit status 0. Exits 77 (skipped) when
// Debian's Fashion-MNIST is missing, unless CI=true.
'use strict';

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const zlib = require('node:zlib');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const SKIP = 77;
const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const MODEL = 'fashion-lenet';
const PIXELS = 28 * 28;
const CLASSES = 10;
// Top-1 of the example model on the first eight test images; each equals the true label
// (9 ankle boot, 2 pullover, 1 trouser, 1, 6 shirt, 1, 4 coat, 6).
const EXPECTED_TOP1 = [9, 2, 1, 1, 6, 1, 4, 6];
const DEADLINE_MS = 30000;

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    if (!name.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${name}`);
    args[name.slice(2).replace(/-/g, '_')] = argv[i + 1];
  }
  if (!args.proto_dir) throw new Error('--proto-dir is required');
  if (!args.address && !(args.server_binary && args.model_repository)) {
    throw new Error('give --address, or --server-binary and --model-repository');
  }
  return args;
}

// The first `count` test images (raw 0..255 pixels, as the example model takes them) and
// their labels, read from the IDX files directly.
function loadTestImages(count) {
  const images = zlib.gunzipSync(fs.readFileSync(path.join(FASHION_MNIST, 't10k-images-idx3-ubyte.gz')));
  assert.equal(images.readUInt32BE(0), 2051, 'IDX image magic');
  assert.ok(images.readUInt32BE(4) >= count);
  assert.equal(images.readUInt32BE(8), 28);
  assert.equal(images.readUInt32BE(12), 28);
  const labels = zlib.gunzipSync(fs.readFileSync(path.join(FASHION_MNIST, 't10k-labels-idx1-ubyte.gz')));
  assert.equal(labels.readUInt32BE(0), 2049, 'IDX label magic');
  const pixels = new Float32Array(count * PIXELS);
  for (let i = 0; i < count * PIXELS; ++i) pixels[i] = images[16 + i];
  return { pixels, labels: Array.from(labels.subarray(8, 8 + count)) };
}

// FP32 little-endian bytes of `values`, as raw_input_contents carries them.
function float32LittleEndian(values) {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; ++i) bytes.writeFloatLE(values[i], i * 4);
  return bytes;
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; ++i) if (row[i] > row[best]) best = i;
  return best;
}

// Starts octet-server on a temporary copy of the repository; resolves to {server, address, dir}.
function startServer(binary, repository) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'octet-interop-'));
  const copy = path.join(dir, 'models');
  fs.cpSync(repository, copy, { recursive: true });
  const server = childProcess.spawn(binary, [
    '--model-repository', copy, '--grpc-address', '127.0.0.1:0',
    '--metrics-address', '127.0.0.1:0', '--threads', '1',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.kill('SIGKILL');
      reject(new Error('octet-server did not print its port within 120 s'));
    }, 120000);
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`octet-server exited early (code ${code}, signal ${signal})`));
    });
    const lines = readline.createInterface({ input: server.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^octet-server listening on port (\d+)$/.exec(line.trim());
      if (!match) {
        server.kill('SIGKILL');
        reject(new Error(`unexpected first line from octet-server: ${line}`));
        return;
      }
      server.removeAllListeners('exit');
      resolve({ server, address: `127.0.0.1:${match[1]}`, dir });
    });
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.kill('SIGKILL'), 60000);
    server.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    server.kill('SIGTERM');
  });
}

function makeClient(protoDir, address) {
  // The file name is resolved against includeDirs, as protoc's -I.
  const definition = protoLoader.loadSync('inference.proto', {
    includeDirs: [path.resolve(protoDir)],
    keepCase: true,   // the proto's field names (raw_input_contents), as other clients use
    longs: String,    // int64 shape dims and counts as strings, exactly
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const inference = grpc.loadPackageDefinition(definition).inference;
  return new inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
}

// Promise-returning unary call with a deadline.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + DEADLINE_MS }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

// The rows of logits in a ModelInferResponse's first raw output.
function rawLogits(response, rows) {
  assert.equal(response.outputs.length, 1);
  const output = response.outputs[0];
  assert.equal(output.name, 'logits');
  assert.equal(output.datatype, 'FP32');
  assert.deepEqual(output.shape, [String(rows), String(CLASSES)]);
  assert.equal(response.raw_output_contents.length, 1);
  const raw = response.raw_output_contents[0];
  assert.equal(raw.length, rows * CLASSES * 4);
  const logits = [];
  for (let r = 0; r < rows; ++r) {
    const row = [];
    for (let c = 0; c < CLASSES; ++c) row.push(raw.readFloatLE((r * CLASSES + c) * 4));
    logits.push(row);
  }
  return logits;
}

const tests = [];
function test(name, body) {
  tests.push({ name, body });
}

test('ServerMetadata names the server, its version and extensions', async (client) => {
  const metadata = await call(client, 'ServerMetadata', {});
  assert.equal(metadata.name, 'octet');
  assert.ok(metadata.version.length > 0, 'version is empty');
  assert.ok(Array.isArray(metadata.extensions));
  assert.ok(metadata.extensions.includes('model_repository'), metadata.extensions.join(','));
  const live = await call(client, 'ServerLive', {});
  assert.equal(live.live, true);
  const ready = await call(client, 'ServerReady', {});
  assert.equal(ready.ready, true);
});

test('ModelMetadata describes the example model', async (client) => {
  const metadata = await call(client, 'ModelMetadata', { name: MODEL });
  assert.equal(metadata.name, MODEL);
  assert.deepEqual(metadata.versions, ['1']);
  assert.equal(metadata.inputs.length, 1);
  assert.equal(metadata.inputs[0].name, 'input');
  assert.equal(metadata.inputs[0].datatype, 'FP32');
  assert.deepEqual(metadata.inputs[0].shape, ['-1', '1', '28', '28']);
  assert.equal(metadata.outputs[0].name, 'logits');
  assert.deepEqual(metadata.outputs[0].shape, ['-1', '10']);
});

test('ModelInfer with raw_input_contents gives the known top-1 classes', async (client, images) => {
  const n = EXPECTED_TOP1.length;
  assert.deepEqual(images.labels, EXPECTED_TOP1);
  // One image: test image 0 is an ankle boot (class 9).
  const single = await call(client, 'ModelInfer', {
    model_name: MODEL,
    id: 'node-single',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] }],
    raw_input_contents: [float32LittleEndian(images.pixels.subarray(0, PIXELS))],
  });
  assert.equal(single.model_name, MODEL);
  assert.equal(single.model_version, '1');
  assert.equal(single.id, 'node-single');
  const singleLogits = rawLogits(single, 1)[0];
  assert.equal(argmax(singleLogits), 9);

  // A batch of eight in one request.
  const batch = await call(client, 'ModelInfer', {
    model_name: MODEL,
    model_version: '1',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [n, 1, 28, 28] }],
    raw_input_contents: [float32LittleEndian(images.pixels)],
  });
  const logits = rawLogits(batch, n);
  assert.deepEqual(logits.map(argmax), EXPECTED_TOP1);
  for (let c = 0; c < CLASSES; ++c) {
    assert.ok(Math.abs(logits[0][c] - singleLogits[c]) <= 1e-3 * (1 + Math.abs(singleLogits[c])),
      `batch row 0 class ${c}: ${logits[0][c]} vs ${singleLogits[c]}`);
  }
});

test('ModelInfer with typed fp32_contents gives the same logits', async (client, images) => {
  const image = Array.from(images.pixels.subarray(PIXELS, 2 * PIXELS));  // test image 1
  const raw = rawLogits(await call(client, 'ModelInfer', {
    model_name: MODEL,
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] }],
    raw_input_contents: [float32LittleEndian(image)],
  }), 1)[0];
  const typed = await call(client, 'ModelInfer', {
    model_name: MODEL,
    inputs: [{
      name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28],
      contents: { fp32_contents: image },
    }],
    parameters: { label: { int64_param: String(EXPECTED_TOP1[1]) } },
  });
  const logits = rawLogits(typed, 1)[0];
  assert.equal(argmax(logits), EXPECTED_TOP1[1]);
  for (let c = 0; c < CLASSES; ++c) {
    assert.ok(Math.abs(logits[c] - raw[c]) <= 1e-5 * (1 + Math.abs(raw[c])), `class ${c}`);
  }
});

test('bad requests get NOT_FOUND and INVALID_ARGUMENT with clear messages', async (client) => {
  await assert.rejects(call(client, 'ModelInfer', { model_name: 'no-such-model' }), (error) => {
    assert.equal(error.code, grpc.status.NOT_FOUND);
    assert.match(error.details, /no-such-model/);
    return true;
  });
  await assert.rejects(call(client, 'ModelInfer', {
    model_name: MODEL,
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] }],
    raw_input_contents: [Buffer.alloc(PIXELS * 4 - 4)],  // one float short
  }), (error) => {
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    assert.ok(error.details.length > 0);
    return true;
  });
  const ready = await call(client, 'ServerReady', {});
  assert.equal(ready.ready, true);
});

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(FASHION_MNIST, 't10k-images-idx3-ubyte.gz'))) {
    const message = `missing ${FASHION_MNIST} (Debian package dataset-fashion-mnist)`;
    if (process.env.CI === 'true') {
      console.error(`FAIL: ${message}`);
      return 1;
    }
    console.log(`SKIPPED: ${message}`);
    return SKIP;
  }
  const images = loadTestImages(EXPECTED_TOP1.length);
  let started = null;
  let address = args.address;
  if (args.server_binary) {
    started = await startServer(args.server_binary, args.model_repository);
    address = started.address;
  }
  console.log(`grpc-js ${require('@grpc/grpc-js/package.json').version}, ` +
              `proto-loader ${require('@grpc/proto-loader/package.json').version}, ` +
              `node ${process.version}, server ${address}`);
  const client = makeClient(args.proto_dir, address);
  let failures = 0;
  try {
    for (const { name, body } of tests) {
      try {
        await body(client, images);
        console.log(`ok - ${name}`);
      } catch (error) {
        ++failures;
        console.log(`not ok - ${name}\n  ${String(error.stack || error).replace(/\n/g, '\n  ')}`);
      }
    }
  } finally {
    client.close();
    if (started) {
      const { code, signal } = await stopServer(started.server);
      fs.rmSync(started.dir, { recursive: true, force: true });
      if (code !== 0) {
        console.log(`not ok - octet-server exited with code ${code}, signal ${signal} after SIGTERM`);
        ++failures;
      }
    }
  }
  console.log(`${tests.length - failures} of ${tests.length} passed`);
  return failures === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (error) => {
  console.error(`FAIL: ${error.stack || error}`);
  process.exit(1);
});
