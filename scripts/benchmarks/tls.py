"""HTTPS against plain HTTP on the same release binary in the same run: a 1 GiB `curl -T` upload
(fsynced before the 201), a 100 MB artifact download, and `wrk -t1 -c64 -d10s` on
`GET /v1/jobs/{id}`, once through a server with server.tls_certificate_path set and once
without. The certificate is a throwaway ECDSA P-256 one made with openssl.

    .venv/bin/python scripts/benchmarks/tls.py
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import BIN, random_blob_safetensors  # noqa: E402

RUNS = 3


def certificate(directory):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, cwd=directory, capture_output=True)
    return os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")


def start(data_dir, *flags):
    proc = subprocess.Popen([BIN, "serve", "--port", "0", "--data-dir", data_dir, *flags], cwd=os.path.dirname(data_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, proc.stdout.readline().strip().rsplit(" ", 1)[1]


def curl(cacert, *args):
    return subprocess.run(["curl", "-sS", "--cacert", cacert, *args], check=True, capture_output=True, text=True).stdout


def measure(base, cacert, work, big, model):
    uploads = []
    for _ in range(RUNS):
        seconds, code = curl(cacert, "-o", "/dev/null", "-w", "%{time_total} %{http_code}", "-T", big, "-X", "POST",
                             f"{base}/v1/models").split()
        assert code == "201", code
        uploads.append((1 << 30) / float(seconds) / 1e6)
    job = json.loads(curl(cacert, "-T", model, "-X", "POST", f"{base}/v1/jobs?preset=palettize-8&wait=600"))
    assert job["status"] == "succeeded", job
    url = f"{base}/v1/jobs/{job['id']}/artifact"
    downloads = []
    for _ in range(RUNS):
        seconds, size = curl(cacert, "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url).split()
        downloads.append(float(size) / float(seconds) / 1e6)
    out = subprocess.run(["wrk", "-t1", "-c64", "-d10s", f"{base}/v1/jobs/{job['id']}"], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return uploads, downloads, float(size), rps


def main():
    work = tempfile.mkdtemp(prefix="quantd-tls-bench-")
    try:
        cert, key = certificate(work)
        big = os.path.join(work, "big.safetensors")
        random_blob_safetensors(big, 1 << 30)
        model = os.path.join(work, "model.safetensors")
        random_blob_safetensors(model, 100 << 20)
        results = {}
        for label, flags in (("http", ()), ("https", ("--set", f"server.tls_certificate_path={cert}",
                                                      "--set", f"server.tls_private_key_path={key}"))):
            data = os.path.join(work, f"data-{label}")
            proc, base = start(data, *flags)
            try:
                results[label] = measure(base, cert, work, big, model)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            shutil.rmtree(data, ignore_errors=True)
        for label, (uploads, downloads, size, rps) in results.items():
            print(f"{label:5}: upload 1 GiB best {max(uploads):.0f} MB/s, median {statistics.median(uploads):.0f} MB/s; "
                  f"download {size / 1e6:.0f} MB artifact best {max(downloads):.0f} MB/s, median {statistics.median(downloads):.0f} MB/s; "
                  f"wrk GET /v1/jobs/{{id}} {rps:.0f} req/s")
        (u0, d0, _, r0), (u1, d1, _, r1) = results["http"], results["https"]
        print(f"https / http: upload {max(u1) / max(u0):.2f}x, download {max(d1) / max(d0):.2f}x, requests {r1 / r0:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
