"""W8A8 for Core ML (issue #18), with coremltools' own activation passes as the oracle.

coremltools' ``linear_quantize_activations`` needs Core ML predictions for its statistics, which
do not exist on Linux; its three graph passes (``insert_prefix_quantize_dequantize_pair``,
``insert_suffix_quantize_dequantize_pair``, ``dequantize_quantize_pair_elimination``) run
anywhere when handed the statistics. So:

- the *program* check hands coremltools the ranges quantd calibrated (its report lists every
  quantized tensor's min/max) and requires quantd's program to equal what the passes write:
  every op reads the same chain of quantize/dequantize ops with the same scales, zero points
  (present or not) and types. A range quantd did not report that coremltools needs is a
  KeyError, so a missing pair fails too.
- the *statistics* check runs an ONNX graph with the same value names in onnxruntime and
  requires quantd's ranges to equal onnxruntime's min/max over all samples, after coremltools'
  own concat adjustment (``_adjust_concat_surrounding_activation_stats``).

Programs are compared as coremltools' passes leave them, before ``ct.convert``'s general
optimisation pipeline (CSE, scale normalisation of binary ops, ...) which Core ML's compiler
applies to any program.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_executor_twins as twins  # noqa: E402
import mlprograms  # noqa: E402
from quantd_cli import QUANTD, run_model  # noqa: E402

import coremltools as ct  # noqa: E402
import coremltools.optimize.coreml as cto  # noqa: E402
from coremltools.converters.mil import Builder as mb  # noqa: E402
from coremltools.converters.mil.frontend.milproto.load import load as load_program  # noqa: E402
from coremltools.converters.mil.mil.passes.graph_pass import PassOption  # noqa: E402
from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY  # noqa: E402
from coremltools.models import utils as model_utils  # noqa: E402
from coremltools.optimize import _utils as optimize_utils  # noqa: E402



def zoo_program(directory, precision="fp16", seed=0, name="zoo"):
    """Every pattern the passes know: conv→relu with two readers, conv→batch_norm, an add of two
    quantized branches, a const add, concat (sharing ranges), both pools, a linear whose output
    is the model's, and ops that stay float."""
    rng = np.random.default_rng(seed)
    dtype = np.float16 if precision == "fp16" else np.float32

    def w(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, 16, 16))], opset_version=ct.target.iOS17)
    def program(x):
        if precision == "fp16":
            x = mb.cast(x=x, dtype="fp16", name="x_fp16")
        a = mb.conv(x=x, weight=w(8, 3, 3, 3), bias=w(8), pad_type="same", name="conv1")
        a = mb.relu(x=a, name="relu1")
        b = mb.conv(x=a, weight=w(8, 8, 3, 3), pad_type="same", name="conv2")
        b = mb.relu6(x=b, name="relu2")
        c = mb.conv(x=a, weight=w(8, 8, 1, 1), pad_type="same", name="conv3")
        c = mb.batch_norm(x=c, mean=w(8), variance=np.abs(w(8)) + dtype(0.5), gamma=w(8) + dtype(1), beta=w(8), epsilon=dtype(1e-5), name="bn3")
        d = mb.add(x=b, y=c, name="add1")
        d = mb.sigmoid(x=d, name="sig1")
        e = mb.add(x=d, y=w(1, 8, 1, 1), name="add_const")
        cat = mb.concat(values=[e, a], axis=1, name="cat")
        p = mb.max_pool(x=cat, kernel_sizes=[2, 2], strides=[2, 2], pad_type="valid", name="maxpool")
        q = mb.conv(x=p, weight=w(16, 16, 3, 3, scale=0.1), pad_type="same", name="conv4")
        q = mb.avg_pool(x=q, kernel_sizes=[2, 2], strides=[2, 2], pad_type="valid", name="avgpool")
        q = mb.tanh(x=q, name="tanh1")
        f = mb.reshape(x=q, shape=[1, 256], name="flat")
        y = mb.linear(x=f, weight=w(10, 256, scale=0.05), bias=w(10), name="fc")
        if precision == "fp16":
            y = mb.cast(x=y, dtype="fp32", name="logits")
        return y

    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17,
                       compute_precision=ct.precision.FLOAT32, pass_pipeline=ct.PassPipeline.EMPTY, skip_model_load=True)
    path = Path(directory) / f"{name}.mlpackage"
    model.save(str(path))
    return str(path)


def samples_file(path, shape, count, seed=1, name="x"):
    rng = np.random.default_rng(seed)
    np.savez(path, **{name: rng.standard_normal((count, *shape[1:])).astype(np.float32)})
    return path


