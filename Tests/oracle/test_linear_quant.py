"""quantd's linear quantization against coremltools' own implementation.

The reference is ``linear_quantize_weights.blockwise_compress_by_dtype``, the function
coremltools' ``linear_quantize_weights`` pass calls for every weight (via
``compute_qparams_by_dtype`` → ``quantize_weight_by_dtype``). It computes in the weight's
dtype, so for float16 weights every step (span, scale, quotient) is rounded to float16.

One documented difference: where coremltools' scale comes out 0 (all-zero block, or a range
that underflows the dtype) it divides 0/0, stores scale 0 and NaN-cast codes; quantd stores
scale 1 and codes equal to the zero point. Both dequantize to zeros.

The CLI tests need the quantd binary (``QUANTD_BIN``, default ``<repo>/.build/debug/quantd``);
the oracle self-checks at the top run without it.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dequantize import dequantize, dequantize_tensor, expand_to, linear_parts, load_artifact  # noqa: E402
from quantd_cli import run_quantd  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from coremltools.optimize.coreml._quantization_passes import linear_quantize_weights

WEIGHT_THRESHOLD = 2048

DTYPES = {"int8": (8, True), "uint8": (8, False), "int4": (4, True), "uint4": (4, False)}
SAFETENSORS_DTYPE = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32"}


# ---------------------------------------------------------------------------------------------
# coremltools as the reference


def coremltools_quantize(weight, mode, dtype, block_sizes):
    """coremltools' (codes, scale, zero_point) with scale shaped like the block grid."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = linear_quantize_weights.blockwise_compress_by_dtype(weight, dtype, mode.upper(), block_sizes)
    assert result is not None, f"coremltools refused block sizes {block_sizes} for {weight.shape}"
    return result.data, result.scale, result.offset


