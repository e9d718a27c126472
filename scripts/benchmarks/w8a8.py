"""W8A8 benchmark (issue #18), release build: calibration + rewrite of ResNet50 on 32 samples,
whole process, side by side with onnxruntime's ``quantize_static`` on the same ONNX model and
samples, in the same run.

(a) ONNX: ``quantd compress resnet50.onnx --config <int8 per channel> --activation-config <int8,
    linear (onnxruntime's default asymmetric activations)> --calibration-data samples.npz``
    against a Python process running ``quantize_static`` (QDQ format, MinMax calibration,
    per_channel, QInt8 weights and activations, a CalibrationDataReader over the same 32
    samples). Both write a QDQ model; the figure is each process's wall time (median of
    ``--runs``), and the ratio onnxruntime/quantd (target: ≥ 1, quantd not slower).
(b) Core ML: the same job on ResNet50 as a float16 ML Program (Tests/oracle/fixtures/
    make_reference_nets.py), where coremltools has no counterpart on Linux: its
    ``linear_quantize_activations`` needs Core ML predictions, which only a Mac has.

Usage: scripts/bench w8a8  (or .venv/bin/python scripts/benchmarks/w8a8.py [--runs N])
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# This directory holds onnx.py: it goes last, or `import onnx` would import that benchmark.
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, os.path.join(HERE, "../../Tests/oracle/fixtures"))
from foundation import BIN  # noqa: E402
import make_executor_models as fixtures  # noqa: E402

import onnx  # noqa: E402

SAMPLES = 32
W8 = {"config_type": "OpLinearQuantizerConfig",
      "global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel"}}
A8 = {"config_type": "OpLinearQuantizerConfig", "global_config": {"mode": "linear", "dtype": "int8"}}
A8_COREML = {"config_type": "OpLinearQuantizerConfig", "global_config": {"mode": "linear_symmetric", "dtype": "int8"}}

ONNXRUNTIME = textwrap.dedent("""
    import sys
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Samples(CalibrationDataReader):
        def __init__(self, path):
            data = np.load(path)["input"]
            self.feeds = iter([{"input": data[i:i + 1]} for i in range(len(data))])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(sys.argv[1], sys.argv[2], Samples(sys.argv[3]), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
""")


def wall(command, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def onnx_side_by_side(runs, work):
    model, _ = fixtures.resnet50(batch=1, size=224)
    path = os.path.join(work, "resnet50.onnx")
    onnx.save(model, path)
    data = os.path.join(work, "samples.npz")
    np.savez(data, input=np.random.default_rng(32).standard_normal((SAMPLES, 3, 224, 224)).astype(np.float32))
    script = os.path.join(work, "quantize_static.py")
    with open(script, "w") as f:
        f.write(ONNXRUNTIME)
    report = os.path.join(work, "report.json")
    ours = [BIN, "compress", path, "--output", os.path.join(work, "quantd.onnx"), "--config", json.dumps(W8),
            "--activation-config", json.dumps(A8), "--calibration-data", data, "--report", report]
    theirs = [sys.executable, script, path, os.path.join(work, "onnxruntime.onnx"), data]
    quantd_times, onnxruntime_times = [], []
    for _ in range(runs):  # in turn, so drift on a shared machine hits both alike
        quantd_times += wall(ours, 1)
        onnxruntime_times += wall(theirs, 1)
    section = json.load(open(report))["activation_quantization"]
    ratio = statistics.median(onnxruntime_times) / statistics.median(quantd_times)
    print(f"ONNX ResNet50 W8A8, {SAMPLES} samples, whole process: quantd compress median {statistics.median(quantd_times):.1f} s "
          f"(calibration {section['calibration']['seconds']:.1f} s, {len(section['tensors'])} tensors, "
          f"{section['inserted_ops']} Q/DQ nodes); onnxruntime quantize_static median {statistics.median(onnxruntime_times):.1f} s; "
          f"onnxruntime/quantd {ratio:.2f}x (target >= 1: {'met' if ratio >= 1 else 'MISSED'})")


def coreml(runs, work):
    subprocess.run([sys.executable, os.path.join(HERE, "../../Tests/oracle/fixtures/make_reference_nets.py"), work, "ResNet50"],
                   check=True, capture_output=True)
    data = os.path.join(work, "images.npz")
    np.savez(data, image=np.random.default_rng(33).standard_normal((SAMPLES, 3, 224, 224)).astype(np.float32))
    report = os.path.join(work, "coreml_report.json")
    times = wall([BIN, "compress", os.path.join(work, "ResNet50.mlpackage.zip"), "--output", os.path.join(work, "w8a8.zip"),
                  "--config", json.dumps(W8), "--activation-config", json.dumps(A8_COREML), "--calibration-data", data,
                  "--report", report], runs)
    section = json.load(open(report))["activation_quantization"]
    print(f"Core ML ResNet50 (float16 ML Program) W8A8, {SAMPLES} samples, whole process: quantd compress median "
          f"{statistics.median(times):.1f} s (calibration {section['calibration']['seconds']:.1f} s, "
          f"{section['inserted_ops']} quantize/dequantize ops); coremltools: no Linux counterpart (calibration needs Core ML predictions)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        onnx_side_by_side(args.runs, work)
        coreml(args.runs, work)


if __name__ == "__main__":
    main()
