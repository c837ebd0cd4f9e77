#!/usr/bin/python3
"""First-request latency after a model loads, per batch size: what `model_warmup` is for.

Starts octet-server on a model repository (loopback, a free port), opens one gRPC channel and
makes one connection-opening call (ServerReady), then for each batch size sends the same
request `--repeat` times and prints the first call's latency beside the following ones. Run it
on a repository as shipped and on a copy without its `model_warmup` to see what warm-up saves:

  /usr/bin/python3 bench/first_request.py --server-binary build/server/octet-server \\
      --model-repository examples/models --model fashion-lenet --sizes 1,2,4,8,16

Input is zeros of the model's config dims (FP32 inputs only). Needs Debian's python3-grpcio and
python3-grpc-tools (the stubs are generated from proto/ at run time).
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
import kserve_stubs  # noqa: E402  (tests/support/kserve_stubs.py)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-binary", required=True)
    parser.add_argument("--model-repository", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--sizes", default="1,2,4,8,16")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--threads", default="1")
    args = parser.parse_args()
    import grpc
    with tempfile.TemporaryDirectory() as out_dir:
        pb, pb_grpc = kserve_stubs.generate(os.path.join(HERE, "..", "proto"), out_dir)
        start = time.perf_counter()
        server = subprocess.Popen(
            [args.server_binary, "--model-repository", args.model_repository,
             "--grpc-address", "127.0.0.1:0", "--threads", args.threads],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = server.stdout.readline()
            if "port" not in line:
                sys.exit("octet-server did not start: %r" % line)
            print("server ready in %.0f ms (model load and warm-up included)"
                  % ((time.perf_counter() - start) * 1000))
            channel = grpc.insecure_channel("127.0.0.1:" + line.split()[-1])
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            stub.ServerReady(pb.ServerReadyRequest(), timeout=30)  # opens the connection
            metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name=args.model), timeout=30)
            source = metadata.inputs[0]
            dims = [d for d in source.shape[1:]]
            if source.datatype != "FP32" or any(d < 0 for d in dims):
                sys.exit("needs one FP32 input with fixed dims; got %s %s" %
                         (source.datatype, list(source.shape)))
            elements = 1
            for d in dims:
                elements *= d
            print("batch  first ms  then ms")
            for size in [int(s) for s in args.sizes.split(",")]:
                request = pb.ModelInferRequest(model_name=args.model)
                tensor = request.inputs.add()
                tensor.name, tensor.datatype = source.name, "FP32"
                tensor.shape.extend([size] + dims)
                request.raw_input_contents.append(struct.pack("<%df" % (size * elements),
                                                              *([0.0] * (size * elements))))
                times = []
                for _ in range(args.repeat):
                    begin = time.perf_counter()
                    stub.ModelInfer(request, timeout=60)
                    times.append((time.perf_counter() - begin) * 1000)
                print("%5d  %8.2f  %s" % (size, times[0], " ".join("%.2f" % t for t in times[1:])))
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
