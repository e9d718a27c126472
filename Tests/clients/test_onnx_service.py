"""ONNX through the server, as a pipeline uses it: upload the model (bare, or zipped with its
external data), run a job with onnx_format, download the gzip artifact with curl --compressed, and
run it in onnxruntime; broken ONNX uploads get a 422 problem+json naming what to fix and store
nothing; the server keeps serving."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import requests
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle" / "fixtures"))
import make_onnx_models as fixtures  # noqa: E402


def upload(server, body, content_type="application/octet-stream"):
    return requests.post(f"{server.base}/v1/models", data=body, headers={"Content-Type": content_type}, timeout=60)


def run_job(server, model_id, **fields):
    response = requests.post(f"{server.base}/v1/jobs?wait=300", json={"model_id": model_id, **fields}, timeout=320)
    assert response.status_code in (200, 202), response.text
    job = response.json()
    assert job["status"] == "succeeded", job
    return job


def download(server, job, tmp_path):
    out = tmp_path / "artifact"
    subprocess.run(["curl", "-sS", "--compressed", "-o", str(out), f"{server.base}{job['links']['artifact']}"], check=True)
    return out.read_bytes()


def test_a_transformer_job_with_matmul_nbits_runs_in_onnxruntime(server, tmp_path):
    model = fixtures.transformer_block()
    created = upload(server, model.SerializeToString())
    assert created.status_code == 201, created.text
    assert created.json()["format"] == "onnx"
    config = {"config_type": "OpLinearQuantizerConfig",
              "global_config": {"dtype": "int4", "granularity": "per_block", "block_size": 32}}
    job = run_job(server, created.json()["id"], config=config, onnx_format="matmul_nbits")
    assert job["onnx_format"] == "matmul_nbits"
    artifact = onnx.load_from_string(download(server, job, tmp_path))
    assert any(n.op_type == "MatMulNBits" and n.domain == "com.microsoft" for n in artifact.graph.node)
    inputs = fixtures.random_inputs(model, seed=3)
    want = fixtures.run(model, inputs)
    got = ort.InferenceSession(artifact.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)
    for w, g in zip(want, got):
        assert g.shape == w.shape and np.isfinite(g).all()
    report = requests.get(f"{server.base}/v1/jobs/{job['id']}/report", timeout=30).json()
    assert report["format"] == "onnx"
    assert any(t["mode"].startswith("MatMulNBits 4-bit block 32") for t in report["tensors"] if t["action"] == "compressed")


def test_external_data_in_a_zip_comes_back_as_a_zip_onnxruntime_loads(server, tmp_path):
    zipped = fixtures.save_with_external_data(fixtures.small_cnn(), tmp_path / "in")
    created = upload(server, Path(zipped).read_bytes())
    assert created.status_code == 201, created.text
    assert created.json()["format"] == "onnx"
    job = run_job(server, created.json()["id"], preset="w8")
    assert job["links"]["artifact"]
    body = download(server, job, tmp_path)
    assert body[:4] == b"PK\x03\x04"
    unpacked = tmp_path / "out"
    zipfile.ZipFile(io.BytesIO(body)).extractall(unpacked)
    model_path = next(unpacked.rglob("*.onnx"))
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()


def hostile_models():
    """Each broken in a way a user can fix, with the words the problem must say."""
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])

    def model(tensor, opset=17):
        graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [tensor])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8).SerializeToString()

    short = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    short.raw_data = short.raw_data[:100]
    outside = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    outside.ClearField("raw_data")
    outside.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16384")):
        outside.external_data.add(key=key, value=value)
    return {
        "size does not match shape": (model(short), "100 bytes"),
        "external data outside the upload": (model(outside), "../secret.bin"),
        "opset out of range": (model(w, opset=9), "opset 9"),
    }


@pytest.mark.parametrize("case", sorted(hostile_models()))
def test_a_broken_onnx_model_is_a_422_that_says_what_to_fix_and_nothing_is_stored(server, case):
    body, words = hostile_models()[case]
    before = requests.get(f"{server.base}/v1/models", timeout=30).json()
    response = upload(server, body)
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert words in response.json()["detail"], response.json()
    assert requests.get(f"{server.base}/v1/models", timeout=30).json() == before
    assert requests.get(f"{server.base}/healthz", timeout=30).status_code == 200


def test_onnx_format_on_a_safetensors_model_is_a_422_naming_the_field(server):
    header = json.dumps({"w": {"dtype": "F32", "shape": [64, 64], "data_offsets": [0, 64 * 64 * 4]}}).encode()
    body = len(header).to_bytes(8, "little") + header + np.ones((64, 64), np.float32).tobytes()
    created = upload(server, body)
    assert created.status_code == 201, created.text
    response = requests.post(f"{server.base}/v1/jobs", json={"model_id": created.json()["id"], "preset": "w8", "onnx_format": "qdq"}, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "onnx_format"
