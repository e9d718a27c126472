"""HTTPS through the whole service (quantd serve with server.tls_certificate_path and
server.tls_private_key_path), with curl --cacert, Python's ssl, and a certificate reloaded on
SIGHUP under an open keep-alive connection."""

import gzip
import http.client
import json
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request

import numpy as np
import pytest

from conftest import QUANTD, Server
from test_artifact_download import safetensors_bytes


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, cwd=cwd, capture_output=True)


def make_certificates(directory, name):
    """A CA named `name` and a certificate for 127.0.0.1/localhost it signed; also an expired
    certificate and a key of no certificate."""
    directory.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", f"/CN={name}", cwd=directory)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for out, days in (("server.pem", "30"), ("expired.pem", "0")):
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", out, "-days", days, "-extfile", "ext.cnf", cwd=directory)
    openssl("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key", cwd=directory)
    return directory


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    return make_certificates(root / "first", "first CA"), make_certificates(root / "second", "second CA")


@pytest.fixture
def tls_server(tmp_path, certificates):
    first, _ = certificates
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(first / "server.pem", live / "cert.pem")
    shutil.copy(first / "server.key", live / "key.pem")
    server = Server(tmp_path / "data", "--set", f"server.tls_certificate_path={live / 'cert.pem'}",
                    "--set", f"server.tls_private_key_path={live / 'key.pem'}")
    assert server.base.startswith("https://"), server.base
    yield server, live
    server.stop()


def test_curl_uploads_runs_and_downloads_over_https(tls_server, certificates, tmp_path):
    server, _ = tls_server
    ca = str(certificates[0] / "ca.pem")
    rng = np.random.default_rng(3)
    model = tmp_path / "model.safetensors"
    model.write_bytes(safetensors_bytes({f"w{i}": rng.standard_normal((1024, 2048)).astype(np.float16) for i in range(4)}))
    out = subprocess.run(["curl", "-sS", "--cacert", ca, "-T", str(model), "-X", "POST", f"{server.base}/v1/jobs?preset=w8&wait=600"],
                         check=True, capture_output=True, text=True).stdout
    job = json.loads(out)
    assert job["status"] == "succeeded", job
    url = f"{server.base}/v1/jobs/{job['id']}/artifact"
    stored = subprocess.run(["curl", "-sS", "--cacert", ca, url], check=True, capture_output=True).stdout
    decoded = subprocess.run(["curl", "-sS", "--cacert", ca, "--compressed", url], check=True, capture_output=True).stdout
    assert len(decoded) > 8_000_000
    assert gzip.decompress(stored) == decoded


def test_python_ssl_negotiates_tls13_and_http11(tls_server, certificates):
    server, _ = tls_server
    context = ssl.create_default_context(cafile=str(certificates[0] / "ca.pem"))
    context.set_alpn_protocols(["h2", "http/1.1"])
    host, port = server.base.removeprefix("https://").split(":")
    with context.wrap_socket(__import__("socket").create_connection((host, int(port))), server_hostname=host) as tls:
        assert tls.version() == "TLSv1.3"
        assert tls.selected_alpn_protocol() == "http/1.1"
    with urllib.request.urlopen(f"{server.base}/healthz", context=context) as response:
        assert json.load(response) == {"status": "ok"}


def test_a_certificate_reloaded_on_sighup_keeps_open_connections(tls_server, certificates):
    server, live = tls_server
    first, second = certificates
    host, port = server.base.removeprefix("https://").split(":")
    kept = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=str(first / "ca.pem")))
    kept.request("GET", "/healthz")
    assert kept.getresponse().read() == b'{"status":"ok"}'
    shutil.copy(second / "server.pem", live / "cert.pem")
    shutil.copy(second / "server.key", live / "key.pem")
    server.process.send_signal(signal.SIGHUP)
    new = ssl.create_default_context(cafile=str(second / "ca.pem"))
    deadline = time.time() + 10
    while True:
        try:
            with urllib.request.urlopen(f"{server.base}/healthz", context=new) as response:
                assert response.status == 200
            break
        except urllib.error.URLError:
            assert time.time() < deadline, "the new certificate was not served after SIGHUP"
            time.sleep(0.1)
    kept.request("GET", "/healthz")
    assert kept.getresponse().read() == b'{"status":"ok"}', "the open connection was dropped by the reload"
    kept.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.base}/healthz", context=ssl.create_default_context(cafile=str(first / "ca.pem")))


def test_plain_http_to_the_https_port_gets_a_clear_400(tls_server):
    server, _ = tls_server
    plain = server.base.replace("https://", "http://")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{plain}/healthz", timeout=10)
    assert refused.value.code == 400
    assert "HTTPS" in refused.value.read().decode()


@pytest.mark.parametrize("certificate,key,reason", [
    ("expired.pem", "server.key", "expired"),
    ("server.pem", "other.key", "does not match"),
    ("missing.pem", "server.key", "missing.pem"),
])
def test_an_unusable_certificate_stops_the_start_with_one_line(certificates, tmp_path, certificate, key, reason):
    first, _ = certificates
    time.sleep(1.1)  # the expired certificate's notAfter is the second it was made
    completed = subprocess.run([str(QUANTD), "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
                                "--set", f"server.tls_certificate_path={first / certificate}",
                                "--set", f"server.tls_private_key_path={first / key}"],
                               capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert reason in lines[0] and "server.tls_certificate_path" in lines[0], lines[0]
