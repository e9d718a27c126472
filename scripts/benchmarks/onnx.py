"""ONNX benchmark, release build, side by side with onnxruntime's own quantization tools on the
same files (fixtures from Tests/oracle/fixtures/make_onnx_models.py, seeded, built at start):

(a) a ResNet50-shaped ONNX model (ResNet50's topology and conv/fc shapes, random float32
    weights, ~102 MB): a quantd int8 per-channel job (DequantizeLinear), upload to artifact
    ready through the server, against onnxruntime's weight-quantization path
    ``quantize_dynamic(..., weight_type=QuantType.QInt8, per_channel=True)``, load to saved;
(b) a ~100 M-parameter transformer-shaped MatMul model (~403 MB): a quantd 4-bit MatMulNBits
    job (block 32, symmetric, MatMuls only) against
    ``MatMulNBitsQuantizer(model, block_size=32, is_symmetric=True).process()`` and saving.

Each side runs N times (--runs, default 5); medians and their ratio are printed with the
targets (quantd at least 10x faster, its output weights no larger than onnxruntime's). Output
weight bytes are the stored bytes of every initializer (dense and sparse) of the output model.
quantd's outputs must load and run in onnxruntime; whether onnxruntime's own do is printed
(quantize_dynamic's int8 ConvInteger has no CPU kernel in onnxruntime 1.23).

--with-existing runs the Core ML and safetensors benchmarks (coreml.py, engine.py) after, in
the same run, for a before/after comparison.

Usage: scripts/bench onnx  (or .venv/bin/python scripts/benchmarks/onnx.py [--runs N] [--with-existing])
"""
import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# This file is named onnx.py: its own directory goes last, or `import onnx` would import it.
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, os.path.join(HERE, "../../Tests/oracle/fixtures"))
from foundation import curl, start_server, wait_job  # noqa: E402
from shapes import resnet50_weight_shapes  # noqa: E402
import make_onnx_models as fixtures  # noqa: E402

warnings.simplefilter("ignore")

INT8_PER_CHANNEL = {"config_type": "OpLinearQuantizerConfig",
                    "global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel"}}
# onnxruntime's MatMulNBits quantizer touches MatMul weights only; quantd is given the same set.
INT4_BLOCK32_MATMULS = {"config_type": "OpLinearQuantizerConfig",
                        "op_type_configs": {"MatMul": {"mode": "linear_symmetric", "dtype": "int4",
                                                       "granularity": "per_block", "block_size": 32}}}
SPEED_TARGET = 10

# Bits per element of the ONNX tensor types the outputs hold.
ELEMENT_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 16: 16, 21: 4, 22: 4}


def stored_bytes(path):
    """Bytes the initializers and sparse initializers of the model at ``path`` take as stored
    (external data included; 4-bit types at half a byte per element)."""
    import onnx

    def size(tensor):
        return (int(np.prod(tensor.dims, dtype=np.int64)) * ELEMENT_BITS[tensor.data_type] + 7) // 8

    model = onnx.load(path, load_external_data=False)
    total = sum(size(t) for t in model.graph.initializer)
    total += sum(size(s.values) + size(s.indices) for s in model.graph.sparse_initializer)
    return total


def check_runs(path, feeds):
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds)
    assert all(np.all(np.isfinite(o)) for o in outputs), path


def runs_in_onnxruntime(path, feeds):
    """'yes', or why not: quantize_dynamic's int8 ConvInteger has no onnxruntime CPU kernel."""
    try:
        check_runs(path, feeds)
        return "yes"
    except Exception as error:  # onnxruntime raises its own exception types
        return "no (" + str(error).split(":")[-1].strip()[:100] + ")"


def unpack_artifact(gz, directory):
    """The job's artifact (gzip of a raw .onnx, or of a zip of model + data): the model's path."""
    with gzip.open(gz) as f:
        data = f.read()
    os.makedirs(directory, exist_ok=True)
    if data[:4] == b"PK\x03\x04":
        archive = os.path.join(directory, "artifact.zip")
        with open(archive, "wb") as f:
            f.write(data)
        with zipfile.ZipFile(archive) as z:
            z.extractall(directory)
            model = [n for n in z.namelist() if n.endswith(".onnx")]
        return os.path.join(directory, model[0])
    path = os.path.join(directory, "model.onnx")
    with open(path, "wb") as f:
        f.write(data)
    return path


def quantd_job(base, source, job_fields, work):
    """Upload to artifact ready: POST /v1/models, POST /v1/jobs, GET ?wait. Returns (seconds,
    job id)."""
    start = time.perf_counter()
    model = json.loads(curl("-T", source, "-X", "POST", f"{base}/v1/models"))
    assert "id" in model, f"the upload was refused: {model}"
    job = json.loads(curl("-H", "Content-Type: application/json", "-d", json.dumps({"model_id": model["id"], **job_fields}),
                          f"{base}/v1/jobs"))
    assert "id" in job, f"the job was refused: {job}"
    job = wait_job(base, job["id"])
    seconds = time.perf_counter() - start
    assert job["status"] == "succeeded", job
    return seconds, job["id"]


