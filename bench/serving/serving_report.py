#!/usr/bin/env python3
"""Reads what bench/serving_bench.sh measured (perf-*.json, stats-*-before/after.json,
engine-*.json, load-* in one directory) and prints:

  serving_report.py formed-batches DIR LEVEL...   the engine batch sizes to measure: each
                                                 step's mean formed batch and its bucket
  serving_report.py report DIR LEVEL... [--command ...]   the Markdown report
"""

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys

MODEL = "resnet8"
THROUGHPUT_GOAL = 0.90    # served / engine at the same batch size, >= 32 clients
BATCHING_GOAL = 3.0       # dynamic batching / max_batch_size 1, 32 clients
LATENCY_GOAL_US = 150.0   # p50 and p99 at concurrency 1, above the engine's own latency


def load(directory, name):
    with open(os.path.join(directory, name)) as f:
        return json.load(f)


def text(directory, name):
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def bucket(n, max_batch=64):
    """The default batch bucket the server pads a batch of n samples to: the smallest power of
    two or midpoint between two (1, 2, 3, 4, 6, 8, 12, ...) that holds n (server/config)."""
    b = 1
    while b < max_batch:
        if n <= b:
            return b
        if b >= 2 and n <= b + b // 2 < max_batch:
            return b + b // 2
        b *= 2
    return max_batch


def batch_counts(stats):
    """{batch size: executions} summed over the versions in a ModelStatistics JSON."""
    counts = {}
    for m in stats.get("model_stats", []):
        for b in m.get("batch_stats", []):
            size = int(b["batch_size"])
            counts[size] = counts.get(size, 0) + int(b["compute_infer"]["count"])
    return counts


def formed(directory, tag):
    """The batches executed during a step: {size: count}, mean samples per batch."""
    before = batch_counts(load(directory, "stats-%s-before.json" % tag))
    after = batch_counts(load(directory, "stats-%s-after.json" % tag))
    delta = {s: after.get(s, 0) - before.get(s, 0) for s in after}
    delta = {s: c for s, c in delta.items() if c > 0}
    executions = sum(delta.values())
    samples = sum(s * c for s, c in delta.items())
    return delta, (samples / executions if executions else 0.0)


def served_inferences(directory, tag):
    """Samples the model served during a step (warm-up and perf's first request included)."""
    def count(name):
        return sum(int(m["inference_count"]) for m in load(directory, name).get("model_stats", []))
    return count("stats-%s-after.json" % tag) - count("stats-%s-before.json" % tag)


def cpu_us_per_inference(directory, tag):
    """(server, client) CPU microseconds per inference over a step."""
    n = served_inferences(directory, tag)
    if n <= 0:
        return float("nan"), float("nan")
    server = float(text(directory, "cpu-%s-after" % tag)) - float(text(directory, "cpu-%s-before" % tag))
    _, user, system = text(directory, "client-cpu-%s" % tag).split()[-3:]
    return 1e6 * server / n, 1e6 * (float(user) + float(system)) / n


def thread_cpu(directory, tag):
    """{thread name: CPU seconds} used by the server's threads during a step."""
    def read(name):
        result = {}
        for line in text(directory, name).splitlines():
            thread, seconds = line.rsplit("\t", 1)
            result[thread] = float(seconds)
        return result
    before, after = read("threads-%s-before" % tag), read("threads-%s-after" % tag)
    return {t: after[t] - before.get(t, 0.0) for t in after if after[t] - before.get(t, 0.0) > 0}


def engine_cpu_us_per_image(directory):
    """{batch: CPU microseconds per image} from the paired single-inference runs."""
    result = {}
    path = os.path.join(directory, "engine-cpu-index")
    if not os.path.exists(path):
        return result
    for line in text(directory, "engine-cpu-index").splitlines():
        batch, few, many = (int(x) for x in line.split())
        cpu = []
        for runs in (few, many):
            user, system = text(directory, "engine-cpu-%d-%d" % (batch, runs)).split()[-2:]
            cpu.append(float(user) + float(system))
        result[batch] = 1e6 * (cpu[1] - cpu[0]) / ((many - few) * batch)
    return result


def engine_single(directory, batch):
    """The engine's single-inference latencies (median, min) in ms at `batch`, many runs."""
    best = None
    for name in os.listdir(directory):
        if name.startswith("engine-single-%d-" % batch):
            r = load(directory, name)["results"][0]
            if best is None or r["inferences"] > best["inferences"]:
                best = r
    return best


