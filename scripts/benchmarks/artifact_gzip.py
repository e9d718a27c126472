"""Artifact gzip benchmark: the whole int8 job on the ResNet50-sized ML Program (25.6 MB
artifact, the most gzip per second of any job), one request each
(`curl -T model.zip "…/v1/jobs?preset=w8&wait=600"`), for one or more quantd binaries in turn
on the same archive: job time (best and median of 7), the stored artifact's size and how many
gzip members it holds (1 since artifacts are one member, compressed in parallel).

    .venv/bin/python scripts/benchmarks/artifact_gzip.py [QUANTD_BIN ...]

Several binaries (e.g. before and after a change) alternate round by round, so the machine's
noise falls on both alike.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coreml import resnet50_program  # noqa: E402
from foundation import BIN  # noqa: E402

ROUNDS = 7


def gzip_members(data):
    members = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inflater.decompress(data)
        assert inflater.eof, "truncated gzip member"
        members += 1
        data = inflater.unused_data
    return members


def start(binary, data_dir):
    # From the data's folder, so no binary reads the checkout's config/quantd.json (an older
    # binary may not know its newer settings): every one runs on its defaults.
    proc = subprocess.Popen([binary, "serve", "--port", "0", "--data-dir", data_dir], cwd=os.path.dirname(data_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r":(\d+)\s*$", proc.stdout.readline()).group(1))
    return proc, f"http://127.0.0.1:{port}"


def one_job(base, archive):
    began = time.perf_counter()
    out = subprocess.run(["curl", "-sS", "-T", archive, "-X", "POST", f"{base}/v1/jobs?preset=w8&wait=600"],
                         check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - began
    job = json.loads(out)
    assert job["status"] == "succeeded", job
    stored = subprocess.run(["curl", "-sS", f"{base}/v1/jobs/{job['id']}/artifact"], check=True, capture_output=True).stdout
    return seconds, len(stored), gzip_members(stored)


def main():
    binaries = sys.argv[1:] or [BIN]
    with tempfile.TemporaryDirectory(prefix="quantd-gzip-") as work:
        package = resnet50_program(work)
        archive = os.path.join(work, "model.zip")
        subprocess.run(["zip", "-qr", archive, os.path.basename(package)], check=True, cwd=os.path.dirname(package))
        servers = [start(b, os.path.join(work, f"data-{i}")) for i, b in enumerate(binaries)]
        results = {b: [] for b in binaries}
        try:
            for _ in range(ROUNDS):
                for binary, (_, base) in zip(binaries, servers):
                    results[binary].append(one_job(base, archive))
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait()
        print(f"int8 job on the ResNet50-sized ML Program, one request, {ROUNDS} rounds alternating")
        for binary in binaries:
            times = [r[0] for r in results[binary]]
            _, size, members = results[binary][-1]
            print(f"  {binary}: best {min(times):.3f} s, median {statistics.median(times):.3f} s; "
                  f"artifact {size:,} bytes in {members} gzip member{'s' if members != 1 else ''}")


if __name__ == "__main__":
    main()