def quantd_output(base, job_id, work):
    """The job's artifact unpacked: (model path, stored weight bytes)."""
    gz = os.path.join(work, f"{job_id}.gz")
    curl("-o", gz, f"{base}/v1/jobs/{job_id}/artifact")
    path = unpack_artifact(gz, os.path.join(work, job_id))
    return path, stored_bytes(path)


def onnxruntime_dynamic(source, work):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    out = os.path.join(work, "dynamic.onnx")
    start = time.perf_counter()
    quantize_dynamic(source, out, weight_type=QuantType.QInt8, per_channel=True)
    return time.perf_counter() - start, out


def onnxruntime_matmul_nbits(source, work):
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    out = os.path.join(work, "matmul_nbits.onnx")
    start = time.perf_counter()
    quantizer = MatMulNBitsQuantizer(onnx.load(source), block_size=32, is_symmetric=True)
    quantizer.process()
    quantizer.model.save_model_to_file(out, use_external_data_format=False)
    return time.perf_counter() - start, out


def side_by_side(label, base, source, job_fields, reference, feeds, runs, work):
    size = os.path.getsize(source)
    ours = [quantd_job(base, source, job_fields, work) for _ in range(runs)]
    our_path, our_bytes = quantd_output(base, ours[-1][1], work)
    check_runs(our_path, feeds)
    theirs = [reference(source, work) for _ in range(runs)]
    their_bytes = stored_bytes(theirs[-1][1])
    their_output_runs = runs_in_onnxruntime(theirs[-1][1], feeds)
    our_median = statistics.median(s for s, _ in ours)
    their_median = statistics.median(s for s, _ in theirs)
    ratio = their_median / our_median
    speed = f"target >= {SPEED_TARGET}x: " + ("ok" if ratio >= SPEED_TARGET else "BELOW TARGET")
    weight = "target <= onnxruntime's: " + ("ok" if our_bytes <= their_bytes else "ABOVE TARGET")
    print(f"{label}: {size / 1e6:.1f} MB; quantd job (upload to artifact ready) median {our_median * 1000:.0f} ms "
          f"(min {min(s for s, _ in ours) * 1000:.0f}), onnxruntime median {their_median * 1000:.0f} ms "
          f"(min {min(s for s, _ in theirs) * 1000:.0f}) over {runs} runs: {ratio:.1f}x [{speed}]; "
          f"output weights quantd {our_bytes / 1e6:.2f} MB, onnxruntime {their_bytes / 1e6:.2f} MB "
          f"({(our_bytes - their_bytes) / their_bytes * 100:+.1f}%) [{weight}]; quantd's output runs in onnxruntime, "
          f"onnxruntime's: {their_output_runs}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--with-existing", action="store_true",
                        help="also run the Core ML and safetensors benchmarks (coreml.py, engine.py)")
    args = parser.parse_args()
    import onnx

    with tempfile.TemporaryDirectory(prefix="quantd-onnx-") as work:
        resnet = fixtures.resnet50()
        assert [tuple(t.dims) for t in resnet.graph.initializer if len(t.dims) >= 2] == \
            [tuple(s) for s in resnet50_weight_shapes()], "the ResNet50 fixture's weights are ResNet50's"
        resnet_path = os.path.join(work, "resnet50.onnx")
        onnx.save_model(resnet, resnet_path)
        resnet_feeds = fixtures.random_inputs(resnet)
        check_runs(resnet_path, resnet_feeds)
        del resnet
        stack = fixtures.transformer_stack()
        parameters = sum(int(np.prod(t.dims)) for t in stack.graph.initializer)
        stack_path = os.path.join(work, "transformer.onnx")
        onnx.save_model(stack, stack_path)
        stack_feeds = fixtures.random_inputs(stack)
        check_runs(stack_path, stack_feeds)
        del stack

        proc, base = start_server(os.path.join(work, "data"))
        try:
            side_by_side("(a) ResNet50-shaped fp32, int8 per-channel (DequantizeLinear) vs quantize_dynamic QInt8 per_channel",
                         base, resnet_path, {"config": INT8_PER_CHANNEL}, onnxruntime_dynamic, resnet_feeds, args.runs, work)
            side_by_side(f"(b) {parameters / 1e6:.1f} M-parameter MatMul model fp32, 4-bit MatMulNBits block 32 symmetric "
                         "vs MatMulNBitsQuantizer",
                         base, stack_path, {"config": INT4_BLOCK32_MATMULS, "onnx_format": "matmul_nbits"},
                         onnxruntime_matmul_nbits, stack_feeds, args.runs, work)
        finally:
            proc.terminate()
            proc.wait()
            shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)

    if args.with_existing:
        for name in ("coreml", "engine"):
            print(f"== {name} ==", flush=True)
            subprocess.run([sys.executable, os.path.join(HERE, name + ".py")], check=True)


if __name__ == "__main__":
    main()
