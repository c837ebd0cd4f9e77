#!/usr/bin/python3
"""Octet's metrics as a real Prometheus server sees them (issue 6, item 2).

Starts octet-server on the example model repository and Debian's /usr/bin/prometheus, both on
loopback (ports found free), Prometheus scraping Octet every second from a temporary config and
storage directory. Sends known traffic with a Python gRPC client generated from proto/ (Debian's
python3-grpcio and python3-grpc-tools): successful requests, some carrying labels (one int64
for a sample, a "3,1,4" string for a batch) chosen to be right or wrong, and a known number of
invalid ones. Then asks Prometheus's HTTP API (/api/v1/query) for the request count, the invalid
count, histogram_quantile(0.99, ...) of the request duration, and the labelled accuracy, and
checks each against what was sent and measured by the client.

  /usr/bin/python3 tests/metrics/prometheus_e2e_test.py --proto-dir proto \\
      --server-binary build/server/octet-server --model-repository examples/models

Exit status: 0 passed, 1 failed, 77 skipped (prometheus or python3-grpcio missing; in CI, with
CI=true, that is a failure instead). Both processes are stopped however the test ends.
"""

import argparse
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import kserve_stubs  # noqa: E402  (tests/support/kserve_stubs.py)

SKIP = 77
MODEL = "fashion-lenet"
PIXELS = 28 * 28

# Upper bounds (seconds) of octet_request_duration_seconds' buckets (PrometheusMetrics).
DURATION_BUCKETS = [50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
                    100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0, 10.0]

ARGS = None
pb = None
pb_grpc = None


def skip_or_fail(message):
    """Exits 77 (skipped), or 1 in CI, where scripts/install-deps.sh test installs everything."""
    if os.environ.get("CI") == "true":
        print("FAIL: %s (CI needs it: scripts/install-deps.sh test)" % message)
        sys.exit(1)
    print("SKIPPED: " + message)
    sys.exit(SKIP)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process, name):
    """SIGTERM, then SIGKILL after 30 s; never raises."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print("%s did not stop on SIGTERM; killing it" % name)
        process.kill()
        process.wait()


class Prometheus:
    """A Prometheus server on loopback scraping one target every second."""

    def __init__(self, binary, target, workdir):
        self.port = free_port()
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  scrape_timeout: 900ms\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: octet\n"
                    "    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(workdir, "prometheus.log"), "w")
        self.process = subprocess.Popen(
            [binary, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(workdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path, **params):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise AssertionError("%s: %s" % (url, body))
        return body["data"]

    def query(self, promql):
        """The value of an instant query with one result (None when it has none)."""
        result = self.get("/api/v1/query", query=promql)["result"]
        if not result:
            return None
        if len(result) != 1:
            raise AssertionError("%s: %d series, expected one: %s" % (promql, len(result), result))
        return float(result[0]["value"][1])

    def wait_until_target_up(self, timeout):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("prometheus exited with %d" % self.process.returncode)
            try:
                targets = self.get("/api/v1/targets")["activeTargets"]
                last = [(t["scrapeUrl"], t["health"], t.get("lastError")) for t in targets]
                if targets and all(t["health"] == "up" for t in targets):
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.2)
        raise AssertionError("the Octet target is not up after %d s: %s" % (timeout, last))

    def wait_for(self, promql, expected, timeout):
        """Polls until the query's value equals `expected` (a later scrape); returns the last."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.query(promql)
            if value == expected:
                return value
            time.sleep(0.25)
        return value

    def close(self):
        stop(self.process, "prometheus")
        self.log.close()


def image(seed):
    rng = random.Random(seed)
    return [float(rng.randrange(256)) for _ in range(PIXELS)]


def infer_request(images, label=None):
    request = pb.ModelInferRequest(model_name=MODEL)
    request.inputs.add(name="input", datatype="FP32", shape=[len(images), 1, 28, 28])
    flat = [p for img in images for p in img]
    request.raw_input_contents.append(struct.pack("<%df" % len(flat), *flat))
    if isinstance(label, int):
        request.parameters["label"].int64_param = label
    elif label is not None:
        request.parameters["label"].string_param = label
    return request


def top1(response):
    rows = response.outputs[0].shape[0]
    logits = struct.unpack("<%df" % (rows * 10), response.raw_output_contents[0])
    return [max(range(10), key=lambda c: logits[r * 10 + c]) for r in range(rows)]


