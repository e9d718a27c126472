"""Reading quantd's ONNX artifacts and the references they are held to: the weights onnxruntime
rebuilds (each weight's name exposed as an extra graph output), DequantizeLinear's parameters
expanded to the weight's shape, quantd's own safetensors path on the same weights, and
onnxruntime's ``MatMulNBitsQuantizer``.
"""

import json
import logging
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from safetensors.numpy import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from dequantize import (  # noqa: E402
    LUT_SUFFIX,
    MASK_SUFFIX,
    METADATA_PREFIX,
    SCALE_SUFFIX,
    ZERO_POINT_SUFFIX,
    dequantize_palettized,
    dequantize_tensor,
    expand_to,
    linear_parts,
    load_artifact,
    lut_to_dense,
    unpack_bits,
)
from dequantize import densify as densify_mask  # noqa: E402
from quantd_cli import QUANTD  # noqa: E402

ZIP_MAGIC = b"PK\x03\x04"
WEIGHT_THRESHOLD = 2048


# ---------------------------------------------------------------------------------------------
# Running quantd


def run_compress(tmp_path, source, config, *options):
    """``quantd compress SOURCE --output OUT --config JSON OPTIONS``: (completed process, OUT)."""
    assert QUANTD.exists(), f"quantd binary not built at {QUANTD}: run scripts/test, or set QUANTD_BIN"
    out = Path(tmp_path) / "out.bin"
    completed = subprocess.run([str(QUANTD), "compress", str(source), "--output", str(out), "--config", json.dumps(config),
                                *options], capture_output=True, text=True, timeout=600)
    return completed, out


class Artifact:
    """A successful ``quantd compress`` of an ONNX model: the model (external data loaded),
    the path onnxruntime opens, whether it came as a zip, and the report by tensor name."""

    def __init__(self, tmp_path, out, stdout):
        head = out.read_bytes()[:4]
        self.zipped = head == ZIP_MAGIC
        if self.zipped:
            directory = Path(tmp_path) / "unzipped"
            with zipfile.ZipFile(out) as z:
                self.entries = sorted(z.namelist())
                z.extractall(directory)
            models = [e for e in self.entries if e.endswith(".onnx")]
            assert len(models) == 1, f"the zip artifact holds {self.entries}, not one .onnx model"
            self.path = str(directory / models[0])
        else:
            self.entries = None
            self.path = str(out)
        self.model = onnx.load(self.path)
        self.report = json.loads(stdout)
        self.tensors = {t["name"]: t for t in self.report["tensors"]}

    def compressed(self):
        return sorted(n for n, t in self.tensors.items() if t["action"] == "compressed")

    def unchanged(self):
        return sorted(n for n, t in self.tensors.items() if t["action"] == "unchanged")


def compress(tmp_path, source, config, *options):
    completed, out = run_compress(tmp_path, source, config, *options)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return Artifact(tmp_path, out, completed.stdout)


# ---------------------------------------------------------------------------------------------
# Reading models


def initializers(model):
    """Dense initializers by name as numpy arrays (int4/uint4 as ml_dtypes arrays)."""
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def producer(model, name):
    """The node whose output is ``name``, or None."""
    return next((n for n in model.graph.node if name in n.output), None)


def attribute(node, name, default=None):
    found = [a for a in node.attribute if a.name == name]
    return helper.get_attribute_value(found[0]) if found else default


def session(model_or_path):
    source = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def element_types(model):
    """The element type of every initializer, sparse initializer, input and value_info by name."""
    types = {t.name: t.data_type for t in model.graph.initializer}
    types.update({s.values.name: s.values.data_type for s in model.graph.sparse_initializer})
    for value in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        types.setdefault(value.name, value.type.tensor_type.elem_type)
    return types


EXPOSED_SUFFIX = "::onnxruntime"


