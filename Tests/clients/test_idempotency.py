"""Idempotency-Key and a two-node cluster with the clients pipelines use: curl exactly as the
README types it, and Python requests retrying a POST. On one node (SQLite) and on two nodes
sharing PostgreSQL (the throwaway cluster scripts/test starts) and one data directory."""

import json
import os
import subprocess
import uuid

import numpy as np
import pytest
import requests

from conftest import Server, safetensors_bytes


def model_file(tmp_path, seed):
    rng = np.random.default_rng(seed)
    tensors = {"a.weight": rng.standard_normal((256, 128)).astype(np.float32),
               "b.weight": rng.standard_normal((64, 256)).astype(np.float32)}
    path = tmp_path / f"model-{seed}.safetensors"
    path.write_bytes(safetensors_bytes(tensors))
    return path


def curl_post(args):
    """curl -sS -i …: (status, headers, body as JSON)."""
    out = subprocess.run(["curl", "-sS", "-i", *args], check=True, capture_output=True, text=True).stdout
    blocks = out.replace("\r\n", "\n").split("\n\n")
    # Skip "100 Continue" interim answers.
    while blocks[0].startswith("HTTP/1.1 100"):
        blocks = blocks[1:]
    head, body = blocks[0], "\n\n".join(blocks[1:])
    status = int(head.split("\n", 1)[0].split()[1])
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in head.split("\n")[1:] if ":" in line}
    return status, headers, json.loads(body)


def test_curl_retry_of_a_one_shot_job_queues_it_once(server, tmp_path):
    path = model_file(tmp_path, 1)
    args = ["-T", str(path), "-X", "POST", "-H", "Idempotency-Key: build-1234-model", f"{server.base}/v1/jobs?preset=w8"]
    first = curl_post(args)
    again = curl_post(args)
    assert first[0] == 202 and again[0] == 202
    assert again[2]["id"] == first[2]["id"]
    assert again[1].get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first[1]


def test_requests_retry_with_another_body_is_a_422_naming_the_key(server, tmp_path):
    model_id = requests.post(f"{server.base}/v1/models", data=model_file(tmp_path, 2).read_bytes()).json()["id"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = requests.post(f"{server.base}/v1/jobs", json={"model_id": model_id, "preset": "w8"}, headers=key)
    retry = requests.post(f"{server.base}/v1/jobs", json={"model_id": model_id, "preset": "w8"}, headers=key)
    assert first.status_code == 202 and retry.status_code == 202
    assert retry.json()["id"] == first.json()["id"]
    other = requests.post(f"{server.base}/v1/jobs", json={"model_id": model_id, "preset": "w8-per-tensor"}, headers=key)
    assert other.status_code == 422
    assert other.headers["Content-Type"] == "application/problem+json"
    assert other.json()["field"] == "Idempotency-Key"
    assert first.json()["id"] in other.json()["detail"]
    bad = requests.post(f"{server.base}/v1/jobs", json={"model_id": model_id, "preset": "w8"}, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 400 and bad.json()["field"] == "Idempotency-Key"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    base = os.environ.get("QUANTD_TEST_DATABASE_URL")
    assert base, "QUANTD_TEST_DATABASE_URL is not set: run scripts/test (it starts a throwaway PostgreSQL)"
    name = "clients_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    url = base.rsplit("/", 1)[0] + "/" + name
    data = tmp_path_factory.mktemp("shared")
    nodes = [Server(data, "--set", f"storage.database_url={url}", "--set", f"cluster.node_id=node{i}", "--set", "jobs.workers=1")
             for i in range(2)]
    yield nodes
    for node in nodes:
        node.stop()


def test_two_nodes_share_models_jobs_keys_and_waits(two_nodes, tmp_path):
    a, b = two_nodes
    path = model_file(tmp_path, 3)
    status, _, model = curl_post(["-T", str(path), "-X", "POST", "-H", "Idempotency-Key: upload-3", f"{a.base}/v1/models"])
    assert status == 201
    # The same upload retried against the other node.
    status, headers, again = curl_post(["-T", str(path), "-X", "POST", "-H", "Idempotency-Key: upload-3", f"{b.base}/v1/models"])
    assert status == 201 and again["id"] == model["id"] and headers.get("idempotent-replayed") == "true"
    key = {"Idempotency-Key": "release-7"}
    job = requests.post(f"{a.base}/v1/jobs", json={"model_id": model["id"], "preset": "w8"}, headers=key).json()
    replay = requests.post(f"{b.base}/v1/jobs", json={"model_id": model["id"], "preset": "w8"}, headers=key)
    assert replay.status_code == 202 and replay.json()["id"] == job["id"]
    # Waited for on the node that did not take the request.
    done = requests.get(f"{b.base}/v1/jobs/{job['id']}?wait=60", timeout=90).json()
    assert done["status"] == "succeeded" and done["node"] in ("node0", "node1") and done["attempts"] == 1
    artifact = requests.get(f"{b.base}/v1/jobs/{job['id']}/artifact")
    assert artifact.status_code == 200 and len(artifact.content) > 1000
    metrics = requests.get(f"{a.base}/metrics").text
    assert 'quantd_node_info{node="node0",store="postgres"} 1' in metrics
