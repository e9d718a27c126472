"""Rebuild float tensors from a quantd safetensors artifact.

For every tensor ``N`` with a ``quantd:N`` metadata entry the artifact holds the integer codes
``N``, the scales ``N::scale`` (same rank as ``N``, one entry per block) and, when zero points
are stored, ``N::zero_point`` (shape of the scale). The float tensor is
``w = (q - zero_point) * scale`` with each scale repeated over its block, as coremltools'
``constexpr_blockwise_shift_scale`` defines it. Other tensors are returned unchanged.

Usage: python dequantize.py ARTIFACT.safetensors OUT.safetensors
"""

import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

SCALE_SUFFIX = "::scale"
ZERO_POINT_SUFFIX = "::zero_point"
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
        if name.endswith(SCALE_SUFFIX) or name.endswith(ZERO_POINT_SUFFIX):
            continue
        info = metadata.get(METADATA_PREFIX + name)
        if info is None:
            result[name] = value
            continue
        json.loads(info)  # malformed metadata should fail loudly, not dequantize silently
        result[name] = dequantize_tensor(value, tensors[name + SCALE_SUFFIX], tensors.get(name + ZERO_POINT_SUFFIX))
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
