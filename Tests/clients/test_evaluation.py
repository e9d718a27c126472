"""Measured fidelity through the server, as a pipeline uses it: upload the samples with
``curl -T`` (README), run jobs with ``"evaluation": {"dataset_id": …}`` (or ``?dataset_id=``), and
read the report's evaluation section. The classifier (fixtures/make_evaluation_models.py) has
trained-like margins: int8 keeps its decisions, a 2-bit palette visibly does not, and a layer
palettized at 1 bit heads the per-layer table. Bad datasets and evaluation fields get 4xx
problem+json naming what to fix, before anything is queued."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle" / "fixtures"))
import make_evaluation_models as fixtures  # noqa: E402
import make_executor_twins as twins  # noqa: E402
import mlprograms  # noqa: E402
from conftest import QUANTD  # noqa: E402

INT8 = {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8", "weight_threshold": 0}}
PALETTE2 = {"config_type": "OpPalettizerConfig", "global_config": {"nbits": 2, "weight_threshold": 0}}
# fc1's weight at 1 bit, every other weight at 8: the layer the table must name first.
BROKEN_FC1 = {"config_type": "OpPalettizerConfig", "global_config": {"nbits": 8, "weight_threshold": 0},
              "op_name_configs": {"fc1.weight": {"nbits": 1}}}


def curl_upload(server, path, route):
    """``curl -sS -T FILE -X POST URL`` exactly as the README types it; the parsed JSON answer."""
    printed = subprocess.run(["curl", "-sS", "-T", str(path), "-X", "POST", f"{server.base}{route}"], check=True,
                             capture_output=True, text=True).stdout
    return json.loads(printed)


@pytest.fixture(scope="module")
def classifier(server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("classifier")
    model, x = fixtures.classifier()
    onnx.save(model, str(directory / "classifier.onnx"))
    np.savez(directory / "samples.npz", x=x)
    uploaded = curl_upload(server, directory / "classifier.onnx", "/v1/models")
    dataset = curl_upload(server, directory / "samples.npz", "/v1/datasets")
    assert dataset["samples"] == len(x), dataset
    return {"model": uploaded["id"], "dataset": dataset["id"], "directory": directory, "samples": len(x)}


def evaluated_job(server, model_id, dataset_id, config):
    response = requests.post(f"{server.base}/v1/jobs?wait=300",
                             json={"model_id": model_id, "config": config, "evaluation": {"dataset_id": dataset_id}}, timeout=320)
    assert response.status_code in (200, 202), response.text
    job = response.json()
    assert job["status"] == "succeeded", job
    assert job["evaluation"] == {"dataset_id": dataset_id}
    report = requests.get(f"{server.base}{job['links']['report']}", timeout=30).json()
    return job, report


def test_int8_keeps_the_decisions_and_two_bits_visibly_do_not(server, classifier):
    _, int8 = evaluated_job(server, classifier["model"], classifier["dataset"], INT8)
    _, two_bit = evaluated_job(server, classifier["model"], classifier["dataset"], PALETTE2)
    for report in (int8, two_bit):
        evaluation = report["evaluation"]
        assert evaluation["samples"] == classifier["samples"]
        assert evaluation["dataset_id"] == classifier["dataset"]
        [output] = evaluation["outputs"]
        assert output["name"] == "logits" and output["kind"] == "classifier"
        assert {"snr_db", "cosine", "max_abs_error", "top1_agreement", "top5_agreement"} <= output.keys()
    good, bad = int8["evaluation"]["outputs"][0], two_bit["evaluation"]["outputs"][0]
    assert good["top1_agreement"] >= 0.99, good
    assert bad["top1_agreement"] <= good["top1_agreement"] - 0.04, (good, bad)
    assert bad["snr_db"] < good["snr_db"] - 20, (good, bad)
    assert bad["max_abs_error"] > good["max_abs_error"]


def test_the_layer_compressed_at_one_bit_heads_the_table(server, classifier):
    _, report = evaluated_job(server, classifier["model"], classifier["dataset"], BROKEN_FC1)
    layers = report["evaluation"]["layers"]
    assert layers[0]["name"] == "fc1" and layers[0]["op_type"] == "MatMul", layers[:3]
    assert layers[0]["added_noise"] > 10 * layers[1]["added_noise"], layers[:3]
    # Layers after it carry its error: a low SNR, but an input just as noisy.
    after = next(l for l in layers if l["name"] == "fc2")
    assert after["snr_db"] < layers[0]["snr_db"] + 3 and after["input_snr_db"] is not None


def test_a_one_shot_job_takes_the_dataset_from_the_query(server, classifier):
    url = f"{server.base}/v1/jobs?preset=w8&dataset_id={classifier['dataset']}&wait=300"
    printed = subprocess.run(["curl", "-sS", "-T", str(classifier["directory"] / "classifier.onnx"), "-X", "POST", url],
                             check=True, capture_output=True, text=True).stdout
    job = json.loads(printed)
    assert job["status"] == "succeeded" and job["evaluation"] == {"dataset_id": classifier["dataset"]}, job
    report = requests.get(f"{server.base}{job['links']['report']}", timeout=30).json()
    assert report["evaluation"]["outputs"][0]["top1_agreement"] >= 0.99


def test_a_core_ml_job_is_evaluated_against_its_float_program(server, tmp_path):
    package, _ = twins.build(str(tmp_path), "resnet")
    uploaded = curl_upload(server, mlprograms.zip_package(str(package)), "/v1/models")
    np.savez(tmp_path / "images.npz", input=np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32))
    dataset = curl_upload(server, tmp_path / "images.npz", "/v1/datasets")
    _, report = evaluated_job(server, uploaded["id"], dataset["id"], INT8)
    [output] = report["evaluation"]["outputs"]
    assert output["name"] == "logits" and output["snr_db"] > 20, output
    assert report["evaluation"]["samples"] == 4
    assert any(l["op_type"] == "conv" for l in report["evaluation"]["layers"])
    measured = report["estimates"]["accuracy"]["measured"]
    assert measured["top1_agreement"] == output["top1_agreement"] and measured["samples"] == 4


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    return response.json()


def bad_dataset(server, tmp_path, name, **arrays):
    np.savez(tmp_path / name, **arrays)
    return curl_upload(server, tmp_path / name, "/v1/datasets")["id"]


def submit(server, model_id, evaluation):
    return requests.post(f"{server.base}/v1/jobs", json={"model_id": model_id, "config": INT8, "evaluation": evaluation},
                         timeout=60)


def test_datasets_that_do_not_fit_the_model_are_refused_naming_the_input(server, classifier, tmp_path):
    rng = np.random.default_rng(0)
    cases = [
        ("names.npz", {"a": rng.standard_normal((4, 64)).astype(np.float32), "b": rng.standard_normal((4, 64)).astype(np.float32)},
         "'x'"),
        ("shape.npz", {"x": rng.standard_normal((4, 32)).astype(np.float32)}, "64"),
        ("rank.npz", {"x": rng.standard_normal((4, 8, 8)).astype(np.float32)}, "'x'"),
        ("dtype.npz", {"x": rng.integers(0, 5, (4, 64))}, "float"),
    ]
    jobs_before = requests.get(f"{server.base}/v1/jobs", timeout=30).json()["jobs"]
    for name, arrays, mentioned in cases:
        body = problem(submit(server, classifier["model"], {"dataset_id": bad_dataset(server, tmp_path, name, **arrays)}), 422)
        assert "input 'x'" in body["detail"] and mentioned in body["detail"], (name, body)
    assert requests.get(f"{server.base}/v1/jobs", timeout=30).json()["jobs"] == jobs_before, "a refused job was queued"


def test_bad_evaluation_fields_are_refused(server, classifier):
    body = problem(submit(server, classifier["model"], {"dataset_id": "0" * 64}), 404)
    assert "POST /v1/datasets" in body["detail"]
    body = problem(submit(server, classifier["model"], "not an object"), 422)
    assert body["field"] == "evaluation"
    body = problem(submit(server, classifier["model"], {"dataset_id": classifier["dataset"], "samples": 3}), 422)
    assert body["field"] == "evaluation.samples"
    body = problem(submit(server, classifier["model"], {}), 422)
    assert body["field"] == "evaluation.dataset_id"


def test_a_safetensors_model_has_no_graph_to_evaluate(server, classifier, tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [64, 64], "data_offsets": [0, 64 * 64 * 4]}}).encode()
    body = len(header).to_bytes(8, "little") + header + np.zeros(64 * 64, np.float32).tobytes()
    model = requests.post(f"{server.base}/v1/models", data=body, timeout=60).json()
    problem_body = problem(submit(server, model["id"], {"dataset_id": classifier["dataset"]}), 422)
    assert "no graph" in problem_body["detail"]
    # The server keeps serving.
    assert requests.get(f"{server.base}/healthz", timeout=10).status_code == 200


def test_quantd_evaluate_prints_the_same_measurement_locally(classifier, tmp_path):
    config = tmp_path / "int8.json"
    config.write_text(json.dumps(INT8))
    printed = subprocess.run([str(QUANTD), "evaluate", str(classifier["directory"] / "classifier.onnx"),
                              "--data", str(classifier["directory"] / "samples.npz"), "--config", f"@{config}"],
                             check=True, capture_output=True, text=True).stdout
    result = json.loads(printed)
    assert result["compression"]["tensors"]
    assert result["evaluation"]["outputs"][0]["top1_agreement"] >= 0.99
    assert result["evaluation"]["samples"] == classifier["samples"]


def test_an_estimate_measures_each_config_and_recommends_on_the_measurement(server, classifier):
    response = requests.post(f"{server.base}/v1/estimate", json={
        "model_id": classifier["model"], "configs": {"int8": INT8, "palette2": PALETTE2},
        "accuracy_budget": 2.0, "evaluation": {"dataset_id": classifier["dataset"]}}, timeout=300)
    assert response.status_code == 200, response.text
    table = response.json()
    rows = {row["name"]: row for row in table["rows"]}
    for row in rows.values():
        assert row["accuracy_basis"] == "measured", row
        assert row["evaluation"]["samples"] == classifier["samples"]
    assert rows["int8"]["evaluation"]["outputs"][0]["top1_agreement"] >= 0.99
    # 2 bits change more than 2% of the decisions: over the budget, however small they are.
    assert rows["palette2"]["evaluation"]["outputs"][0]["top1_agreement"] < 0.98
    assert table["recommendation"]["name"] == "int8", table["recommendation"]
    assert "measured" in table["recommendation"]["reason"]


def test_an_estimate_without_samples_says_it_estimated(server, classifier):
    response = requests.post(f"{server.base}/v1/estimate", json={"model_id": classifier["model"], "configs": {"int8": INT8}},
                             timeout=300)
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    assert row.get("evaluation") is None and row["accuracy_basis"] == "estimated"


def test_an_op_the_executor_lacks_is_named_not_guessed(server, classifier, tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
         helper.make_node("Einsum", ["h"], ["y"], name="reduce_rows", equation="ij->i")],
        "unknown_op", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "einsum.onnx"))
    uploaded = curl_upload(server, tmp_path / "einsum.onnx", "/v1/models")
    body = problem(submit(server, uploaded["id"], {"dataset_id": classifier["dataset"]}), 422)
    assert body["type"].endswith("/unsupported-operation"), body
    assert body["op_name"] == "reduce_rows" and body["op_type"] == "Einsum", body
    # Without an evaluation the same model compresses as before.
    response = requests.post(f"{server.base}/v1/jobs?wait=300", json={"model_id": uploaded["id"], "config": INT8}, timeout=320)
    assert response.json()["status"] == "succeeded", response.text
