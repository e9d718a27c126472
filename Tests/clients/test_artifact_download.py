"""The artifact download with the clients pipelines and people use, each against a > 10 MB
artifact: curl exactly as the README types it, Python's urllib and requests asking for gzip, and
headless Chromium. Every one must get the whole model, byte for byte."""

import gzip
import hashlib
import json
import struct
import subprocess
import urllib.request
import zlib

import numpy as np
import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

from conftest import safetensors_bytes


@pytest.fixture(scope="module")
def job(server, tmp_path_factory):
    """A w8 job on 12 M float16 weights: a 12 MB int8 artifact, three gzip chunks."""
    rng = np.random.default_rng(15)
    model = safetensors_bytes({f"blocks.{i}.weight": rng.standard_normal((2048, 2048)).astype(np.float16) for i in range(3)})
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    path.write_bytes(model)
    out = subprocess.run(["curl", "-sS", "-T", str(path), "-X", "POST", f"{server.base}/v1/jobs?preset=w8&wait=600"],
                         check=True, capture_output=True, text=True).stdout
    finished = json.loads(out)
    assert finished["status"] == "succeeded", finished
    url = f"{server.base}/v1/jobs/{finished['id']}/artifact"
    stored = requests.get(url, headers={"Accept-Encoding": "identity"}).content
    artifact = gzip.decompress(stored)
    assert len(artifact) > 10_000_000
    return {"url": url, "stored": stored, "artifact": artifact}


def test_the_stored_artifact_is_exactly_one_gzip_member(job):
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert inflater.decompress(job["stored"]) == job["artifact"]
    assert inflater.eof and inflater.unused_data == b"", "bytes after the first member"


def test_curl_compressed_saves_the_whole_model(job, tmp_path):
    subprocess.run(["curl", "-sS", "--compressed", "-OJ", job["url"]], check=True, cwd=tmp_path)
    saved = list(tmp_path.iterdir())
    assert [p.name.endswith(".safetensors") for p in saved] == [True], saved
    assert saved[0].read_bytes() == job["artifact"]


def test_curl_resumes_an_interrupted_download(job, tmp_path):
    target = tmp_path / "model-w8.safetensors.gz"
    target.write_bytes(job["stored"][: len(job["stored"]) // 3])
    subprocess.run(["curl", "-sS", "-C", "-", "-o", str(target), job["url"]], check=True)
    assert target.read_bytes() == job["stored"]


def test_urllib_with_accept_encoding_gzip_reads_one_member(job):
    request = urllib.request.Request(job["url"], headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        body = response.read()
    # As a strict client decodes: one member, nothing after it.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert inflater.decompress(body) == job["artifact"] and inflater.unused_data == b""


def test_requests_decodes_the_whole_model(job):
    response = requests.get(job["url"])
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == job["artifact"]


def test_chromium_fetches_the_whole_model(job, server):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.set_script_timeout(120)
        driver.get(f"{server.base}/healthz")
        result = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch(arguments[0]).then(async response => {
                const body = await response.arrayBuffer();
                const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
                done({status: response.status, encoding: response.headers.get("content-encoding"), bytes: body.byteLength,
                      sha256: Array.from(digest, b => b.toString(16).padStart(2, "0")).join("")});
            }).catch(error => done({error: String(error)}));
        """, job["url"])
    finally:
        driver.quit()
    assert result.get("status") == 200, result
    assert result["encoding"] == "gzip"
    assert result["bytes"] == len(job["artifact"])
    assert result["sha256"] == hashlib.sha256(job["artifact"]).hexdigest()
