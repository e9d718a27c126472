"""Rebuild float tensors from a quantd safetensors artifact.

For every tensor ``N`` with a ``quantd:N`` metadata entry the artifact holds the integer codes
``N``, the scales ``N::scale`` (same rank as ``N``, one entry per block) and, when zero points
are stored, ``N::zero_point`` (shape of the scale). 8-bit codes keep the tensor's shape; 4-bit
codes (metadata ``packed_bits``) are a flat uint8 array, two codes per byte, low nibble first,
signed ones in two's complement. The float tensor is ``w = (q - zero_point) * scale`` with each
scale repeated over its block, as coremltools' ``constexpr_blockwise_shift_scale`` defines it.
Palettized tensors (metadata ``mode: palettize``) hold packed LUT indices ``N``, the LUT
``N::lut`` and optionally per-channel scales ``N::scale`` (see ``palettized_parts``).
Other tensors are returned unchanged.

Usage: python dequantize.py ARTIFACT.safetensors OUT.safetensors
"""

import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

SCALE_SUFFIX = "::scale"
ZERO_POINT_SUFFIX = "::zero_point"
MASK_SUFFIX = "::mask"
LUT_SUFFIX = "::lut"
METADATA_PREFIX = "quantd:"


def expand_to(param: np.ndarray, shape) -> np.ndarray:
    """Repeat each entry of a per-block parameter over its block so it matches ``shape``."""
    if param.ndim != len(shape):
        raise ValueError(f"parameter rank {param.ndim} differs from tensor rank {len(shape)}")
    for axis, (blocks, size) in enumerate(zip(param.shape, shape)):
        if size % blocks:
            raise ValueError(f"axis {axis}: {blocks} blocks do not tile {size} elements")
        if blocks != size:
            param = np.repeat(param, size // blocks, axis=axis)
    return param


def dequantize_tensor(codes: np.ndarray, scale: np.ndarray, zero_point=None) -> np.ndarray:
    """``(codes - zero_point) * scale`` in float64, so the check adds no rounding of its own."""
    values = codes.astype(np.float64)
    if zero_point is not None:
        values -= expand_to(zero_point.astype(np.float64), codes.shape)
    return values * expand_to(scale.astype(np.float64), codes.shape)


def unpack_bits(packed: np.ndarray, count: int, bits: int, signed: bool) -> np.ndarray:
    """Codes packed LSB-first at ``bits`` bits each, as int8 (signed) or uint8."""
    as_bits = np.unpackbits(packed.view(np.uint8), bitorder="little")[: count * bits]
    weights = (1 << np.arange(bits)).astype(np.uint16)
    values = (as_bits.reshape(count, bits).astype(np.uint16) * weights).sum(axis=1)
    if signed:
        values = np.where(values >= 1 << (bits - 1), values.astype(np.int16) - (1 << bits), values)
        return values.astype(np.int8)
    return values.astype(np.uint8)


def linear_parts(tensors, metadata, name):
    """(codes in the tensor's shape, scale, zero point or None) of a linearly quantized tensor."""
    info = json.loads(metadata[METADATA_PREFIX + name])
    codes, scale, zero_point = tensors[name], tensors[name + SCALE_SUFFIX], tensors.get(name + ZERO_POINT_SUFFIX)
    bits = info.get("packed_bits")
    if bits:
        signed = info["dtype"].startswith("int")
        codes = unpack_bits(codes, int(np.prod(info["shape"])), bits, signed).reshape(info["shape"])
        if zero_point is not None:
            zero_point = unpack_bits(zero_point, scale.size, bits, signed).reshape(scale.shape)
    return codes, scale, zero_point


def densify(values: np.ndarray, mask: np.ndarray, shape) -> np.ndarray:
    """A pruned tensor (metadata ``mode: prune``): ``N::mask`` holds one bit per element,
    LSB-first (bit i set = element i, row-major, is stored) and ``N`` the stored values in
    row-major order; every other element is zero, as coremltools' ``constexpr_sparse_to_dense``."""
    count = int(np.prod(shape))
    kept = np.unpackbits(mask.view(np.uint8), bitorder="little")[:count].astype(bool)
    if kept.sum() != values.size:
        raise ValueError(f"mask keeps {kept.sum()} elements but {values.size} values are stored")
    dense = np.zeros(count, np.float64)
    dense[kept] = values.astype(np.float64)
    return dense.reshape(shape)


def palettized_parts(tensors, parsed, name):
    """(LUT indices in the weight's shape with C / cluster_dim on the channel axis, LUT shaped
    for coremltools' ``lut_to_dense``, per-channel scale or None) of a palettized tensor
    (metadata ``mode: palettize``).

    ``N`` holds one index per element (or per vector of ``cluster_dim`` consecutive channels)
    packed LSB-first at ``nbits`` bits, row-major; ``N::lut`` is ``[groups, 2^nbits,
    cluster_dim]``, group ``g`` serving channels ``g·group_size …`` on ``channel_axis``."""
    shape, axis, vector = list(parsed["shape"]), parsed["channel_axis"], parsed["cluster_dim"]
    index_shape = list(shape)
    index_shape[axis] //= vector
    indices = unpack_bits(tensors[name], int(np.prod(index_shape)), parsed["nbits"], False).reshape(index_shape)
    lut = tensors[name + (parsed.get("lut") or LUT_SUFFIX)]
    # lut_to_dense wants rank + 2 axes with the groups on the channel axis.
    lut = np.swapaxes(lut.reshape([lut.shape[0]] + [1] * (len(shape) - 1) + list(lut.shape[1:])), 0, axis)
    scale = tensors.get(name + (parsed.get("scale") or SCALE_SUFFIX)) if parsed.get("scale") else None
    return indices, lut, scale


def lut_to_dense(indices: np.ndarray, lut: np.ndarray, vector_axis: int) -> np.ndarray:
    """coremltools' ``constexpr_lut_to_dense`` in float64: each index looks up its group's
    entry, a vector of ``lut.shape[-1]`` values laid along ``vector_axis``."""
    vector = lut.shape[-1]
    index_t = np.moveaxis(indices, vector_axis, 0)
    table = np.moveaxis(lut, vector_axis, 0).reshape(lut.shape[vector_axis], lut.shape[-2], vector)
    channels = index_t.shape[0] * vector
    group = (np.arange(index_t.shape[0]) * vector) // (channels // table.shape[0])
    group = group.reshape((-1,) + (1,) * (index_t.ndim - 1))
    values = table.astype(np.float64)[group, index_t.astype(np.intp)]  # [C / v, ..., v]
    values = np.moveaxis(values, -1, 1).reshape((channels,) + index_t.shape[1:])
    return np.moveaxis(values, 0, vector_axis)


def dequantize_palettized(tensors, parsed, name) -> np.ndarray:
    indices, lut, scale = palettized_parts(tensors, parsed, name)
    dense = lut_to_dense(indices, lut, parsed["channel_axis"])
    return dense if scale is None else dense * expand_to(scale.astype(np.float64), dense.shape)


def load_artifact(path):
    """All tensors of a safetensors file and its metadata."""
    with safe_open(path, framework="np") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}
        metadata = f.metadata() or {}
    return tensors, metadata