def quant_range(mode, dtype):
    """coremltools' ``get_quant_range``."""
    bits, signed = DTYPES[dtype]
    levels = 2**bits
    if signed:
        return (-levels // 2 + (1 if mode == "linear_symmetric" else 0)), levels // 2 - 1
    return 0, levels - 1 - (1 if mode == "linear_symmetric" else 0)


def degenerate_zero_point(mode, dtype):
    """The zero point quantd gives blocks whose coremltools scale is 0."""
    _, signed = DTYPES[dtype]
    return quant_range(mode, dtype)[1] // 2 if mode == "linear_symmetric" and not signed else 0


def expected_quantd(weight, mode, dtype, block_sizes):
    """coremltools' result with quantd's rule for zero-scale blocks applied."""
    codes, scale, zero_point = coremltools_quantize(weight, mode, dtype, block_sizes)
    codes, scale = codes.copy(), scale.copy()
    degenerate = scale == 0
    if degenerate.any():
        filler = degenerate_zero_point(mode, dtype)
        codes[expand_to(degenerate, weight.shape)] = filler
        scale[degenerate] = 1
        if zero_point is not None:
            zero_point = zero_point.copy()
            zero_point[degenerate] = filler
    return codes, scale, zero_point


def block_sizes_for(shape, granularity, block_size=32):
    """coremltools' ``infer_block_sizes`` for conv/linear weights (output axis 0, input axis 1)."""
    sizes = [0] * len(shape)
    if granularity == "per_channel":
        sizes[0] = 1
    elif granularity == "per_block":
        sizes[1] = block_size
        sizes[0] = 1
    return sizes


# ---------------------------------------------------------------------------------------------
# Test tensors


def ties(rng, shape):
    """Every value a .5 tie in code units: each channel's first element is 127·2^-6, so the
    symmetric int8 scale is exactly 2^-6, and the rest are (n + 0.5)·2^-6."""
    values = (rng.integers(-126, 126, shape) + 0.5).reshape(shape[0], -1)
    values[:, 0] = 127
    return values.reshape(shape) * 2.0**-6


def make_tensors(seed=20240611):
    """Every case the brief names, fp16 and fp32, ranks 2 and 4, all above the threshold."""
    rng = np.random.default_rng(seed)
    shapes = {"r2": (96, 64), "r4": (32, 16, 3, 3)}
    makers = {
        "normal": lambda s: rng.normal(0, 0.05, s),
        "student_t": lambda s: rng.standard_t(2.5, s) * 0.02,
        "outliers": lambda s: np.where(rng.random(s) < 0.002, rng.normal(0, 4, s), rng.normal(0, 0.02, s)),
        "zeros": lambda s: np.zeros(s),
        "constant": lambda s: np.full(s, 0.3125),
        "tiny": lambda s: rng.normal(0, 1e-8, s),
        "zero_rows": lambda s: rng.normal(0, 1, s) * (np.arange(s[0]) % 4 != 0).reshape((-1,) + (1,) * (len(s) - 1)),
        "ties": lambda s: ties(rng, s),
    }
    tensors = {}
    for kind, make in makers.items():
        for rank, shape in shapes.items():
            for dtype in (np.float16, np.float32):
                tensors[f"{kind}.{rank}.{np.dtype(dtype).name}"] = np.ascontiguousarray(make(shape).astype(dtype))
    # Each row holds the pair whose float16 quotient 115.485 → 115.5 rounds to 116, not 115.
    pairs = np.clip(rng.normal(0, 0.05, shapes["r2"]), -0.4, 0.4)
    pairs[:, :2] = [0.446, 0.4055]
    tensors["quotient_rounding.r2.float16"] = pairs.astype(np.float16)
    # Left alone by quantd: rank 1, and not more elements than the threshold.
    tensors["bias.f32"] = rng.normal(0, 1, (64,)).astype(np.float32)
    tensors["small.f16"] = rng.normal(0, 1, (32, 64)).astype(np.float16)
    return tensors


def quantized_names(tensors):
    return [n for n, t in tensors.items() if t.ndim >= 2 and t.size > WEIGHT_THRESHOLD]


# ---------------------------------------------------------------------------------------------
# Oracle self-checks (no CLI): the semantics quantd implements, restated and checked against
# coremltools itself.


def restated_coremltools(weight, mode, dtype, block_sizes):
    """The formulas as quantd implements them: each step computed in float32, then rounded
    to the weight's dtype (what numpy does for float16), round half to even, clip."""
    dt = weight.dtype
    r = lambda x: np.asarray(x, np.float32).astype(dt).astype(np.float32)  # noqa: E731
    qmin, qmax = quant_range(mode, dtype)
    new_shape, scale_shape, keep = [], [], []
    for size, block in zip(weight.shape, block_sizes):
        block = block or size
        keep.append(len(new_shape))
        new_shape += [size // block, block]
        scale_shape.append(size // block)
    axes = tuple(i for i in range(len(new_shape)) if i not in keep)
    w = weight.reshape(new_shape).astype(np.float32)
    lo, hi = w.min(axis=axes, keepdims=True), w.max(axis=axes, keepdims=True)
    if mode == "linear_symmetric":
        hi = np.maximum(np.abs(lo), np.abs(hi))
        lo = -hi
    else:
        lo, hi = np.minimum(0, lo), np.maximum(0, hi)
    span = r(hi - lo)
    scale = r(span / np.float32(qmax - qmin))
    with np.errstate(all="ignore"):
        if mode == "linear":
            zp = r(r(r(np.float32(qmin) * hi) - r(np.float32(qmax) * lo)) / span)
            zp = np.clip(np.rint(zp), qmin, qmax)
        elif not DTYPES[dtype][1]:
            zp = np.full(scale.shape, qmax // 2, np.float32)
        else:
            zp = np.zeros(scale.shape, np.float32)
        codes = np.clip(np.rint(r(w / scale)) + zp, qmin, qmax)
    valid = scale != 0
    return codes.reshape(weight.shape), scale.reshape(scale_shape), zp.reshape(scale_shape), valid.reshape(scale_shape)


ORACLE_CONFIGS = [(m, d, g) for m in ("linear_symmetric", "linear") for d in DTYPES
                  for g in ("per_tensor", "per_channel", "per_block")]


@pytest.mark.parametrize("mode,dtype,granularity", ORACLE_CONFIGS)
def test_restated_formulas_agree_with_coremltools(mode, dtype, granularity):
    tensors = make_tensors(seed=7)
    for name in quantized_names(tensors):
        weight = tensors[name]
        sizes = block_sizes_for(weight.shape, granularity, block_size=8)
        codes, scale, zero_point = coremltools_quantize(weight, mode, dtype, sizes)
        mine, my_scale, my_zp, valid = restated_coremltools(weight, mode, dtype, sizes)
        where = expand_to(valid, weight.shape)
        assert np.array_equal(scale[valid], my_scale[valid].astype(weight.dtype)), name
        assert np.array_equal(codes[where], mine[where]), name
        if zero_point is not None:
            assert np.array_equal(zero_point[valid], my_zp[valid]), name


def test_float16_division_is_rounded_before_np_round():
    # 0.4055 / 0.003511 is 115.485 exactly but 115.5 in float16, so coremltools yields 116.
    weight = np.array([[0.446, 0.4055]], np.float16)
    codes, scale, _ = coremltools_quantize(weight, "linear_symmetric", "int8", [1, 0])
    assert codes.tolist() == [[127, 116]]
    assert np.rint(np.float32(weight[0, 1]) / np.float32(scale[0, 0])) == 115


def test_coremltools_scale_is_zero_for_all_zero_channels():
    # The behaviour quantd deliberately replaces with scale 1 (see module docstring).
    weight = np.zeros((2, 4), np.float32)
    weight[1] = [1, -2, 0.5, 3]
    _, scale, _ = coremltools_quantize(weight, "linear_symmetric", "int8", [1, 0])
    assert scale[0, 0] == 0 and scale[1, 0] == np.float32(6) / np.float32(254)


# ---------------------------------------------------------------------------------------------
# The quantd CLI against coremltools



@pytest.fixture(scope="module")
def w8_artifact(tmp_path_factory):
    tensors = make_tensors()
    artifact, metadata, path = run_quantd(tmp_path_factory.mktemp("w8"), tensors, "--preset", "w8")
    return tensors, artifact, metadata, path


def test_w8_codes_and_scales_match_coremltools(w8_artifact):
    tensors, artifact, metadata, _ = w8_artifact
    names = quantized_names(tensors)
    assert names
    for name in names:
        weight = tensors[name]
        codes, scale, zero_point = expected_quantd(weight, "linear_symmetric", "int8", block_sizes_for(weight.shape, "per_channel"))
        assert zero_point is None
        got = artifact[name]
        assert got.dtype == np.int8 and got.shape == weight.shape, name
        assert np.array_equal(got, codes), f"{name}: {np.count_nonzero(got != codes)} codes differ"
        got_scale = artifact[name + "::scale"]
        assert got_scale.dtype == weight.dtype, name
        assert got_scale.shape == (weight.shape[0],) + (1,) * (weight.ndim - 1), name
        assert np.array_equal(got_scale.view(np.uint8), scale.astype(weight.dtype).view(np.uint8)), name
        assert name + "::zero_point" not in artifact, name


def test_w8_metadata_describes_each_quantized_tensor(w8_artifact):
    tensors, _, metadata, _ = w8_artifact
    for name in quantized_names(tensors):
        info = json.loads(metadata["quantd:" + name])
        assert info["mode"] == "linear_symmetric" and info["dtype"] == "int8", name
        assert info["granularity"] == "per_channel", name
        assert info.get("axis", info.get("output_axis")) == 0, name
        assert info["original_dtype"] == SAFETENSORS_DTYPE[tensors[name].dtype], name


def test_small_and_rank_one_tensors_are_copied_unchanged(w8_artifact):
    tensors, artifact, metadata, _ = w8_artifact
    for name in ("bias.f32", "small.f16"):
        assert artifact[name].dtype == tensors[name].dtype
        assert np.array_equal(artifact[name].view(np.uint8), tensors[name].view(np.uint8))
        assert "quantd:" + name not in metadata
        assert name + "::scale" not in artifact


def test_w8_round_trip_error_is_at_most_half_a_scale(w8_artifact):
    tensors, artifact, _, path = w8_artifact
    restored = dequantize(path)
    for name in quantized_names(tensors):
        weight = tensors[name].astype(np.float64)
        scale = expand_to(artifact[name + "::scale"].astype(np.float64), weight.shape)
        error = np.abs(weight - restored[name])
        if tensors[name].dtype == np.float32:
            # q = rint(w/s) within [-127, 127], and |w/s| ≤ 127 up to float32 rounding.
            bound = scale * (0.5 + 1e-5)
        else:
            # float16 rounds w/s before rint (up to 2^-11·128 code units) and a subnormal
            # scale can clip far; such scales only occur for weights below ~1e-3.
            bound = np.where(scale >= 2.0**-14, scale * (0.5 + 2.0**-4), np.inf)
        assert np.all(error <= bound), f"{name}: worst {error.max()} vs scale {scale.max()}"


OTHER_CONFIGS = [
    ("w8-asymmetric", ["--preset", "w8-asymmetric"], "linear", "uint8", "per_channel", 0),
    ("w8-per-tensor", ["--preset", "w8-per-tensor"], "linear_symmetric", "int8", "per_tensor", 0),
    ("w4-block32", ["--preset", "w4-block32"], "linear_symmetric", "int4", "per_block", 32),
    ("uint4-linear-per-channel", ["--config", json.dumps({"config_type": "OpLinearQuantizerConfig", "global_config": {
        "mode": "linear", "dtype": "uint4", "granularity": "per_channel"}})], "linear", "uint4", "per_channel", 0),
    ("int4-per-tensor", ["--config", json.dumps({"global_config": {"dtype": "int4", "granularity": "per_tensor"}})],
     "linear_symmetric", "int4", "per_tensor", 0),
    ("int8-per-block", ["--config", json.dumps({"config_type": "OpLinearQuantizerConfig", "global_config": {
        "mode": "linear_symmetric", "dtype": "int8", "granularity": "per_block", "block_size": 8}})],
     "linear_symmetric", "int8", "per_block", 8),
]


@pytest.mark.parametrize("label,options,mode,dtype,granularity,block_size", OTHER_CONFIGS, ids=[c[0] for c in OTHER_CONFIGS])
def test_other_configs_match_coremltools(tmp_path, label, options, mode, dtype, granularity, block_size):
    tensors = make_tensors(seed=3)
    artifact, metadata, _ = run_quantd(tmp_path, tensors, *options)
    for name in quantized_names(tensors):
        weight = tensors[name]
        sizes = block_sizes_for(weight.shape, granularity, block_size)
        if any(b and d % b for d, b in zip(weight.shape, sizes)):
            assert artifact[name].dtype == weight.dtype, f"{name}: blocks that do not divide must leave it unchanged"
            continue
        codes, scale, zero_point = expected_quantd(weight, mode, dtype, sizes)
        got_codes, got_scale, got_zp = linear_parts(artifact, metadata, name)
        assert np.array_equal(got_codes, codes), f"{label} {name}: {np.count_nonzero(got_codes != codes)} codes differ"
        assert got_scale.shape == scale.shape, name
        assert np.array_equal(got_scale.view(np.uint8), scale.astype(weight.dtype).view(np.uint8)), f"{label} {name}"
        expected_zp = zero_point if zero_point is not None else np.zeros(scale.shape, codes.dtype)
        if got_zp is None:
            assert not np.any(expected_zp), f"{label} {name}: non-zero zero points missing"
        else:
            assert np.array_equal(got_zp, expected_zp.astype(got_zp.dtype)), f"{label} {name}"
        restored = dequantize_tensor(got_codes, got_scale, got_zp)
        reference = dequantize_tensor(codes, scale.astype(weight.dtype), zero_point)
        assert np.array_equal(restored, reference), name
