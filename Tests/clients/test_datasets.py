"""Sample datasets through the server as the README types it: curl -T and multipart -F for an
.npz numpy writes, requests for GET, the list, DELETE and a broken upload (a 4xx problem+json
saying what to fix, the server still serving)."""

import json
import subprocess

import numpy as np
import requests


def curl(*args):
    completed = subprocess.run(["curl", "-sS", *args], capture_output=True, check=True)
    return json.loads(completed.stdout)


def test_curl_upload_then_get_list_and_delete(server, tmp_path):
    samples = tmp_path / "samples.npz"
    ids = np.arange(64 * 128, dtype=np.int64).reshape(64, 128) % 30000
    np.savez_compressed(samples, input_ids=ids, attention_mask=np.ones_like(ids))
    dataset = curl("-T", str(samples), "-X", "POST", f"{server.base}/v1/datasets")
    assert dataset["format"] == "npz" and dataset["samples"] == 64
    assert dataset["arrays"] == [{"name": "input_ids", "dtype": "int64", "shape": [64, 128]},
                                 {"name": "attention_mask", "dtype": "int64", "shape": [64, 128]}]
    assert dataset["bytes"] == samples.stat().st_size

    again = curl("-F", f"dataset=@{samples}", f"{server.base}/v1/datasets")
    assert again["id"] == dataset["id"]

    fetched = requests.get(f"{server.base}/v1/datasets/{dataset['id']}", timeout=30)
    # The second upload refreshed its retention: the document is the latest answer.
    assert fetched.status_code == 200 and fetched.json() == again and again["expires_at"] >= dataset["expires_at"]
    listed = requests.get(f"{server.base}/v1/datasets", params={"limit": 50}, timeout=30).json()
    assert dataset["id"] in [d["id"] for d in listed["datasets"]]

    assert requests.delete(f"{server.base}/v1/datasets/{dataset['id']}", timeout=30).status_code == 204
    gone = requests.get(f"{server.base}/v1/datasets/{dataset['id']}", timeout=30)
    assert gone.status_code == 404 and gone.headers["Content-Type"] == "application/problem+json"


def test_a_nan_sample_is_a_422_naming_the_array_and_sample(server, tmp_path):
    samples = tmp_path / "nan.npz"
    x = np.zeros((8, 3, 4, 4), np.float32)
    x[5, 0, 1, 2] = np.nan
    np.savez(samples, x=x)
    response = requests.post(f"{server.base}/v1/datasets", data=samples.read_bytes(), timeout=30)
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "array 'x'" in response.json()["detail"] and "sample 5" in response.json()["detail"]
    pickled = tmp_path / "object.npz"
    np.savez(pickled, o=np.array([{"a": 1}], dtype=object))
    refused = requests.post(f"{server.base}/v1/datasets", data=pickled.read_bytes(), timeout=30)
    assert refused.status_code == 422 and "array 'o'" in refused.json()["detail"]
    assert requests.get(f"{server.base}/healthz", timeout=30).status_code == 200