def perf_step(directory, tag):
    return load(directory, "perf-%s.json" % tag)["steps"][0]


def engine_results(directory):
    results = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith("engine-") and name.endswith(".json"):
            data = load(directory, name)
            for r in data["results"]:
                results[r["batch"]] = r
            results["isa"] = data.get("isa", "")
    return results


def machine():
    cpu = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    memory = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = "%.0f GiB" % (int(line.split()[1]) / 1024 / 1024)
    return cpu, os.cpu_count(), memory, platform.release()


def git_revision(root):
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes in the tree)" if dirty else "")
    except OSError:
        return "unknown"


def yes(ok):
    return "**met**" if ok else "**missed**"


def padding_share(delta, every_size_compiled=False):
    """Share of the rows the engine computed that were padding up to the batch bucket."""
    if every_size_compiled:
        return 0.0
    rows = sum(bucket(s) * c for s, c in delta.items())
    samples = sum(s * c for s, c in delta.items())
    return 1 - samples / rows if rows else 0.0


def distribution(delta, top=6):
    total = sum(delta.values())
    items = sorted(delta.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join("%d: %.0f%%" % (s, 100.0 * c / total) for s, c in items) if total else "-"


def command_formed_batches(args):
    sizes = set()
    for level in args.levels:
        _, mean = formed(args.dir, "c%s" % level)
        if mean > 0:
            sizes.add(max(1, round(mean)))
            sizes.add(bucket(round(mean)))
    print(",".join(str(s) for s in sorted(sizes)) or "32")


def command_report(args):
    d = args.dir
    engine = engine_results(d)
    cpu, cores, memory, kernel = machine()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = []
    w = out.append
    w("# Serving benchmark: octet-server against the raw engine (ResNet-8)")
    w("")
    w("Produced by `%s` on %s." % (args.command,
                                   datetime.datetime.now().strftime("%Y-%m-%d %H:%M")))
    w("")
    w("- machine: %s, %d cores, %s memory, Linux %s; oneDNN ISA %s" %
      (cpu, cores, memory, kernel, engine.get("isa", "?")))
    w("- load average (1, 5, 15 min): %s at the start, %s at the end (the machine is shared: "
      "other builds and tests ran meanwhile)" % (text(d, "load-start"), text(d, "load-end")))
    w("- tree: %s; model `%s`, FP32" % (git_revision(root), os.path.basename(args.model)))
    w("- server: one instance with %s OpenMP thread(s) (`optimization { threads: %s }`), "
      "`dynamic_batching { max_queue_delay_microseconds: 0 }`, max_batch_size 64, batches "
      "padded to the default buckets (powers of two and midpoints); client: `octet perf` (closed loop, synthetic input, "
      "%s warm-up then %s per step) on the same machine over loopback gRPC; engine: "
      "`octet-bench speed --threads %s` (median of 7 runs of >= 300 ms)" %
      (args.threads, args.threads, args.warmup, args.duration, args.threads))
    w("")

    # ---- Goals ----
    w("## Goals")
    w("")
    w("| measure | served | engine (same threads) | ratio / difference | goal | |")
    w("|---|---|---|---|---|---|")
    for level in args.levels:
        step = perf_step(d, "c%s" % level)
        delta, mean = formed(d, "c%s" % level)
        b = max(1, round(mean))
        for label, size in (("formed batch %d" % b, b), ("its bucket %d" % bucket(b), bucket(b)),
                            ("batch 32", 32)):
            if size not in engine:
                continue
            e = engine[size]["throughput_per_s"]
            ratio = step["throughput_per_s"] / e
            w("| throughput, %s clients vs engine at %s | %.0f/s | %.0f/s | %.0f%% | >= 90%% | %s |" %
              (level, label, step["throughput_per_s"], e, 100 * ratio, yes(ratio >= THROUGHPUT_GOAL)))
    batched = perf_step(d, "c32") if "32" in args.levels else None
    unbatched = perf_step(d, "b1-c32")
    if batched:
        gain = batched["throughput_per_s"] / unbatched["throughput_per_s"]
        engine_gain = (engine[32]["throughput_per_s"] / engine[1]["throughput_per_s"]
                       if 32 in engine and 1 in engine else float("nan"))
        w("| dynamic batching vs max_batch_size 1, 32 clients | %.0f/s vs %.0f/s | "
          "engine batch 32 vs 1: %.2fx | %.2fx | >= 3x | %s |" %
          (batched["throughput_per_s"], unbatched["throughput_per_s"], engine_gain, gain,
           yes(gain >= BATCHING_GOAL)))
    c1 = perf_step(d, "c1")
    e1 = engine[1]["latency_ms_median"]
    for p in ("p50", "p99"):
        served = c1["latency_ms"][p]
        diff_us = (served - e1) * 1000
        w("| %s latency, concurrency 1 | %.3f ms | %.3f ms (median) | +%.0f us | <= +150 us | %s |" %
          (p, served, e1, diff_us, yes(diff_us <= LATENCY_GOAL_US)))
    w("")

    # ---- The same goals in CPU time ----
    engine_cpu = engine_cpu_us_per_image(d)
    if engine_cpu:
        w("## The same goals in CPU time (robust to the other processes on the machine)")
        w("")
        w("Wall-clock rates above depend on how much of the cores this benchmark got; CPU time "
          "per inference does much less. Server CPU is the whole octet-server process (gRPC "
          "threads, batch thread, engine); client CPU is `octet perf`'s process.")
        w("")
        w("| measure | served (server CPU/inference) | engine (CPU/image) | ratio | goal | |")
        w("|---|---|---|---|---|---|")
        for level in args.levels:
            tag = "c%s" % level
            server_us, client_us = cpu_us_per_inference(d, tag)
            _, mean = formed(d, tag)
            b = max(1, round(mean))
            for size in sorted({b, bucket(b)}):
                if size in engine_cpu:
                    ratio = engine_cpu[size] / server_us
                    w("| efficiency, %s clients, engine at batch %d | %.0f us (+ client %.0f us) | "
                      "%.0f us | %.0f%% | >= 90%% | %s |" %
                      (level, size, server_us, client_us, engine_cpu[size], 100 * ratio,
                       yes(ratio >= THROUGHPUT_GOAL)))
        if args.variants == "1":
            for level in args.levels:
                tag = "exact-c%s" % level
                server_us, client_us = cpu_us_per_inference(d, tag)
                _, mean = formed(d, tag)
                b = max(1, round(mean))
                size = min(engine_cpu, key=lambda k: abs(k - b))
                ratio = engine_cpu[size] / server_us
                w("| efficiency, %s clients, every batch size compiled, engine at batch %d | "
                  "%.0f us (+ client %.0f us) | %.0f us | %.0f%% | >= 90%% | %s |" %
                  (level, size, server_us, client_us, engine_cpu[size], 100 * ratio,
                   yes(ratio >= THROUGHPUT_GOAL)))
        if "32" in args.levels:
            batched_us, _ = cpu_us_per_inference(d, "c32")
            single_us, _ = cpu_us_per_inference(d, "b1-c32")
            gain = single_us / batched_us
            w("| batching gain in server CPU/inference, 32 clients | %.0f us vs %.0f us "
              "(max_batch_size 1) | batch 32 vs 1: %.0f vs %.0f us | %.2fx | >= 3x | %s |" %
              (batched_us, single_us, engine_cpu.get(32, float("nan")),
               engine_cpu.get(1, float("nan")), gain, yes(gain >= BATCHING_GOAL)))
        single = engine_single(d, 1)
        c1 = perf_step(d, "c1")
        if single:
            for p in ("p50", "p99"):
                diff_us = (c1["latency_ms"][p] - single["latency_ms_min"]) * 1000
                w("| %s latency at concurrency 1 vs the engine's fastest batch-1 run | %.3f ms | "
                  "%.3f ms (min of %d) | +%.0f us | <= +150 us | %s |" %
                  (p, c1["latency_ms"][p], single["latency_ms_min"], single["inferences"],
                   diff_us, yes(diff_us <= LATENCY_GOAL_US)))
        w("")

    # ---- Steps ----
    w("## Every perf step")
    w("")
    w("| model | clients | infer/s | p50 ms | p90 ms | p99 ms | server queue us | server compute us "
      "| mean formed batch | formed batch sizes (share of batches) | padding rows | "
      "server CPU us/inf | client CPU us/inf | load after |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    tags = [("c1", "resnet8", 1)] + [("c%s" % l, "resnet8", l) for l in args.levels]
    tags.append(("b1-c32", "resnet8-b1", 32))
    if args.variants == "1":
        tags += [("delay500-c32", "resnet8-delay500", 32), ("delay500-c1", "resnet8-delay500", 1),
                 ("x2-c32", "resnet8-x2 (2 instances)", 32)]
        tags += [("exact-c%s" % l, "resnet8-exact (buckets 1..64)", l) for l in args.levels]
    for tag, model, clients in tags:
        s = perf_step(d, tag)
        delta, mean = formed(d, tag)
        lat = s["latency_ms"]
        server_us, client_us = cpu_us_per_inference(d, tag)
        w("| %s | %s | %.0f | %.3f | %.3f | %.3f | %s | %s | %.1f | %s | %.0f%% | %.0f | %.0f | %s |" %
          (model, clients, s["throughput_per_s"], lat["p50"], lat["p90"], lat["p99"],
           "%.0f" % s["server_queue_us"] if s["server_queue_us"] is not None else "-",
           "%.0f" % s["server_compute_us"] if s["server_compute_us"] is not None else "-",
           mean, distribution(delta), 100 * padding_share(delta, tag.startswith("exact")), server_us, client_us, text(d, "load-" + tag).split()[0]))
    w("")
    w("Server compute is per request (the batch's compute time, which every request of the "
      "batch waited for); queue is from arrival to the batch's start.")
    w("")

    # ---- Engine ----
    w("## The raw engine (`octet-bench speed --threads %s`)" % args.threads)
    w("")
    w("| batch | infer/s | latency median ms | min ms | max ms | single runs: median ms | "
      "min ms | CPU us per image |")
    w("|---|---|---|---|---|---|---|---|")
    for size in sorted(k for k in engine if isinstance(k, int)):
        r = engine[size]
        single = engine_single(d, size)
        w("| %d | %.0f | %.3f | %.3f | %.3f | %s | %s | %s |" % (
            size, r["throughput_per_s"], r["latency_ms_median"], r["latency_ms_min"],
            r["latency_ms_max"], "%.3f" % single["latency_ms_median"] if single else "-",
            "%.3f" % single["latency_ms_min"] if single else "-",
            "%.0f" % engine_cpu[size] if size in engine_cpu else "-"))
    w("")

    # ---- Latency breakdown at concurrency 1 ----
    w("## Where a request's time goes at concurrency 1")
    w("")
    server_us = (c1["server_queue_us"] or 0) + (c1["server_compute_us"] or 0)
    w("- client p50 %.0f us = server queue %.0f us + server compute %.0f us + the rest %.0f us "
      "(gRPC, protobuf, the client, thread hand-offs)" %
      (c1["latency_ms"]["p50"] * 1000, c1["server_queue_us"] or 0, c1["server_compute_us"] or 0,
       c1["latency_ms"]["p50"] * 1000 - server_us))
    w("- server compute %.0f us against the engine's own %.0f us at batch 1" %
      (c1["server_compute_us"] or 0, e1 * 1000))
    if args.variants == "1":
        v = perf_step(d, "delay500-c1")
        w("- with max_queue_delay 500 us instead of 0: p50 %.3f ms, server queue %.0f us" %
          (v["latency_ms"]["p50"], v["server_queue_us"] or 0))
    w("")
    w("## Server CPU by thread (seconds during the step)")
    w("")
    for tag in ["c1"] + ["c%s" % l for l in args.levels] + ["b1-c32"]:
        threads = sorted(thread_cpu(d, tag).items(), key=lambda kv: -kv[1])
        w("- %s: %s" % (tag, ", ".join("%s %.2f" % kv for kv in threads[:6]) or "-"))
    print("\n".join(out))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["formed-batches", "report"])
    parser.add_argument("dir")
    parser.add_argument("levels", nargs="+")
    parser.add_argument("--command", default="bench/serving_bench.sh")
    parser.add_argument("--threads", default="1")
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--warmup", default="1s")
    parser.add_argument("--model", default="resnet8-mlperf-tiny.onnx")
    parser.add_argument("--server", default="octet-server")
    parser.add_argument("--variants", default="1")
    args = parser.parse_args()
    if args.what == "formed-batches":
        command_formed_batches(args)
    else:
        command_report(args)


if __name__ == "__main__":
    sys.exit(main())
