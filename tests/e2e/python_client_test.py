#!/usr/bin/python3
"""Interoperability: a Python client, generated from proto/ with Debian's grpc_tools, talks to
octet-server over real gRPC: health (KServe and grpc.health.v1), metadata, and ModelInfer on the
example model with raw and typed contents, checked against known answers on Fashion-MNIST.

  /usr/bin/python3 tests/e2e/python_client_test.py --proto-dir proto \
      (--address HOST:PORT | --server-binary build/server/octet-server \
       --model-repository examples/models)

With --server-binary the script starts the server itself on a free port and stops it with
SIGTERM at the end. Exits 77 (skipped) when the Fashion-MNIST test set is missing, unless CI=true.
"""

import argparse
import gzip
import os
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import kserve_stubs  # noqa: E402  (tests/support/kserve_stubs.py)

SKIP = 77
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
MODEL = "fashion-lenet"
# Top-1 of the example model on the first eight Fashion-MNIST test images; each equals the true
# label (9 ankle boot, 2 pullover, 1 trouser, 1, 6 shirt, 1, 4 coat, 6).
EXPECTED_TOP1 = [9, 2, 1, 1, 6, 1, 4, 6]

ARGS = None
pb = None
pb_grpc = None


def load_images(count):
    """The first `count` test images as lists of 784 floats (raw 0..255 pixels), and labels."""
    with gzip.open(os.path.join(FASHION_MNIST, "t10k-images-idx3-ubyte.gz")) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051 and rows == 28 and cols == 28 and n >= count
        pixels = f.read(count * rows * cols)
    with gzip.open(os.path.join(FASHION_MNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        magic, n = struct.unpack(">II", f.read(8))
        labels = list(f.read(count))
    images = [[float(p) for p in pixels[i * 784:(i + 1) * 784]] for i in range(count)]
    return images, labels


def argmax(values):
    return max(range(len(values)), key=lambda i: values[i])


def logits_of(response, rows):
    assert len(response.outputs) == 1, response
    assert response.outputs[0].name == "logits"
    assert response.outputs[0].datatype == "FP32"
    assert list(response.outputs[0].shape) == [rows, 10], response.outputs[0].shape
    raw = response.raw_output_contents[0]
    assert len(raw) == rows * 10 * 4
    flat = struct.unpack("<%df" % (rows * 10), raw)
    return [list(flat[r * 10:(r + 1) * 10]) for r in range(rows)]


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(ARGS.address)
        grpc.channel_ready_future(cls.channel).result(timeout=60)
        cls.stub = pb_grpc.GRPCInferenceServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_health(self):
        self.assertTrue(self.stub.ServerLive(pb.ServerLiveRequest(), timeout=30).live)
        self.assertTrue(self.stub.ServerReady(pb.ServerReadyRequest(), timeout=30).ready)
        self.assertTrue(
            self.stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=30).ready)
        # grpc.health.v1.Health/Check with an empty HealthCheckRequest; the answer is
        # HealthCheckResponse{status: SERVING}, i.e. field 1 = 1 on the wire.
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
        self.assertEqual(check(b"", timeout=30), b"\x08\x01")

    def test_metadata(self):
        server = self.stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=30)
        self.assertEqual(server.name, "octet")
        self.assertIn("model_repository", server.extensions)
        model = self.stub.ModelMetadata(pb.ModelMetadataRequest(name=MODEL), timeout=30)
        self.assertEqual(model.name, MODEL)
        self.assertEqual(list(model.versions), ["1"])
        self.assertEqual(model.platform, "octet_onnx_fp32")
        self.assertEqual(len(model.inputs), 1)
        self.assertEqual(model.inputs[0].name, "input")
        self.assertEqual(model.inputs[0].datatype, "FP32")
        self.assertEqual(list(model.inputs[0].shape), [-1, 1, 28, 28])
        self.assertEqual(list(model.outputs[0].shape), [-1, 10])

    def test_infer_raw_and_typed_contents_give_the_known_answers(self):
        images, labels = load_images(len(EXPECTED_TOP1))
        self.assertEqual(labels, EXPECTED_TOP1)
        n = len(images)
        flat = [p for image in images for p in image]

        raw = pb.ModelInferRequest(model_name=MODEL, id="raw-batch")
        tensor = raw.inputs.add(name="input", datatype="FP32", shape=[n, 1, 28, 28])
        raw.raw_input_contents.append(struct.pack("<%df" % len(flat), *flat))
        response = self.stub.ModelInfer(raw, timeout=60)
        self.assertEqual(response.model_name, MODEL)
        self.assertEqual(response.model_version, "1")
        self.assertEqual(response.id, "raw-batch")
        batch_logits = logits_of(response, n)
        self.assertEqual([argmax(row) for row in batch_logits], EXPECTED_TOP1)

        # One image at a time with typed contents: the same logits as in the batch.
        for i, image in enumerate(images):
            typed = pb.ModelInferRequest(model_name=MODEL, model_version="1")
            tensor = typed.inputs.add(name="input", datatype="FP32", shape=[1, 1, 28, 28])
            tensor.contents.fp32_contents.extend(image)
            typed.parameters["label"].int64_param = labels[i]
            logits = logits_of(self.stub.ModelInfer(typed, timeout=60), 1)[0]
            self.assertEqual(argmax(logits), EXPECTED_TOP1[i])
            for a, b in zip(logits, batch_logits[i]):
                self.assertAlmostEqual(a, b, delta=1e-3 * (1 + abs(b)))

    def test_bad_requests_get_clear_errors(self):
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.ModelInfer(pb.ModelInferRequest(model_name="no-such-model"), timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-model", error.exception.details())

        bad = pb.ModelInferRequest(model_name=MODEL)
        bad.inputs.add(name="input", datatype="FP32", shape=[1, 28, 28])
        bad.raw_input_contents.append(b"\0" * (28 * 28 * 4))
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.ModelInfer(bad, timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("rank", error.exception.details())
        # Still serving.
        self.assertTrue(self.stub.ServerReady(pb.ServerReadyRequest(), timeout=30).ready)


def start_server(binary, repository):
    server = subprocess.Popen([binary, "--model-repository", repository,
                               "--grpc-address", "127.0.0.1:0", "--threads", "1"],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if "listening on port" not in line:
        server.kill()
        sys.exit("octet-server did not start: %r" % line)
    return server, "127.0.0.1:" + line.split()[-1]


def main():
    global ARGS, pb, pb_grpc
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--address")
    parser.add_argument("--server-binary")
    parser.add_argument("--model-repository")
    ARGS, rest = parser.parse_known_args()
    if not os.path.exists(os.path.join(FASHION_MNIST, "t10k-images-idx3-ubyte.gz")):
        message = "missing %s (Debian package dataset-fashion-mnist)" % FASHION_MNIST
        if os.environ.get("CI") == "true":
            sys.exit("FAIL: " + message)
        print("SKIPPED: " + message)
        return SKIP
    server = None
    with tempfile.TemporaryDirectory() as out_dir:
        pb, pb_grpc = kserve_stubs.generate(ARGS.proto_dir, out_dir)
        if ARGS.server_binary:
            server, ARGS.address = start_server(ARGS.server_binary, ARGS.model_repository)
        try:
            result = unittest.main(argv=[sys.argv[0]] + rest, exit=False).result
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                if server.wait(timeout=60) != 0:
                    print("octet-server exited with %d" % server.returncode)
                    return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
