"""Compression engine benchmark (issue #3), side by side with coremltools on the same tensors.

quantd: `quantd compress` (release build); its in-process time (`compress_seconds`: open the
file, compress every tensor, write the artifact), of which `encode_seconds` is the engine alone
(every tensor compressed in memory, reading the mapped file included), and its peak RSS. coremltools: the functions
its passes call for each weight, on numpy arrays already in memory (so its file and graph
handling is not counted against it). Each side runs 3 times; the best time counts.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import BIN, write_safetensors  # noqa: E402
from shapes import resnet50_weight_shapes  # noqa: E402

warnings.simplefilter("ignore")
THRESHOLD = 2048


def quantd(path, config, runs=3):
    out = path + ".out"
    best, best_encode, rss = float("inf"), float("inf"), 0
    for _ in range(runs):
        report = path + ".report.json"
        completed = subprocess.run(["/usr/bin/time", "-f", "%M", BIN, "compress", path, "--output", out,
                                    "--config", json.dumps(config), "--report", report],
                                   capture_output=True, text=True, check=True)
        rss = max(rss, int(completed.stderr.strip().splitlines()[-1]) * 1024)
        with open(report) as f:
            summary = json.load(f)
        best = min(best, summary["compress_seconds"])
        best_encode = min(best_encode, summary["encode_seconds"])
    return best, best_encode, rss, summary, os.path.getsize(out)


def baseline_rss(work):
    """Peak RSS of `quantd compress` on a model of one small tensor: the process itself
    (Swift runtime, Foundation, SQLite), which a job in the long-running server does not add."""
    path = os.path.join(work, "tiny.safetensors")
    write_safetensors(path, {"w": np.ones((64, 64), np.float16)})
    return quantd(path, {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8"}}, runs=1)[2]


def coremltools_time(fn, weights, runs=3):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for w in weights:
            fn(w)
        best = min(best, time.perf_counter() - start)
    return best


def linear_reference(nbits, block):
    from coremltools.optimize.coreml._quantization_passes import linear_quantize_weights as lq

    def run(w):
        sizes = [1] + [0] * (w.ndim - 1)
        if block:
            sizes[1] = block
        if any(b and d % b for d, b in zip(w.shape, sizes)):
            return None
        return lq.blockwise_compress(w, nbits=nbits, mode="LINEAR_SYMMETRIC", signed=True, block_sizes=sizes)
    return run


def kmeans_reference(nbits, sqnr_out):
    """coremltools' per-tensor k-means palettization (scikit-learn, or its 1-D k-means path),
    recording each tensor's squared error so quantd's can be compared."""
    from coremltools.optimize.coreml._quantization_passes import palettize_weights as pw
    from coremltools.optimize._utils import lut_to_dense

    def run(w):
        params = pw.blockwise_compress(w, "KMEANS", nbits, [0] * w.ndim)
        dense = lut_to_dense(params.indices, params.lut).reshape(w.shape).astype(np.float64)
        sqnr_out.append((float(np.sum(w.astype(np.float64) ** 2)), float(np.sum((w - dense) ** 2))))
        return params
    return run


def magnitude_reference(sparsity):
    from coremltools.optimize.coreml._quantization_passes import prune_weights as pr

    def run(w):
        # As coremltools computes it for float16 weights above 65520 elements (its float16
        # percentile overflows to NaN and prunes nothing), time the float32 path quantd follows.
        return pr.compress_by_magnitude(w.astype(np.float32), target_sparsity=sparsity)
    return run


KMEANS_ERRORS = []

CASES = [
    ("int8 per-channel", {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8", "granularity": "per_channel"}},
     linear_reference(8, 0), 20),
    ("int4 per-block-32", {"config_type": "OpLinearQuantizerConfig",
                           "global_config": {"dtype": "int4", "granularity": "per_block", "block_size": 32}},
     linear_reference(4, 32), 20),
    ("4-bit k-means per-tensor", {"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 4}},
     kmeans_reference(4, KMEANS_ERRORS), 50),
    ("50% magnitude pruning", {"config_type": "OpMagnitudePrunerConfig", "global_config": {"target_sparsity": 0.5}},
     magnitude_reference(0.5), None),
]


def main():
    rng = np.random.default_rng(0)
    models = {
        "ResNet50 fp16 (25.5 M params)": {f"w{i}": (rng.standard_normal(s) * 0.05).astype(np.float16)
                                          for i, s in enumerate(resnet50_weight_shapes())},
        "linear 4096x4096 fp16": {"w": (rng.standard_normal((4096, 4096)) * 0.02).astype(np.float16)},
    }
    with tempfile.TemporaryDirectory(prefix="quantd-engine-") as work:
        idle = baseline_rss(work)
        print(f"-- quantd process baseline (one 64x64 tensor): peak RSS {idle / 1e6:.0f} MB")
        for model_name, tensors in models.items():
            path = os.path.join(work, "model.safetensors")
            write_safetensors(path, tensors)
            size = os.path.getsize(path)
            eligible = [w for w in tensors.values() if w.size > THRESHOLD and w.ndim >= 2]
            print(f"-- {model_name}: {size / 1e6:.1f} MB")
            for label, config, reference, target in CASES:
                seconds, encode, rss, summary, out_size = quantd(path, config, runs=1 if "k-means" in label else 3)
                KMEANS_ERRORS.clear()
                ref = coremltools_time(reference, eligible, runs=1 if "k-means" in label else 3)
                verdict = "no target" if target is None else f"target >= {target}x: " + ("ok" if ref / seconds >= target else "BELOW TARGET")
                print(f"{label:22s} quantd {seconds * 1000:7.1f} ms ({size / seconds / 1e9:4.2f} GB/s of source; engine "
                      f"{encode * 1000:.1f} ms = {size / encode / 1e9:4.2f} GB/s, {ref / encode:5.1f}x), "
                      f"coremltools {ref * 1000:7.1f} ms, {ref / seconds:5.1f}x [{verdict}]; "
                      f"peak RSS {rss / 1e6:.0f} MB, job {(rss - idle) / 1e6:.0f} MB above baseline = "
                      f"{(rss - idle) / size:.2f}x model [target <= 2x: {'ok' if rss - idle <= 2 * size else 'ABOVE TARGET'}]; "
                      f"output {out_size / 1e6:.1f} MB")
                if KMEANS_ERRORS:
                    ours = [t for t in summary["tensors"] if t["action"] == "compressed"]
                    signal = sum(s for s, _ in KMEANS_ERRORS)
                    theirs_db = 10 * np.log10(signal / sum(n for _, n in KMEANS_ERRORS))
                    # quantd's per-tensor SQNR → noise energy, summed the same way.
                    noise = sum(s / 10 ** (t["sqnr_db"] / 10) for (s, _), t in zip(KMEANS_ERRORS, ours) if t["sqnr_db"])
                    print(f"{'':22s} total SQNR: quantd {10 * np.log10(signal / noise):.5f} dB, coremltools {theirs_db:.5f} dB "
                          f"(higher is better; quantd must not be lower)")


if __name__ == "__main__":
    main()