class PrometheusEndToEndTest(unittest.TestCase):
    def test_prometheus_sees_the_traffic_that_was_sent(self):
        import grpc
        workdir = tempfile.mkdtemp(prefix="octet-prometheus-")
        metrics_port = free_port()
        server = prometheus = channel = None
        server_log = open(os.path.join(workdir, "octet.log"), "w")
        try:
            server = subprocess.Popen(
                [ARGS.server_binary, "--model-repository", ARGS.model_repository,
                 "--grpc-address", "127.0.0.1:0",
                 "--metrics-address", "127.0.0.1:%d" % metrics_port, "--threads", "1"],
                stdout=subprocess.PIPE, stderr=server_log, text=True)
            line = server.stdout.readline()
            self.assertIn("listening on port", line, "octet-server did not start")
            address = "127.0.0.1:" + line.split()[-1]
            prometheus = Prometheus(ARGS.prometheus, "127.0.0.1:%d" % metrics_port, workdir)
            prometheus.wait_until_target_up(timeout=60)

            channel = grpc.insecure_channel(address)
            grpc.channel_ready_future(channel).result(timeout=60)
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            latencies = []

            def infer(request):
                start = time.perf_counter()
                response = stub.ModelInfer(request, timeout=60)
                latencies.append(time.perf_counter() - start)
                return response

            # Known traffic. Unlabelled: learn each image's top-1, then 40 more requests.
            images = [image(seed) for seed in range(8)]
            classes = [top1(infer(infer_request([img])))[0] for img in images]
            for i in range(40):
                infer(infer_request([images[i % 8]]))
            # Labelled, one sample each: 8 right, 4 wrong.
            for img, c in zip(images, classes):
                self.assertEqual(top1(infer(infer_request([img], label=c))), [c])
            for img, c in zip(images[:4], classes[:4]):
                infer(infer_request([img], label=(c + 1) % 10))
            # Labelled batch of four: three right, the last wrong.
            labels = classes[:3] + [(classes[3] + 1) % 10]
            infer(infer_request(images[:4], label=",".join(str(c) for c in labels)))
            successes, correct, wrong = 8 + 40 + 12 + 1, 8 + 3, 4 + 1
            # Invalid: a wrong rank, a wrong datatype, and a batch with too few labels.
            invalid = [pb.ModelInferRequest(model_name=MODEL) for _ in range(2)]
            invalid[0].inputs.add(name="input", datatype="FP32", shape=[1, 28, 28])
            invalid[0].raw_input_contents.append(b"\0" * (PIXELS * 4))
            invalid[1].inputs.add(name="input", datatype="INT32", shape=[1, 1, 28, 28])
            invalid[1].raw_input_contents.append(b"\0" * (PIXELS * 4))
            invalid.append(infer_request(images[:2], label="1"))
            invalid = invalid * 2  # 6 in all
            for request in invalid:
                with self.assertRaises(grpc.RpcError) as error:
                    stub.ModelInfer(request, timeout=60)
                self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

            # Prometheus's view, once a scrape after the traffic has been stored.
            selector = 'model="%s",version="1"' % MODEL
            requests = 'sum(octet_inference_requests_total{%s,outcome="%%s"})' % selector
            self.assertEqual(prometheus.wait_for(requests % "invalid", len(invalid), 30),
                             len(invalid))
            self.assertEqual(prometheus.wait_for(requests % "success", successes, 30), successes)
            self.assertEqual(prometheus.query(
                "sum(octet_request_duration_seconds_count{%s})" % selector), successes)
            self.assertEqual(prometheus.query(
                'sum(octet_labelled_requests_total{%s,result="correct"})' % selector), correct)
            self.assertEqual(prometheus.query(
                'sum(octet_labelled_requests_total{%s,result="wrong"})' % selector), wrong)
            accuracy = prometheus.query(
                'sum(octet_labelled_requests_total{%s,result="correct"}) / '
                'sum(octet_labelled_requests_total{%s})' % (selector, selector))
            self.assertAlmostEqual(accuracy, correct / (correct + wrong), places=9)

            # The server measures part of what the client does (no client or network time), so
            # its p99 is at most the client's slowest request. histogram_quantile interpolates
            # inside a bucket, so the bound holds at bucket resolution: up to the upper edge of
            # the bucket that holds the client's maximum.
            p99 = prometheus.query(
                "histogram_quantile(0.99, sum by (le) "
                "(octet_request_duration_seconds_bucket{%s}))" % selector)
            slowest = max(latencies)
            upper = next((b for b in DURATION_BUCKETS if b >= slowest), float("inf"))
            print("client latency: min %.6f s, max %.6f s; Prometheus p99 %.6f s"
                  % (min(latencies), slowest, p99))
            self.assertGreater(p99, 0)
            self.assertLessEqual(p99, upper)
        finally:
            if channel is not None:
                channel.close()
            if prometheus is not None:
                prometheus.close()
            stop(server, "octet-server")
            if server is not None:
                server.stdout.close()
            server_log.close()
            subprocess.run(["rm", "-rf", workdir], check=False)


def main():
    global ARGS, pb, pb_grpc
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--server-binary", required=True)
    parser.add_argument("--model-repository", required=True)
    parser.add_argument("--prometheus", default="/usr/bin/prometheus")
    ARGS, rest = parser.parse_known_args()
    if not os.access(ARGS.prometheus, os.X_OK):
        skip_or_fail("%s is missing (Debian package prometheus)" % ARGS.prometheus)
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError:
        skip_or_fail("python3-grpcio and python3-grpc-tools are missing")
    with tempfile.TemporaryDirectory() as out_dir:
        pb, pb_grpc = kserve_stubs.generate(ARGS.proto_dir, out_dir)
        result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
