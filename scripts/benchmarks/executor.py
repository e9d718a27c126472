"""Executor benchmark, release build, side by side with onnxruntime's CPU provider on the same
ONNX files and inputs (fixtures from Tests/oracle/fixtures/make_executor_models.py, seeded):

(a) throughput: ResNet50 at batch 1 and MobileNetV2 at batch 8, float32, 3×224×224, two
    threads on both sides (onnxruntime: intra_op_num_threads=2, inter_op 1, all graph
    optimizations on; quantd: `quantd run --threads 2 --repeat N`, which times the runs in
    process after loading). The figure is each side's median time per batch; the ratio is
    onnxruntime's median over quantd's (≥ 0.5 is the target: quantd at least half as fast).
(b) evaluation: `quantd evaluate` of ResNet50, int8 per-channel against float, on 64 samples
    (float and compressed runs, per-layer comparison), whole process, with its peak RSS
    (/usr/bin/time -v); beside it onnxruntime running the float model and quantd's compressed
    model on the same 64 samples, the work an evaluation does without the comparison.

Usage: scripts/bench executor  (or .venv/bin/python scripts/benchmarks/executor.py [--runs N])
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# This directory holds onnx.py: it goes last, or `import onnx` would import that benchmark.
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, os.path.join(HERE, "../../Tests/oracle/fixtures"))
from foundation import BIN  # noqa: E402
import make_executor_models as fixtures  # noqa: E402

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

THREADS = 2
TARGET = 0.5
INT8_PER_CHANNEL = {"config_type": "OpLinearQuantizerConfig",
                    "global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel"}}


def onnxruntime_session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnxruntime_seconds(path, feeds, runs):
    session = onnxruntime_session(path)
    session.run(None, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - started)
    return times


def quantd_seconds(path, data, runs, work):
    out = os.path.join(work, "out.npz")
    printed = subprocess.run([BIN, "run", path, "--data", data, "--output", out, "--threads", str(THREADS),
                              "--repeat", str(runs + 1)], check=True, capture_output=True, text=True).stdout
    timing = json.loads(printed)
    return timing["run_seconds"][1:], timing["peak_activation_bytes"]


def throughput(name, make, batch, runs, work):
    model, feeds = make(batch=batch, size=224)
    path = os.path.join(work, f"{name}.onnx")
    onnx.save(model, path)
    data = os.path.join(work, f"{name}.npz")
    np.savez(data, **feeds)
    ours, peak = quantd_seconds(path, data, runs, work)
    theirs = onnxruntime_seconds(path, feeds, runs)
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"{name} batch {batch}, float32, {THREADS} threads: quantd median {statistics.median(ours) * 1000:.1f} ms "
          f"(min {min(ours) * 1000:.1f}), onnxruntime median {statistics.median(theirs) * 1000:.1f} ms "
          f"(min {min(theirs) * 1000:.1f}); quantd/onnxruntime throughput {ratio:.2f}x "
          f"(target >= {TARGET}x: {'met' if ratio >= TARGET else 'MISSED'}); quantd peak activations {peak / 1e6:.1f} MB")


def max_rss_kb(command):
    result = subprocess.run(["/usr/bin/time", "-v", *command], check=True, capture_output=True, text=True)
    line = next(l for l in result.stderr.splitlines() if "Maximum resident set size" in l)
    return int(line.split(":")[1]), result.stdout


def evaluation(samples, work):
    model, _ = fixtures.resnet50(batch=1, size=224)
    path = os.path.join(work, "resnet50_eval.onnx")
    onnx.save(model, path)
    rng = np.random.default_rng(64)
    inputs = rng.standard_normal((samples, 3, 224, 224)).astype(np.float32)
    data = os.path.join(work, "samples.npz")
    np.savez(data, input=inputs)
    config = os.path.join(work, "config.json")
    with open(config, "w") as f:
        json.dump(INT8_PER_CHANNEL, f)
    compressed = os.path.join(work, "resnet50_int8.onnx")
    started = time.perf_counter()
    rss, printed = max_rss_kb([BIN, "evaluate", path, "--data", data, "--config", "@" + config,
                               "--threads", str(THREADS), "--compressed-output", compressed])
    ours = time.perf_counter() - started
    report = json.loads(printed)["evaluation"]
    started = time.perf_counter()
    for model_path in (path, compressed):
        session = onnxruntime_session(model_path)
        for index in range(samples):
            session.run(None, {"input": inputs[index:index + 1]})
    theirs = time.perf_counter() - started
    top1 = report["outputs"][0].get("top1_agreement")
    print(f"evaluation, ResNet50 int8 per-channel, {samples} samples: quantd evaluate (compress, float + compressed runs, "
          f"per-layer table) {ours:.1f} s, peak RSS {rss / 1024:.0f} MB; onnxruntime running the two models alone "
          f"{theirs:.1f} s; top-1 agreement {top1}, worst layer {report['layers'][0]['name']} "
          f"({report['layers'][0].get('snr_db')} dB)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        throughput("resnet50", fixtures.resnet50, 1, args.runs, work)
        throughput("mobilenet_v2", fixtures.mobilenet_v2, 8, args.runs, work)
        evaluation(args.samples, work)


if __name__ == "__main__":
    main()
