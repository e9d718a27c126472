"""Inflate benchmark: what reading a `zip -r` Core ML upload costs, through quantd's own path.

Builds the ResNet50-sized ML Program of coremltools' benchmark (51 MB float16 weight.bin, which
deflates to mostly literals), zips it twice (`zip -r` and `zip -0`) and times
`quantd compress` to int8 on each, best of 5. The stored archive is read in place with the same
CRC-32 check, so the difference between the two is the inflate alone; weight.bin's size over it
is the decoder's throughput inside a job. zlib's own speed on the same bytes (Python's zlib
module, the system zlib) is printed beside it.

    .venv/bin/python scripts/benchmarks/inflate.py [QUANTD_BIN ...]

Several binaries (e.g. before and after a change) are timed on the same archives. Timings are
wall-clock on a shared machine: compare within one run.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coreml import resnet50_program  # noqa: E402
from foundation import BIN  # noqa: E402

RUNS = 5
INT8 = {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8"}}


def best_seconds(function):
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def compress_seconds(binary, archive, work):
    output = os.path.join(work, "out.mlpackage.zip")
    command = [binary, "compress", archive, "-o", output, "--config", json.dumps(INT8),
               "--report", os.path.join(work, "report.json")]
    return best_seconds(lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL))


def main():
    binaries = sys.argv[1:] or [BIN]
    with tempfile.TemporaryDirectory(prefix="quantd-inflate-") as work:
        path = resnet50_program(work)
        weights = os.path.join(path, "Data/com.apple.CoreML/weights/weight.bin")
        size = os.path.getsize(weights)
        parent, leaf = os.path.split(path)
        deflated, stored = os.path.join(work, "deflated.zip"), os.path.join(work, "stored.zip")
        subprocess.run(["zip", "-qr", deflated, leaf], cwd=parent, check=True)
        subprocess.run(["zip", "-qr0", stored, leaf], cwd=parent, check=True)

        with open(weights, "rb") as f:
            raw = f.read()
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        stream = compressor.compress(raw) + compressor.flush()
        seconds = best_seconds(lambda: zlib.decompress(stream, -15))
        print(f"weight.bin {size / 1e6:.1f} MB, deflated {len(stream) / 1e6:.1f} MB; "
              f"zlib inflate (Python) {size / seconds / 1e6:.0f} MB/s")

        for binary in binaries:
            with_inflate = compress_seconds(binary, deflated, work)
            in_place = compress_seconds(binary, stored, work)
            inflate = with_inflate - in_place
            print(f"{binary}: quantd compress int8, zip -r {with_inflate * 1000:.0f} ms, zip -0 {in_place * 1000:.0f} ms; "
                  f"inflate in the job {inflate * 1000:.0f} ms = {size / inflate / 1e6:.0f} MB/s")


if __name__ == "__main__":
    main()
