"""quantd's ONNX W8A8 held to onnxruntime's static QDQ quantization.

Each generated model is compressed by ``quantd compress`` (int8 per-channel weights, an
activation config, an .npz of calibration samples) and by
``onnxruntime.quantization.quantize_static`` (QuantFormat.QDQ, CalibrationMethod.MinMax,
per_channel=True, the same activation and weight types) on the same samples. The two models must
quantize the same activation tensors with one QuantizeLinear→DequantizeLinear pair each, read by
the same nodes, with the same scales and zero points; quantd's reported ranges must be
onnxruntime's MinMax calibrator's; and quantd's artifact must run in onnxruntime close to the
float model.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_executor_models  # noqa: E402
from quantd_cli import QUANTD  # noqa: E402

# quantd's int8 per-channel weights, every weight of two or more axes included (onnxruntime
# quantizes each Conv, Gemm and MatMul weight whatever its size).
WEIGHT_CONFIG = {"global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel", "weight_threshold": 0}}
QUANT_TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
CALIBRATION_SAMPLES = 8
# Ops whose every float input onnxruntime quantizes (QDQOperatorBase): their initializers are
# quantized as activations, from their values.
EVERY_INPUT_OPS = {"Add", "Mul", "Concat", "GlobalAveragePool", "Softmax", "Sigmoid", "LeakyRelu"}


# ---------------------------------------------------------------------------------------------
# Models


def _weight(rng, name, shape, std=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    std = std if std is not None else np.sqrt(2.0 / fan_in)
    return numpy_helper.from_array((rng.standard_normal(shape) * std).astype(np.float32), name)


def _model(nodes, inputs, outputs, initializers, name):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7, producer_name="quantd-qdq-fixtures")
    onnx.checker.check_model(model)
    return model


def small_cnn(seed=11):
    """[1, 3, 16, 16] → Conv 3x3 → Relu → Conv 3x3 → Relu → Add (residual) → Relu → Conv 1x1 →
    Concat with its input → MaxPool → AveragePool → GlobalAveragePool → Flatten → Gemm transB=1."""
    rng = np.random.default_rng(seed)
    inits = [
        _weight(rng, "conv1.weight", (8, 3, 3, 3)), _weight(rng, "conv1.bias", (8,), 0.1),
        _weight(rng, "conv2.weight", (8, 8, 3, 3)), _weight(rng, "conv2.bias", (8,), 0.1),
        _weight(rng, "conv3.weight", (8, 8, 1, 1)), _weight(rng, "conv3.bias", (8,), 0.1),
        _weight(rng, "fc.weight", (10, 16)), _weight(rng, "fc.bias", (10,), 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Add", ["r2", "r1"], ["sum"], name="add"),
        helper.make_node("Relu", ["sum"], ["r3"], name="relu3"),
        helper.make_node("Conv", ["r3", "conv3.weight", "conv3.bias"], ["c3"], name="conv3"),
        helper.make_node("Concat", ["r3", "c3"], ["cat"], name="concat", axis=1),
        helper.make_node("MaxPool", ["cat"], ["mp"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["mp"], ["ap"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["ap"], ["gp"], name="gap"),
        helper.make_node("Flatten", ["gp"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    return _model(nodes, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits, "small_cnn")


def mlp(seed=12):
    """[N, 16] → MatMul [16, 32] → Add bias → Relu → MatMul [32, 8] → Add bias: the bias Adds'
    constants are quantized as activations."""
    rng = np.random.default_rng(seed)
    inits = [_weight(rng, "w1", (16, 32)), _weight(rng, "b1", (32,), 0.1), _weight(rng, "w2", (32, 8)), _weight(rng, "b2", (8,), 0.1)]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"], name="matmul1"),
        helper.make_node("Add", ["h1", "b1"], ["a1"], name="add1"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("MatMul", ["r1", "w2"], ["h2"], name="matmul2"),
        helper.make_node("Add", ["h2", "b2"], ["y"], name="add2"),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])], inits, "mlp")


def resnet(seed=50):
    """make_executor_models' ResNet50 pattern (Conv with folded bias, Relu, MaxPool, residual Add,
    GlobalAveragePool, Flatten, Gemm) on 32x32 images."""
    return make_executor_models.resnet50(batch=1, size=32, seed=seed)[0]


# (model, activation dtype, mode, bound on the W8A8 model's largest error against float on the
# calibration samples, bound on its largest difference from onnxruntime's W8A8 model), both
# relative to the float output's largest magnitude: what this seed measured, doubled. The two
# W8A8 models hold the same weights; their activation scales differ in the last bits where
# quantd's executor and onnxruntime compute a calibrated extreme in another order, and a deep
# network carries the roundings that flips to its logits.
CASES = {
    "small_cnn_uint8": (small_cnn, "uint8", "linear", 0.02, 1e-5),
    "mlp_int8_symmetric": (mlp, "int8", "linear_symmetric", 0.07, 1e-5),
    "resnet_uint8": (resnet, "uint8", "linear", 0.1, 0.1),
}


# ---------------------------------------------------------------------------------------------
# The two tools


def samples(model, count, seed):
    """Random normal samples for each input, samples along the first axis (a fixed batch of 1 is
    fed one sample at a time by both tools)."""
    rng = np.random.default_rng(seed)
    result = {}
    for value in model.graph.input:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim][1:]
        result[value.name] = rng.standard_normal([count, *dims]).astype(np.float32)
    return result


class Reader(CalibrationDataReader):
    """One sample per run, as the samples' file holds them."""

    def __init__(self, data):
        count = len(next(iter(data.values())))
        self.feeds = iter([{name: array[i:i + 1] for name, array in data.items()} for i in range(count)])

    def get_next(self):
        return next(self.feeds, None)