def with_outputs(model, names, types):
    """A copy of ``model`` that also outputs each of ``names`` (elem types from ``types``) as
    ``<name>::onnxruntime``, through an Identity: onnxruntime hands a sparse initializer that
    is itself a graph output back as a SparseTensor, and fails on one of rank > 2."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    for name in names:
        exposed.graph.node.append(helper.make_node("Identity", [name], [name + EXPOSED_SUFFIX], name=name + EXPOSED_SUFFIX))
        exposed.graph.output.append(helper.make_tensor_value_info(name + EXPOSED_SUFFIX, types[name], None))
    return exposed


def run_with_weights(model, names, feeds, types=None):
    """(graph outputs, {name: the weight as onnxruntime computes it}) in one session run."""
    exposed = with_outputs(model, names, types or element_types(model))
    values = session(exposed).run(None, feeds)
    count = len(model.graph.output)
    return values[:count], dict(zip(names, values[count:]))


def snr_db(reference, test):
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    noise = np.sum((reference - test) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(reference**2) / noise))


# ---------------------------------------------------------------------------------------------
# The contract's output-channel axis per consumer (coremltools' notion)


def output_axes(model):
    """Each initializer's output-channel axis as its readers imply: Conv 0, ConvTranspose 1,
    Gemm's B 0 with transB=1 else 1, MatMul's B its last axis, Gather's data 0, other readers 0.
    None when readers disagree or one reads it as MatMul's A (or Gemm's A or C)."""
    axes = {}
    ranks = {t.name: len(t.dims) for t in model.graph.initializer}
    for name, rank in ranks.items():
        found = set()
        for node in model.graph.node:
            for position, value in enumerate(node.input):
                if value != name:
                    continue
                if node.op_type == "ConvTranspose" and position == 1:
                    found.add(1)
                elif node.op_type == "Gemm" and position == 1:
                    found.add(0 if attribute(node, "transB", 0) == 1 else 1)
                elif node.op_type == "MatMul" and position == 1:
                    found.add(rank - 1)
                elif node.op_type in ("Gemm", "MatMul"):
                    found.add(None)
                else:
                    found.add(0)
        axes[name] = found.pop() if len(found) == 1 else (0 if not found else None)
    return axes


# ---------------------------------------------------------------------------------------------
# DequantizeLinear, as the ONNX spec defines it


def dequantize_linear_parts(model, weight):
    """(codes, scale, zero point or None, axis, block_size) of the DequantizeLinear node that
    produces ``weight``, with scale and zero point repeated to the weight's shape."""
    node = producer(model, weight)
    assert node is not None and node.op_type == "DequantizeLinear", f"{weight}: produced by {node and node.op_type}"
    values = initializers(model)
    codes = values[node.input[0]]
    scale = values[node.input[1]]
    zero_point = values[node.input[2]] if len(node.input) > 2 and node.input[2] else None
    axis = attribute(node, "axis", 1) % max(codes.ndim, 1)
    block_size = attribute(node, "block_size", 0)
    return codes, expand_parameter(scale, codes.shape, axis, block_size), \
        None if zero_point is None else expand_parameter(zero_point, codes.shape, axis, block_size), axis, block_size


def expand_parameter(parameter, shape, axis, block_size):
    """A scale or zero point repeated over the elements it serves: scalar (per tensor), 1-D
    along ``axis`` (per axis) or blocked (same rank, ``block_size`` elements along ``axis``)."""
    parameter = np.asarray(parameter)
    if parameter.size == 1:
        return np.broadcast_to(parameter.reshape(()), shape)
    if parameter.ndim == 1 and not block_size:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(parameter.reshape(view), shape)
    assert parameter.ndim == len(shape), f"blocked parameter {parameter.shape} for weight {shape}"
    return np.repeat(parameter, block_size, axis=axis)[tuple(slice(0, s) for s in shape)]


def dequantize_linear_numpy(codes, scale, zero_point, dtype):
    """``(codes − zero_point) · scale`` rounded once to ``dtype``, as onnxruntime's
    DequantizeLinear computes it (the integer difference times the scale is exact in float32)."""
    values = codes.astype(np.float64) - (0 if zero_point is None else zero_point.astype(np.float64))
    return (values * scale.astype(np.float64)).astype(dtype)


# ---------------------------------------------------------------------------------------------
# quantd's safetensors path on the same weights


