#!/usr/bin/python3
"""Train Octet's example model: a LeNet-5-style CNN on Fashion-MNIST, exported to ONNX.

Reproducible: fixed seeds, deterministic torch algorithms, seeded shuffling,
data read directly from the Debian package dataset-fashion-mnist (IDX .gz files).

Usage (from the repository root):
    /usr/bin/python3 examples/train_fashion_lenet.py [--epochs N] [--out examples/models/fashion-lenet/1/model.onnx]

Writes:
    <out>                              the ONNX model (opset 13)
    <dir of out>/../labels.txt         the 10 class names in label order

Model contract:
    input  "input"  float32 [N,1,28,28], raw pixel values 0..255 (no preprocessing outside the model)
    output "logits" float32 [N,10]
The normalisation x * (1/(255*std)) + (-mean/std) (training-set mean/std) is inside
the model and exported as Mul and Add by constants only.
"""

import argparse
import gzip
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240601
OPSET = 13
ALLOWED_OPS = {
    "Mul", "Add", "Conv", "BatchNormalization", "Relu", "MaxPool",
    "Flatten", "Reshape", "Gemm", "MatMul", "Constant",
}
LABELS = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "examples", "models", "fashion-lenet", "1", "model.onnx")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Read an IDX (.gz) file into a numpy array (big-endian header, uint8 data)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch, header says {dims}")
    return arr.reshape(dims)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    # Raw 0..255 pixel values as float32, shape [N,1,28,28]; labels int64.
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class FashionLeNet(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        # Normalisation folded into one multiply and one add by Python float
        # constants, so it exports as Mul + Add (never Div/Sub).
        self.scale = float(1.0 / (255.0 * std))
        self.shift = float(-mean / std)
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.bn2 = nn.BatchNorm2d(16)
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = x * self.scale + self.shift
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # [N,6,14,14]
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)   # [N,16,5,5]
        x = self.flatten(x)                                     # [N,400]
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


@torch.no_grad()
def evaluate(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        logits = model(x[i:i + batch_size])
        correct += (logits.argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / x.shape[0]


def check_onnx(path):
    """Check the exported graph with python3-onnx; fail on any op outside ALLOWED_OPS."""
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    print("ONNX op types:", ", ".join(ops))
    print("ONNX node sequence:", " -> ".join(n.op_type for n in m.graph.node))
    bad = [op for op in ops if op not in ALLOWED_OPS]
    if bad:
        sys.exit(f"ERROR: exported graph contains ops outside the allowed set: {bad}")

    def shape(vi):
        dims = vi.type.tensor_type.shape.dim
        return "[" + ",".join(d.dim_param if d.dim_param else str(d.dim_value) for d in dims) + "]"

    for kind, vis in (("input", m.graph.input), ("output", m.graph.output)):
        for vi in vis:
            print(f"ONNX {kind}: {vi.name} {shape(vi)} elem_type={vi.type.tensor_type.elem_type}")
    ins = [(vi.name, shape(vi)) for vi in m.graph.input]
    outs = [(vi.name, shape(vi)) for vi in m.graph.output]
    if ins != [("input", "[N,1,28,28]")] or outs != [("logits", "[N,10]")]:
        sys.exit(f"ERROR: unexpected graph interface: inputs={ins} outputs={outs}")
    print("ONNX opset:", [(o.domain or "ai.onnx", o.version) for o in m.opset_import])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--data", default=DEFAULT_DATA, help="directory with the Fashion-MNIST IDX .gz files")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    print(f"train {tuple(x_train.shape)}  test {tuple(x_test.shape)}")

    # Training-set statistics of pixels scaled to [0,1] (float64 for stability).
    px = x_train.double() / 255.0
    mean, std = px.mean().item(), px.std().item()
    print(f"train mean={mean:.6f} std={std:.6f} -> scale=1/(255*std)={1.0 / (255.0 * std):.9g} "
          f"shift=-mean/std={-mean / std:.9g}")

    model = FashionLeNet(mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (x_train.shape[0] + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)

    t0 = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(x_train.shape[0], generator=gen)
        total_loss = 0.0
        for i in range(0, x_train.shape[0], args.batch_size):
            idx = perm[i:i + args.batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * idx.shape[0]
        acc = evaluate(model, x_test, y_test)
        print(f"epoch {epoch:2d}/{args.epochs}  train loss {total_loss / x_train.shape[0]:.4f}  "
              f"test acc {acc * 100:.2f}%  ({time.time() - t0:.1f}s)", flush=True)
    train_time = time.time() - t0

    model.eval()
    acc = evaluate(model, x_test, y_test)
    with torch.no_grad():
        first = model(x_test[:1])[0]
    print(f"training time: {train_time:.1f}s for {args.epochs} epochs")
    print(f"FP32 test accuracy (torch, 10000 Fashion-MNIST test images): {acc * 100:.2f}%")
    print(f"first test image: label={y_test[0].item()} ({LABELS[y_test[0].item()]}) logits=["
          + ", ".join(f"{v:.6f}" for v in first.tolist()) + "]")

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 28, 28),
        out,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")
    check_onnx(out)

    labels_path = os.path.join(os.path.dirname(os.path.dirname(out)), "labels.txt")
    with open(labels_path, "w") as f:
        f.write("\n".join(LABELS) + "\n")
    print(f"wrote {labels_path}")


if __name__ == "__main__":
    main()
