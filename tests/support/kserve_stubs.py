"""The KServe v2 Python stubs, generated from proto/inference.proto at test time with Debian's
grpc_tools (python3-grpc-tools), for the Python tests that talk to octet-server.

    with tempfile.TemporaryDirectory() as out_dir:
        pb, pb_grpc = kserve_stubs.generate(ARGS.proto_dir, out_dir)
"""

import importlib
import os
import sys


def generate(proto_dir, out_dir):
    """Writes inference_pb2{,_grpc}.py into out_dir and returns the two modules imported."""
    from grpc_tools import protoc
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    code = protoc.main(["grpc_tools.protoc", "-I" + proto_dir, "-I" + include,
                        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
                        os.path.join(proto_dir, "inference.proto")])
    if code != 0:
        sys.exit("grpc_tools.protoc failed on %s/inference.proto" % proto_dir)
    sys.path.insert(0, out_dir)
    return (importlib.import_module("inference_pb2"),
            importlib.import_module("inference_pb2_grpc"))