def safetensors_reference(tmp_path, model, names, config, transpose):
    """Every weight in ``names`` through ``quantd compress x.safetensors`` with ``config``;
    ``transpose`` names those stored [N, K] there (safetensors takes axis 0 as the output
    channel axis). Returns ({name: dequantized float64 in the ONNX layout}, {name: report row})."""
    values = initializers(model)
    tensors = {n: np.ascontiguousarray(values[n].T if n in transpose else values[n]) for n in names}
    directory = Path(tmp_path) / "safetensors"
    directory.mkdir(exist_ok=True)
    source, output = directory / "model.safetensors", directory / "out.safetensors"
    save_file(tensors, str(source))
    completed = subprocess.run([str(QUANTD), "compress", str(source), "--output", str(output), "--config", json.dumps(config)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    report = {t["name"]: t for t in json.loads(completed.stdout)["tensors"]}
    restored = dequantize_safetensors(str(output))
    return {n: (restored[n].T if n in transpose else restored[n]) for n in names}, report


def dequantize_safetensors(path):
    """``dequantize.dequantize`` extended to the joint layouts it does not read:
    ``prune+linear``, ``prune+palettize`` and palettization with a quantized LUT
    (``lut_quantization``). Float64, by original name."""
    tensors, metadata = load_artifact(path)
    restored = {}
    for name, value in tensors.items():
        if name.endswith((SCALE_SUFFIX, ZERO_POINT_SUFFIX, MASK_SUFFIX, LUT_SUFFIX, "::lut_scale", "::lut_zero_point")):
            continue
        info = json.loads(metadata.get(METADATA_PREFIX + name, "null"))
        mode = info and info.get("mode")
        if info is None:
            restored[name] = value
        elif mode == "prune+linear":
            restored[name] = _pruned_linear(tensors, info, name)
        elif mode == "prune+palettize":
            restored[name] = _pruned_palettized(tensors, info, name)
        elif mode == "palettize":
            restored[name] = dequantize_palettized(_float_lut(tensors, info, name) if info.get("lut_quantization") else tensors,
                                                   info, name)
        elif mode == "prune":
            restored[name] = densify_mask(value, tensors[name + info.get("mask", MASK_SUFFIX)], info["shape"])
        else:
            restored[name] = dequantize_tensor(*linear_parts(tensors, metadata, name))
    return restored


def _kept(tensors, info, name):
    count = int(np.prod(info["shape"]))
    return np.unpackbits(tensors[name + info.get("mask", "::mask")].view(np.uint8), bitorder="little")[:count].astype(bool)


def _pruned_linear(tensors, info, name):
    kept, shape = _kept(tensors, info, name), info["shape"]
    scale = tensors[name + SCALE_SUFFIX]
    zero_point = tensors.get(name + ZERO_POINT_SUFFIX)
    signed = info["dtype"].startswith("int")
    codes = tensors[name]
    if info.get("packed_bits"):
        codes = unpack_bits(codes, int(kept.sum()), info["packed_bits"], signed)
        if zero_point is not None:
            zero_point = unpack_bits(zero_point, scale.size, info["packed_bits"], signed).reshape(scale.shape)
    dense_codes = np.zeros(kept.size, np.int64)
    dense_codes[kept] = codes.astype(np.int64)
    dense_codes = dense_codes.reshape(shape)
    values = dense_codes.astype(np.float64)
    if zero_point is not None:
        values -= expand_to(zero_point.astype(np.float64), shape)
    values *= expand_to(scale.astype(np.float64), shape)
    return np.where(kept.reshape(shape), values, 0.0)


def _pruned_palettized(tensors, info, name):
    kept, shape = _kept(tensors, info, name), info["shape"]
    indices = np.zeros(kept.size, np.uint8)
    indices[kept] = unpack_bits(tensors[name], int(kept.sum()), info["nbits"], False)
    axis = info["channel_axis"]
    lut = tensors[name + (info.get("lut") or LUT_SUFFIX)]
    lut = np.swapaxes(lut.reshape([lut.shape[0]] + [1] * (len(shape) - 1) + list(lut.shape[1:])), 0, axis)
    dense = lut_to_dense(indices.reshape(shape), lut, axis)
    if info.get("scale"):
        dense = dense * expand_to(tensors[name + info["scale"]].astype(np.float64), shape)
    return np.where(kept.reshape(shape), dense, 0.0)


def _float_lut(tensors, info, name):
    """The tensors with ``N::lut`` dequantized (and rounded to the weight's float type, as
    quantd's reconstruction keeps it)."""
    codes = tensors[name + LUT_SUFFIX].astype(np.float64)
    scale = tensors[name + "::lut_scale"]
    zero_point = tensors.get(name + "::lut_zero_point")
    if zero_point is not None:
        codes = codes - expand_to(zero_point.astype(np.float64), codes.shape)
    lut = (codes * expand_to(scale.astype(np.float64), codes.shape)).astype(scale.dtype)
    return dict(tensors, **{name + LUT_SUFFIX: lut})


# ---------------------------------------------------------------------------------------------
# onnxruntime's MatMulNBits quantizer


def onnxruntime_matmul_nbits(model, bits, block_size, symmetric):
    """The model as ``MatMulNBitsQuantizer`` (default RTN, QOperator) writes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric, bits=bits)
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(copy, algo_config=config)
    quantizer.process()
    return quantizer.model.model


def matmul_nbits_nodes(model):
    """{output name: (node, {input role: (initializer name, array)})} for every com.microsoft
    MatMulNBits node; the output is the replaced MatMul's, so both quantizers' nodes pair up."""
    values = initializers(model)
    found = {}
    for node in model.graph.node:
        if node.op_type != "MatMulNBits" or node.domain != "com.microsoft":
            continue
        roles = dict(zip(("packed", "scales", "zero_points"), node.input[1:]))
        found[node.output[0]] = (node, {role: (value, values[value]) for role, value in roles.items() if value})
    return found