def run_quantd(tmp_path, model_path, data_path, activation_config):
    out = tmp_path / "quantd.onnx"
    completed = subprocess.run([str(QUANTD), "compress", str(model_path), "--output", str(out), "--config", json.dumps(WEIGHT_CONFIG),
                                "--activation-config", json.dumps(activation_config), "--calibration-data", str(data_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return onnx.load(str(out)), json.loads(completed.stdout), out


def run_onnxruntime(tmp_path, model_path, data, dtype, mode):
    out = tmp_path / "onnxruntime.onnx"
    quantize_static(str(model_path), str(out), Reader(data), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QUANT_TYPES[dtype], weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": mode == "linear_symmetric"})
    return onnx.load(str(out)), out


def calibrated_ranges(tmp_path, model_path, data):
    calibrator = create_calibrator(str(model_path), None, augmented_model_path=str(tmp_path / "augmented.onnx"),
                                   calibrate_method=CalibrationMethod.MinMax)
    calibrator.collect_data(Reader(data))
    return {name: tuple(float(np.asarray(v).item()) for v in td.range_value) for name, td in calibrator.compute_data().data.items()}


# ---------------------------------------------------------------------------------------------
# Reading the quantized models


def _initializers(model):
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def activation_pairs(model):
    """Every QuantizeLinear's tensor: its scale, zero point, code type, the tensor whose scale it
    reads (itself, or the one it shares parameters with) and the nodes reading its dequantized
    value."""
    inits = _initializers(model)
    pairs = {}
    for q in (n for n in model.graph.node if n.op_type == "QuantizeLinear"):
        tensor = q.input[0].removesuffix("_QuantizeLinear_Input")
        (dq,) = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0]]
        assert list(dq.input[1:]) == list(q.input[1:]), f"{tensor}: the pair's two nodes read different parameters"
        zero = inits[q.input[2]]
        pairs[tensor] = {
            "scale": float(inits[q.input[1]]), "zero_point": int(zero), "dtype": str(zero.dtype),
            "source": q.input[1].removesuffix("_scale"),
            "readers": sorted(n.name for n in model.graph.node if dq.output[0] in n.input),
        }
    return pairs


def constant_pairs(model, constants):
    """The DequantizeLinear of each float initializer quantized as an activation."""
    inits = _initializers(model)
    result = {}
    for dq in (n for n in model.graph.node if n.op_type == "DequantizeLinear"):
        name = dq.input[0].removesuffix("_quantized")
        if name in constants and dq.input[0] != name:
            result[name] = {"scale": float(inits[dq.input[1]]), "zero_point": int(inits[dq.input[2]]),
                            "readers": sorted(n.name for n in model.graph.node if dq.output[0] in n.input)}
    return result


def bias_scales(model, biases):
    inits = _initializers(model)
    return {b: inits[b + "_quantized_scale"] for b in biases if b + "_quantized_scale" in inits}


def computing_nodes(model):
    return sorted(n.name for n in model.graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear"))


def adjusted(ranges, model):
    """onnxruntime's ``adjust_tensor_ranges`` on the float model: a Relu's or Clip's input with no
    other reader takes the activation's output range."""
    readers = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    ranges = dict(ranges)
    for node in model.graph.node:
        if node.op_type in ("Relu", "Clip") and readers[node.input[0]] == 1 and node.input[0] in ranges and node.output[0] in ranges:
            ranges[node.input[0]] = ranges[node.output[0]]
    return ranges


def run(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


# ---------------------------------------------------------------------------------------------
# The tests


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory):
    build, dtype, mode, bound, agreement = CASES[request.param]
    tmp_path = tmp_path_factory.mktemp(request.param)
    model = build()
    model_path = tmp_path / "model.onnx"
    onnx.save(model, str(model_path))
    data = samples(model, CALIBRATION_SAMPLES, seed=1)
    data_path = tmp_path / "calibration.npz"
    np.savez(data_path, **data)
    activation_config = {"global_config": {"mode": mode, "dtype": dtype}}
    quantd_model, report, quantd_path = run_quantd(tmp_path, model_path, data_path, activation_config)
    ort_model, ort_path = run_onnxruntime(tmp_path, model_path, data, dtype, mode)
    weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")}
    constants = {name for n in model.graph.node if n.op_type in EVERY_INPUT_OPS for name in n.input} & {i.name for i in model.graph.initializer}
    biases = {n.input[2] for n in model.graph.node if n.op_type in ("Conv", "Gemm") and len(n.input) > 2}
    return {
        "model": model, "model_path": model_path, "data": data, "dtype": dtype, "bound": bound, "agreement": agreement,
        "quantd": quantd_model, "quantd_path": quantd_path, "report": report["activation_quantization"],
        "ort": ort_model, "ort_path": ort_path, "ranges": calibrated_ranges(tmp_path, model_path, data),
        "weights": weights, "constants": constants - weights, "biases": biases,
    }


def test_the_same_tensors_get_pairs_read_by_the_same_nodes(case):
    quantd, reference = activation_pairs(case["quantd"]), activation_pairs(case["ort"])
    assert sorted(quantd) == sorted(reference)
    for tensor in reference:
        assert quantd[tensor]["readers"] == reference[tensor]["readers"], tensor
        assert quantd[tensor]["source"] == reference[tensor]["source"], tensor
    # Relu and Clip after a quantized node are gone from both (asymmetric), or kept in both.
    assert computing_nodes(case["quantd"]) == computing_nodes(case["ort"])
    assert constant_pairs(case["quantd"], case["constants"]).keys() == constant_pairs(case["ort"], case["constants"]).keys()
    assert sorted(t["name"] for t in case["report"]["tensors"]) == sorted(set(reference) | set(constant_pairs(case["ort"], case["constants"])))


def test_scales_and_zero_points_are_onnxruntimes(case):
    quantd, reference = activation_pairs(case["quantd"]), activation_pairs(case["ort"])
    for tensor, expected in reference.items():
        got = quantd[tensor]
        assert got["dtype"] == expected["dtype"] == case["dtype"], tensor
        np.testing.assert_allclose(got["scale"], expected["scale"], rtol=1e-5, err_msg=tensor)
        assert got["zero_point"] == expected["zero_point"], tensor
    quantd_constants, ort_constants = constant_pairs(case["quantd"], case["constants"]), constant_pairs(case["ort"], case["constants"])
    for name, expected in ort_constants.items():
        np.testing.assert_allclose(quantd_constants[name]["scale"], expected["scale"], rtol=1e-5, err_msg=name)
        assert quantd_constants[name]["zero_point"] == expected["zero_point"], name
        assert quantd_constants[name]["readers"] == expected["readers"], name
    # The report says what the model holds.
    written = {**quantd, **quantd_constants}
    for tensor in case["report"]["tensors"]:
        assert tensor["scale"] == np.float32(written[tensor["name"]]["scale"]), tensor["name"]
        assert tensor["zero_point"] == written[tensor["name"]]["zero_point"], tensor["name"]
        assert tensor["dtype"] == case["dtype"]


def test_biases_are_int32_with_input_scale_times_weight_scale(case):
    quantd, reference = bias_scales(case["quantd"], case["biases"]), bias_scales(case["ort"], case["biases"])
    assert sorted(quantd) == sorted(reference) == sorted(case["biases"])
    for bias, expected in reference.items():
        # The weight scales are quantd's own (coremltools' rule in float32) and onnxruntime's
        # (float64, then float32): equal but for the last bit.
        np.testing.assert_allclose(quantd[bias], expected, rtol=1e-5, err_msg=bias)
    inits = _initializers(case["quantd"])
    for bias in case["biases"]:
        assert inits[bias + "_quantized"].dtype == np.int32


def test_reported_ranges_are_the_minmax_calibrators(case):
    calibrated = adjusted(case["ranges"], case["model"])
    sources = {t: p["source"] for t, p in activation_pairs(case["ort"]).items()}
    float_inits = _initializers(case["model"])
    for tensor in case["report"]["tensors"]:
        name = tensor["name"]
        if name in case["constants"]:
            expected = (float(float_inits[name].min()), float(float_inits[name].max()))
        else:
            # A tensor sharing its parameters reports the range they came from.
            expected = calibrated[sources[name]]
        np.testing.assert_allclose([tensor["min"], tensor["max"]], expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_the_w8a8_artifact_runs_close_to_float(case):
    # On calibration samples: a sample outside the calibrated ranges clips in both tools' models
    # alike, which says more about the calibration set than about the quantization.
    data = case["data"]
    for i in range(len(next(iter(data.values())))):
        feeds = {name: array[i:i + 1] for name, array in data.items()}
        expected = run(case["model_path"], feeds)
        got = run(case["quantd_path"], feeds)
        reference = run(case["ort_path"], feeds)
        magnitude = np.abs(expected).max()
        assert np.abs(got - expected).max() <= case["bound"] * magnitude
        assert np.abs(got - reference).max() <= case["agreement"] * magnitude
