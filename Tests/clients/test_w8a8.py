"""W8A8 through the server (issue #18), as a pipeline runs it: upload the model and the
calibration samples with ``curl -T`` (README), submit ``activation_config`` with
``calibration.dataset_id`` (and an int8 weight ``config``), wait, read the report: the
quantize/dequantize parameters, the automatic evaluation on the calibration samples, and the
estimate read from the model's own int8 regions. Every bad request is a 4xx problem+json naming
its field, with nothing queued."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle" / "fixtures"))
import make_executor_twins as twins  # noqa: E402
import mlprograms  # noqa: E402
from test_evaluation import curl_upload  # noqa: E402

W8 = {"config_type": "OpLinearQuantizerConfig",
      "global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel", "weight_threshold": 256}}
A8 = {"config_type": "OpLinearQuantizerConfig", "global_config": {"mode": "linear_symmetric", "dtype": "int8"}}


@pytest.fixture(scope="module")
def resnet(server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("w8a8")
    package, _ = twins.build(str(directory), "resnet", precision="fp16")
    archive = mlprograms.zip_package(package)
    rng = np.random.default_rng(0)
    np.savez(directory / "calibration.npz", input=rng.standard_normal((12, 3, 32, 32)).astype(np.float32))
    np.savez(directory / "holdout.npz", input=rng.standard_normal((5, 3, 32, 32)).astype(np.float32))
    np.savez(directory / "wrong.npz", input=rng.standard_normal((4, 3, 16, 16)).astype(np.float32))
    return {
        "model": curl_upload(server, archive, "/v1/models")["id"],
        "calibration": curl_upload(server, directory / "calibration.npz", "/v1/datasets")["id"],
        "holdout": curl_upload(server, directory / "holdout.npz", "/v1/datasets")["id"],
        "wrong": curl_upload(server, directory / "wrong.npz", "/v1/datasets")["id"],
        "directory": directory,
    }


def submit(server, body, wait=300):
    return requests.post(f"{server.base}/v1/jobs?wait={wait}", json=body, timeout=wait + 20)


def test_w8a8_job_reports_parameters_evaluation_and_int8_estimate(server, resnet, tmp_path):
    response = submit(server, {"model_id": resnet["model"], "config": W8, "activation_config": A8,
                               "calibration": {"dataset_id": resnet["calibration"]}})
    assert response.status_code in (200, 202), response.text
    job = response.json()
    assert job["status"] == "succeeded", job["error"]
    assert job["activation_config"]["global_config"] == {"mode": "linear_symmetric", "dtype": "int8"}
    assert job["calibration"] == {"dataset_id": resnet["calibration"], "calibration_method": "minmax"}
    # Evaluated on the calibration samples, since no other dataset was named.
    assert job["evaluation"] == {"dataset_id": resnet["calibration"]}
    report = requests.get(f"{server.base}{job['links']['report']}", timeout=30).json()

    section = report["activation_quantization"]
    assert section["calibration"]["samples"] == 12 and section["calibration"]["dataset_id"] == resnet["calibration"]
    assert section["inserted_ops"] > 10 and "stem" in "".join(section["quantized_ops"])
    for tensor in section["tensors"]:
        assert tensor["dtype"] == "int8" and tensor["zero_point"] == 0
        assert tensor["scale"] == pytest.approx(max(abs(tensor["min"]), abs(tensor["max"])) / 127, rel=2e-3)

    evaluation = report["evaluation"]
    assert evaluation["samples"] == 12
    [output] = evaluation["outputs"]
    assert 15 < output["snr_db"] < 80, output
    assert any(layer["op_type"] == "conv" for layer in evaluation["layers"])
    assert any(t["action"] == "compressed" for t in report["tensors"])

    # The estimate reads the int8 regions from the model itself and says the evaluation measures them.
    assert report["estimates"]["entries"]
    assert "its evaluation measures it" in report["estimates"]["accuracy"]["basis"]

    # The artifact is a Core ML package whose program targets iOS17 and holds the pairs.
    artifact = requests.get(f"{server.base}{job['links']['artifact']}", timeout=60)
    assert artifact.status_code == 200
    path = tmp_path / "w8a8.mlpackage.zip"
    path.write_bytes(artifact.content)
    with zipfile.ZipFile(path) as z:
        assert any(name.endswith("model.mlmodel") for name in z.namelist())


def test_separate_evaluation_dataset_and_percentile(server, resnet):
    job = submit(server, {"model_id": resnet["model"], "activation_config": A8,
                          "calibration": {"dataset_id": resnet["calibration"], "calibration_method": "percentile", "percentile": 99.9},
                          "evaluation": {"dataset_id": resnet["holdout"]}}).json()
    assert job["status"] == "succeeded", job["error"]
    report = requests.get(f"{server.base}{job['links']['report']}", timeout=30).json()
    assert report["evaluation"]["samples"] == 5 and report["evaluation"]["dataset_id"] == resnet["holdout"]
    calibration = report["activation_quantization"]["calibration"]
    assert calibration["calibration_method"] == "percentile" and calibration["percentile"] == 99.9
    # Activations only: every weight stays as it was.
    assert all(t["action"] != "compressed" for t in report["tensors"])


def assert_problem(response, status, field):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem.get("field") == field, problem
    return problem


def test_bad_w8a8_requests_name_their_field(server, resnet):
    model, calibration = resnet["model"], resnet["calibration"]
    before = len(requests.get(f"{server.base}/v1/jobs?limit=500", timeout=30).json()["jobs"])
    cases = [
        ({"model_id": model, "activation_config": {"global_config": {"dtype": "int4"}}, "calibration": {"dataset_id": calibration}},
         422, "activation_config.global_config.dtype"),
        ({"model_id": model, "activation_config": A8}, 422, "calibration.dataset_id"),
        ({"model_id": model, "activation_config": A8, "calibration": {"dataset_id": resnet["wrong"]}}, 422, "calibration.dataset_id"),
        ({"model_id": model, "activation_config": A8, "calibration": {"dataset_id": "0" * 64}}, 404, None),
        ({"model_id": model, "config": W8, "calibration": {"dataset_id": calibration}}, 422, "calibration"),
        ({"model_id": model, "activation_config": A8, "calibration": {"dataset_id": calibration, "calibration_method": "entropy"}},
         422, "calibration.calibration_method"),
        ({"model_id": model, "activation_config": A8, "calibration": {"dataset_id": calibration, "percentile": 99}},
         422, "calibration.percentile"),
        ({"model_id": model, "activation_config": {"config_type": "OpPalettizerConfig", "global_config": {"nbits": 4}},
          "calibration": {"dataset_id": calibration}}, 422, "activation_config.config_type"),
        ({"model_id": model, "activation_config": A8, "calibration": {"dataset_id": calibration, "samples": 3}},
         422, "calibration.samples"),
    ]
    for body, status, field in cases:
        response = submit(server, body, wait=0)
        if field is None:
            assert response.status_code == status, response.text
        else:
            assert_problem(response, status, field)
    after = len(requests.get(f"{server.base}/v1/jobs?limit=500", timeout=30).json()["jobs"])
    assert after == before
    assert requests.get(f"{server.base}/healthz", timeout=10).status_code == 200


def test_activation_config_on_safetensors_is_refused(server, resnet, tmp_path):
    from safetensors.numpy import save_file
    save_file({"w": np.ones((64, 64), dtype=np.float32)}, str(tmp_path / "w.safetensors"))
    uploaded = curl_upload(server, tmp_path / "w.safetensors", "/v1/models")
    response = submit(server, {"model_id": uploaded["id"], "activation_config": A8,
                               "calibration": {"dataset_id": resnet["calibration"]}}, wait=0)
    problem = assert_problem(response, 422, "activation_config")
    assert "graph" in problem["detail"]


@pytest.fixture(scope="module")
def onnx_resnet(server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("w8a8_onnx")
    _, onnx_path = twins.build(str(directory), "resnet", precision="fp32")
    rng = np.random.default_rng(1)
    np.savez(directory / "calibration.npz", input=rng.standard_normal((16, 3, 32, 32)).astype(np.float32))
    np.savez(directory / "holdout.npz", input=rng.standard_normal((6, 3, 32, 32)).astype(np.float32))
    return {"model": curl_upload(server, Path(onnx_path), "/v1/models")["id"],
            "calibration": curl_upload(server, directory / "calibration.npz", "/v1/datasets")["id"],
            "holdout": curl_upload(server, directory / "holdout.npz", "/v1/datasets")["id"]}


def test_onnx_w8a8_minmax_and_percentile_are_measured_on_the_same_holdout(server, onnx_resnet):
    """The same activation config calibrated both ways, both evaluated on the same hold-out
    samples: the two reports say which keeps the model closer to float."""
    reports = {}
    for method in ("minmax", "percentile"):
        calibration = {"dataset_id": onnx_resnet["calibration"], "calibration_method": method}
        job = submit(server, {"model_id": onnx_resnet["model"], "config": W8,
                              "activation_config": {"global_config": {"mode": "linear", "dtype": "int8"}},
                              "calibration": calibration, "evaluation": {"dataset_id": onnx_resnet["holdout"]}}).json()
        assert job["status"] == "succeeded", job["error"]
        reports[method] = requests.get(f"{server.base}{job['links']['report']}", timeout=30).json()
    for method, report in reports.items():
        section = report["activation_quantization"]
        assert section["calibration"]["calibration_method"] == method and section["inserted_ops"] > 10
        [output] = report["evaluation"]["outputs"]
        assert report["evaluation"]["samples"] == 6
        assert 10 < output["snr_db"] < 80, (method, output)
    # Percentile ranges are never wider than min/max ones.
    minmax = {t["name"]: t for t in reports["minmax"]["activation_quantization"]["tensors"]}
    for tensor in reports["percentile"]["activation_quantization"]["tensors"]:
        if tensor["name"] in minmax:
            assert tensor["max"] - tensor["min"] <= minmax[tensor["name"]]["max"] - minmax[tensor["name"]]["min"] + 1e-6
    artifact = requests.get(f"{server.base}/v1/jobs/{reports['minmax']['job_id']}/artifact", timeout=60)
    assert artifact.status_code == 200 and len(artifact.content) > 0


def test_a_yaml_job_document_takes_the_same_keys(server, resnet):
    document = f"""
model_id: "{resnet['model']}"
activation_config:
  config_type: OpLinearQuantizerConfig
  global_config: {{mode: linear, dtype: uint8}}
  op_type_configs: {{add: null}}
calibration: {{dataset_id: "{resnet['calibration']}", calibration_method: minmax}}
"""
    response = requests.post(f"{server.base}/v1/jobs?wait=300", data=document.encode(),
                             headers={"Content-Type": "application/yaml"}, timeout=320)
    assert response.status_code in (200, 202), response.text
    job = response.json()
    assert job["status"] == "succeeded", job["error"]
    assert job["activation_config"]["op_type_configs"] == {"add": None}
    report = requests.get(f"{server.base}{job['links']['report']}", timeout=30).json()
    section = report["activation_quantization"]
    assert all(t["dtype"] == "uint8" for t in section["tensors"])
    assert not any(op.startswith("add") for op in section["quantized_ops"])