def quantize(tmp_path, package, activation_config, samples, *options):
    """``quantd compress`` with the activation config; returns (artifact model, report)."""
    out, report = tmp_path / "w8a8.zip", tmp_path / "report.json"
    completed = subprocess.run([str(QUANTD), "compress", mlprograms.zip_package(package), "--output", str(out),
                                "--activation-config", json.dumps(activation_config), "--calibration-data", str(samples),
                                "--report", str(report), *options], capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    path = mlprograms.unzip_package(str(out), str(tmp_path / "unzipped"))
    return ct.models.MLModel(path, skip_model_load=True), json.loads(report.read_text()), out


def coremltools_program(package, activation_config, stats):
    """coremltools' three activation passes on the float model, given ``stats``."""
    model = ct.models.MLModel(package, skip_model_load=True)
    config = cto.OptimizationConfig.from_dict({"config_type": "OpLinearQuantizerConfig", **activation_config})
    prefix = PASS_REGISTRY["compression::insert_prefix_quantize_dequantize_pair"]
    suffix = PASS_REGISTRY["compression::insert_suffix_quantize_dequantize_pair"]
    for graph_pass in (prefix, suffix):
        graph_pass.set_options([PassOption("config", config)])
        graph_pass.set_options([PassOption("activation_stats", stats)])
    return model_utils._apply_graph_pass(model, [prefix, suffix, PASS_REGISTRY["common::dequantize_quantize_pair_elimination"]],
                                         spec_version=ct._SPECIFICATION_VERSION_IOS_17 if hasattr(ct, "_SPECIFICATION_VERSION_IOS_17") else 8,
                                         skip_model_load=True, return_pymil_prog=True)


def quantd_program(model):
    spec = model.get_spec()
    return load_program(spec, specification_version=spec.specificationVersion, file_weights_dir=model.weights_dir)


def structure(program):
    """Every computing op (by output name) with what each input reads, quantize/dequantize chains
    spelled out with their parameters; and what the outputs read. Only what ops read counts, so
    dangling ops (coremltools leaves a pair behind when an add's second input is a const) do not."""
    function = program.functions["main"]

    def read(var):
        op = var.op
        if op is None:
            return ("input", var.name)
        if op.op_type in ("quantize", "dequantize"):
            zero_point = None if op.inputs.get("zero_point") is None else int(np.asarray(op.zero_point.val))
        if op.op_type == "quantize":
            return ("quantize", float(np.asarray(op.scale.val)), zero_point, op.output_dtype.val, read(op.input))
        if op.op_type == "dequantize":
            return ("dequantize", float(np.asarray(op.scale.val)), zero_point, read(op.input))
        if op.op_type == "const" or op.op_type.startswith("constexpr_"):
            # A weight, compressed or not (W8A8 compresses quantd's weights after the activations).
            return ("const", tuple(var.shape))
        return var.name

    ops = {}
    for op in function.operations:
        if op.op_type in ("const", "quantize", "dequantize") or op.op_type.startswith("constexpr_"):
            continue
        ops[op.outputs[0].name] = {key: tuple(read(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
                                   for key, value in op.inputs.items()}
    return ops, [read(v) for v in function.outputs]


def pairs_read(program):
    ops, outputs = structure(program)
    text = repr(ops) + repr(outputs)
    return text.count("'quantize'"), text.count("'dequantize'")


def stats_from(report):
    return {t["name"]: {"rmin": np.float32(t["min"]), "rmax": np.float32(t["max"])} for t in report["activation_quantization"]["tensors"]}


def assert_same_program(package, activation_config, model, report):
    expected = coremltools_program(package, activation_config, stats_from(report))
    mine, theirs = structure(quantd_program(model)), structure(expected)
    assert sorted(mine[0]) == sorted(theirs[0])
    for name in theirs[0]:
        assert mine[0][name] == theirs[0][name], name
    assert mine[1] == theirs[1]
    assert pairs_read(quantd_program(model))[0] > 0


MODES = [
    {"global_config": {"mode": "linear_symmetric", "dtype": "int8"}},
    {"global_config": {"mode": "linear", "dtype": "uint8"}},
    {"global_config": {"mode": "linear", "dtype": "int8"}},
    {"global_config": {"mode": "linear_symmetric", "dtype": "uint8"}},
    # coremltools' own serialized form carries weight keys, which activations ignore.
    {"config_type": "OpLinearQuantizerConfig",
     "global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel", "weight_threshold": 2048},
     "op_type_configs": {"add": None}, "op_name_configs": {"conv4": None}},
]


@pytest.mark.parametrize("activation_config", MODES, ids=["int8-symmetric", "uint8-linear", "int8-linear", "uint8-symmetric", "op-configs"])
def test_small_program_equals_coremltools_passes(tmp_path, activation_config):
    package = zoo_program(tmp_path)
    samples = samples_file(tmp_path / "samples.npz", (1, 3, 16, 16), 6)
    model, report, _ = quantize(tmp_path, package, activation_config, samples)
    assert_same_program(package, activation_config, model, report)
    assert model.get_spec().specificationVersion >= 8  # iOS17
    section = report["activation_quantization"]
    assert section["calibration"]["samples"] == 6 and section["calibration"]["calibration_method"] == "minmax"
    if activation_config.get("op_type_configs"):
        assert not any(name.startswith("add") for name in section["quantized_ops"])


@pytest.mark.parametrize("network", ["resnet", "mobilenetv2", "mobilevitv2"])
def test_reference_network_equals_coremltools_passes(tmp_path, network):
    """The three architectures of Apple's W8A8 table, in the shapes coremltools converts them to
    (float16, batch norms fused, MobileViT's attention in matmul and softmax), at 32×32."""
    package, _ = twins.build(str(tmp_path), network, precision="fp16")
    samples = samples_file(tmp_path / "samples.npz", (1, 3, 32, 32), 4, name="input")
    config = MODES[0]
    model, report, _ = quantize(tmp_path, package, config, samples, "--config",
                                json.dumps({"global_config": {"mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel", "weight_threshold": 256}}))
    assert_same_program(package, config, model, report)
    # W8A8: the weights above coremltools' size threshold are int8 constexprs as well.
    ops = {op.op_type for op in quantd_program(model).functions["main"].operations}
    compressed = [t for t in report["tensors"] if t["action"] == "compressed"]
    assert compressed and "constexpr_affine_dequantize" in ops


def scale_of(rmin, rmax, config):
    """coremltools' own arithmetic for one range (quantize_weight_by_dtype on [min, max])."""
    from coremltools.converters.mil.mil import types
    dtype = types.int8 if config["dtype"] == "int8" else types.uint8
    _, scale, zero_point = optimize_utils.quantize_weight_by_dtype(np.array([rmin, rmax], dtype=np.float16), axes=0, dtype=dtype,
                                                                   quantization_mode=config["mode"].upper())
    return float(scale), None if zero_point is None else int(zero_point)


@pytest.mark.parametrize("config", [c["global_config"] for c in MODES[:4]])
def test_reported_parameters_follow_coremltools_arithmetic(tmp_path, config):
    package = zoo_program(tmp_path)
    samples = samples_file(tmp_path / "samples.npz", (1, 3, 16, 16), 4, seed=3)
    _, report, _ = quantize(tmp_path, package, {"global_config": config}, samples)
    for tensor in report["activation_quantization"]["tensors"]:
        scale, zero_point = scale_of(tensor["min"], tensor["max"], config)
        assert np.float32(tensor["scale"]) == np.float32(scale), tensor
        assert tensor["zero_point"] == (zero_point or 0), tensor


def onnx_twin(path, package_weights):
    """The zoo program (float32) as an ONNX graph whose values have the program's names."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    W = package_weights
    nodes = [
        helper.make_node("Conv", ["x", "conv1_w", "conv1_b"], ["conv1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"]),
        helper.make_node("Conv", ["relu1", "conv2_w"], ["conv2"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["conv2", "zero", "six"], ["relu2"]),
        helper.make_node("Conv", ["relu1", "conv3_w"], ["conv3"]),
        helper.make_node("BatchNormalization", ["conv3", "bn_gamma", "bn_beta", "bn_mean", "bn_var"], ["bn3"], epsilon=1e-5),
        helper.make_node("Add", ["relu2", "bn3"], ["add1"]),
        helper.make_node("Sigmoid", ["add1"], ["sig1"]),
        helper.make_node("Add", ["sig1", "add_c"], ["add_const"]),
        helper.make_node("Concat", ["add_const", "relu1"], ["cat"], axis=1),
        helper.make_node("MaxPool", ["cat"], ["maxpool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["maxpool", "conv4_w"], ["conv4"], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["conv4"], ["avgpool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Tanh", ["avgpool"], ["tanh1"]),
        helper.make_node("Reshape", ["tanh1", "flat_shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc"], transB=1),
    ]
    initializers = {**W, "zero": np.float32(0), "six": np.float32(6), "flat_shape": np.array([1, 256], dtype=np.int64)}
    names = [n.output[0] for n in nodes]
    graph = helper.make_graph(nodes, "zoo", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return names


def zoo_weights(package):
    """The zoo's weights by the twin's initializer names, read back from the saved program."""
    program = quantd_program(ct.models.MLModel(package, skip_model_load=True))
    ops = {op.outputs[0].name: op for op in program.functions["main"].operations}

    def val(op_name, key):
        return np.asarray(ops[op_name].inputs[key].val, dtype=np.float32)

    return {"conv1_w": val("conv1", "weight"), "conv1_b": val("conv1", "bias"), "conv2_w": val("conv2", "weight"),
            "conv3_w": val("conv3", "weight"), "bn_gamma": val("bn3", "gamma"), "bn_beta": val("bn3", "beta"),
            "bn_mean": val("bn3", "mean"), "bn_var": val("bn3", "variance"), "add_c": val("add_const", "y"),
            "conv4_w": val("conv4", "weight"), "fc_w": val("fc", "weight"), "fc_b": val("fc", "bias")}


def test_ranges_equal_onnxruntime_min_max_over_all_samples(tmp_path):
    import onnxruntime as ort
    from coremltools.optimize.coreml.experimental._post_training_quantization import _adjust_concat_surrounding_activation_stats

    package = zoo_program(tmp_path, precision="fp32")
    count = 7
    samples = samples_file(tmp_path / "samples.npz", (1, 3, 16, 16), count, seed=5)
    _, report, _ = quantize(tmp_path, package, MODES[2], samples)
    names = onnx_twin(tmp_path / "twin.onnx", zoo_weights(package))
    session = ort.InferenceSession(str(tmp_path / "twin.onnx"), providers=["CPUExecutionProvider"])
    data = np.load(samples)["x"]
    stats = {"x": {"rmin": data.min(), "rmax": data.max()}}
    for i in range(count):
        for name, value in zip(names, session.run(names, {"x": data[i:i + 1]})):
            low, high = value.min(), value.max()
            stats.setdefault(name, {"rmin": low, "rmax": high})
            stats[name] = {"rmin": min(stats[name]["rmin"], low), "rmax": max(stats[name]["rmax"], high)}
    stats.pop("fc")  # the model's output: coremltools keeps no range for it
    _adjust_concat_surrounding_activation_stats([["add_const", "relu1", "cat"]], stats)
    reported = {t["name"]: t for t in report["activation_quantization"]["tensors"]}
    assert len(reported) >= 8
    for name, tensor in reported.items():
        assert tensor["min"] == pytest.approx(float(stats[name]["rmin"]), rel=1e-5, abs=1e-6), name
        assert tensor["max"] == pytest.approx(float(stats[name]["rmax"]), rel=1e-5, abs=1e-6), name
    # The concat's inputs and output share the union of their ranges.
    assert reported["relu1"]["max"] == reported["cat"]["max"]


def test_w8a8_program_runs_close_to_the_float_program(tmp_path):
    package = zoo_program(tmp_path)
    samples = samples_file(tmp_path / "samples.npz", (1, 3, 16, 16), 8, seed=7)
    _, _, artifact = quantize(tmp_path, package, MODES[0], samples)
    feeds = {"x": np.random.default_rng(7).standard_normal((1, 3, 16, 16)).astype(np.float32)}
    (tmp_path / "f").mkdir()
    (tmp_path / "q").mkdir()
    float_out = run_model(tmp_path / "f", mlprograms.zip_package(package), feeds)["logits"]
    quant_out = run_model(tmp_path / "q", str(artifact), feeds)["logits"]
    noise = np.sum((quant_out - float_out) ** 2) / np.sum(float_out ** 2)
    snr = -10 * np.log10(noise)
    # 8-bit activations on a small random network: well above 20 dB, yet not exact.
    assert 20 < snr < 80, snr


def test_calibration_that_does_not_fit_the_model_is_refused(tmp_path):
    package = zoo_program(tmp_path)
    samples = samples_file(tmp_path / "bad.npz", (1, 3, 8, 8), 4)
    completed = subprocess.run([str(QUANTD), "compress", mlprograms.zip_package(package), "--output", str(tmp_path / "o.zip"),
                                "--activation-config", json.dumps(MODES[0]), "--calibration-data", str(samples)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode != 0
    assert "input" in completed.stderr and "16" in completed.stderr, completed.stderr


def test_four_bit_activations_are_refused_naming_the_field(tmp_path):
    package = zoo_program(tmp_path)
    samples = samples_file(tmp_path / "samples.npz", (1, 3, 16, 16), 2)
    completed = subprocess.run([str(QUANTD), "compress", mlprograms.zip_package(package), "--output", str(tmp_path / "o.zip"),
                                "--activation-config", json.dumps({"global_config": {"dtype": "int4"}}),
                                "--calibration-data", str(samples)], capture_output=True, text=True, timeout=600)
    assert completed.returncode != 0 and "int8 or uint8" in completed.stderr, completed.stderr
