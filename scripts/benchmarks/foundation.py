"""Foundation benchmark (issue #2): HTTP throughput, upload speed and memory, end-to-end
int8 quantization, side by side with coremltools on the same tensors.

Run via scripts/bench (it builds the release binary and the venv first). Prints one line per
figure; timings are wall-clock on this machine, so compare ratios, not absolutes.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("QUANTD_BIN", os.path.join(ROOT, ".build/release/quantd"))


def write_safetensors(path, tensors):
    """Minimal safetensors writer (8-byte header length, JSON header, data)."""
    header, offset = {}, 0
    for name, array in tensors.items():
        dtype = {np.float16: "F16", np.float32: "F32"}[array.dtype.type]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    blob = json.dumps(header).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for array in tensors.values():
            f.write(np.ascontiguousarray(array).tobytes())


def random_blob_safetensors(path, nbytes):
    """A valid safetensors file of about `nbytes` whose data is random bytes (fast to make)."""
    count = nbytes // 2 - 64
    blob = json.dumps({"w": {"dtype": "F16", "shape": [count], "data_offsets": [0, count * 2]}}).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        left = count * 2
        while left:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n


def model_100mb_fp32(rng):
    """~100 MB of float32 weights in transformer-like shapes."""
    shapes = [(4096, 4096), (1024, 4096), (4096, 1024)] + [(512, 512, 3, 3)] * 3 + [(1000, 2048)]
    return {f"layer{i}.weight": rng.standard_normal(s).astype(np.float32) * 0.02 for i, s in enumerate(shapes)}


def curl(*args):
    out = subprocess.run(["curl", "-sS", *args], check=True, capture_output=True, text=True)
    return out.stdout


def start_server(data_dir):
    proc = subprocess.Popen([BIN, "serve", "--port", "0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    port = int(re.search(r":(\d+)\s*$", line).group(1))
    return proc, f"http://127.0.0.1:{port}"


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_job(base, job_id, timeout=600):
    """One long-poll request (GET …?wait=S) instead of a polling loop, whose curl processes
    would compete with the job for the same two cores."""
    job = json.loads(curl(f"{base}/v1/jobs/{job_id}?wait={timeout}"))
    if job["status"] not in ("succeeded", "failed", "cancelled"):
        raise TimeoutError(job_id)
    return job


def coremltools_int8_seconds(tensors):
    """coremltools' own per-channel int8 path (the function linear_quantize_weights calls)."""
    from coremltools.optimize.coreml._quantization_passes import linear_quantize_weights as lq
    start = time.perf_counter()
    for w in tensors.values():
        lq.blockwise_compress(w, nbits=8, mode="LINEAR_SYMMETRIC", signed=True,
                              block_sizes=[1] + [0] * (w.ndim - 1))
    return time.perf_counter() - start


def main():
    work = tempfile.mkdtemp(prefix="quantd-bench-")
    rng = np.random.default_rng(0)
    try:
        model_path = os.path.join(work, "model100.safetensors")
        tensors = model_100mb_fp32(rng)
        write_safetensors(model_path, tensors)
        big_path = os.path.join(work, "big.safetensors")
        random_blob_safetensors(big_path, 1 << 30)
        mid_path = os.path.join(work, "mid.safetensors")
        random_blob_safetensors(mid_path, 100 << 20)

        proc, base = start_server(os.path.join(work, "data"))
        try:
            # 1 GiB upload first, so the peak RSS is the upload's.
            speeds = []
            for _ in range(3):
                out = curl("-o", "/dev/null", "-w", "%{time_total} %{http_code}", "-T", big_path, "-X", "POST", f"{base}/v1/models")
                seconds, code = out.split()
                assert code == "201", code
                speeds.append((1 << 30) / float(seconds) / 1e6)
                shutil.rmtree(os.path.join(work, "data", "models"))
                os.makedirs(os.path.join(work, "data", "models"))
            print(f"upload 1 GiB (curl -T, fsynced before 201): best {max(speeds):.0f} MB/s, median {sorted(speeds)[1]:.0f} MB/s [target >= 600]")
            print(f"server peak RSS during 1 GiB uploads: {peak_rss_mb(proc.pid):.1f} MB [target < 100]")

            times = []
            for _ in range(5):
                out = curl("-o", "/dev/null", "-w", "%{time_total}", "--data-binary", f"@{mid_path}",
                           "-H", "Content-Type: application/octet-stream", f"{base}/v1/models")
                times.append(float(out))
            print(f"upload 100 MB (curl --data-binary): best {min(times):.3f} s, median {sorted(times)[2]:.3f} s [target < 0.3]")

            # End to end: one-shot upload + quantize + gzip, until the artifact is ready.
            e2e = []
            for _ in range(3):
                start = time.perf_counter()
                job = json.loads(curl("-T", model_path, "-X", "POST", f"{base}/v1/jobs?preset=w8"))
                job = wait_job(base, job["id"])
                e2e.append(time.perf_counter() - start)
                assert job["status"] == "succeeded", job
            report = json.loads(curl(f"{base}/v1/jobs/{job['id']}/report"))
            size = os.path.getsize(model_path)
            reference = min(coremltools_int8_seconds(tensors) for _ in range(2))
            best = min(e2e)
            print(f"quantize 100 MB fp32 end to end (upload -> artifact ready): best {best:.3f} s "
                  f"({size / best / 1e6:.0f} MB/s); coremltools blockwise_compress alone on the same tensors: "
                  f"{reference:.3f} s; ratio {reference / best:.1f}x")
            print(f"  artifact {report['totals']['artifact_bytes']} B, gzip {report['totals']['gzip_bytes']} B, "
                  f"mean SQNR {report['totals']['mean_sqnr_db']:.2f} dB")

            # Polling throughput.
            if shutil.which("wrk"):
                out = subprocess.run(["wrk", "-t1", "-c64", "-d10s", f"{base}/v1/jobs/{job['id']}"],
                                     check=True, capture_output=True, text=True).stdout
                rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
                print(f"GET /v1/jobs/{{id}} wrk -t1 -c64 -d10s: {float(rps):.0f} req/s [target >= 36000]")
            else:
                print("wrk not installed: skipped the request-rate figure")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