def dequantize(path):
    """Float tensors by original name: rebuilt for quantized ones (float64), as stored otherwise."""
    tensors, metadata = load_artifact(path)
    result = {}
    for name, value in tensors.items():
        if name.endswith((SCALE_SUFFIX, ZERO_POINT_SUFFIX, MASK_SUFFIX, LUT_SUFFIX)):
            continue
        info = metadata.get(METADATA_PREFIX + name)
        if info is None:
            result[name] = value
            continue
        parsed = json.loads(info)
        if parsed.get("mode") == "palettize":
            result[name] = dequantize_palettized(tensors, parsed, name)
            continue
        if parsed.get("mode") == "prune":
            result[name] = densify(value, tensors[name + parsed.get("mask", MASK_SUFFIX)], parsed["shape"])
            continue
        result[name] = dequantize_tensor(*linear_parts(tensors, metadata, name))
    return result


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    _, original_metadata = load_artifact(sys.argv[1])
    dequantized = {}
    for name, value in dequantize(sys.argv[1]).items():
        info = original_metadata.get(METADATA_PREFIX + name)
        dtype = {"F16": np.float16, "F32": np.float32}.get(json.loads(info)["original_dtype"], np.float32) if info else None
        dequantized[name] = value.astype(dtype) if dtype is not None else value
    save_file(dequantized, sys.argv[2])
