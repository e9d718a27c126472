"""quantd's pruning against coremltools' own implementation.

The references are ``prune_weights.compress_by_threshold``, ``compress_by_magnitude`` (with and
without ``block_size``) and ``compress_by_nm_sparsity``, the functions coremltools'
``prune_weights`` pass calls for every weight. Their result is a mask ``pruned != 0`` packed
LSB-first and the surviving values; quantd's artifact stores the same two things
(``N::mask`` and ``N``).

Semantics the self-checks below restate and pin down (numpy 2.2, NEP 50 promotion):

- threshold: ``|w| <= threshold`` with the Python float rounded to the weight's dtype first.
- magnitude: ``|w| <= np.percentile(|w|, 100 * target)``. A threshold, so all ties at the cut go
  together; the percentile's index arithmetic ``(n - 1) * q`` runs in the weight's dtype.
- block: the same on each element's block L2 norm, computed in the dtype: squares rounded, then
  a sequential sum rounded per step, except when the block axis is innermost in memory (nothing
  after ``dim``), where numpy's pairwise sum accumulates in float and rounds once.
- n:m: ``np.argsort(|w|)[:, :n]`` per run of m along ``dim`` (default 1), padding zeros counted.
  Ties go in index order (numpy's insertion sort for float16 runs of at most 16); float32 uses a
  SIMD argsort whose tie order is CPU-dependent, so float32 fixtures are tie-free.

One documented difference: for float16 tensors of more than 65520 elements ``n - 1`` overflows
float16, the percentile is NaN and coremltools prunes nothing; quantd computes the percentile in
float32 there, i.e. exactly what coremltools does for the same weights as float32.

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
from dequantize import dequantize, load_artifact  # noqa: E402
from quantd_cli import run_quantd_config  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from coremltools.optimize.coreml._quantization_passes import prune_weights

WEIGHT_THRESHOLD = 2048
FLOAT16_INDEX_LIMIT = 65520  # (n - 1) at or above this is infinite in float16
SAFETENSORS_DTYPE = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32"}


# ---------------------------------------------------------------------------------------------
# coremltools as the reference


def coremltools_prune(weight, config):
    """coremltools' (mask, values) for one op config dict, or None where it skips the weight."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "threshold" in config or "minimum_sparsity_percentile" in config:
            result = prune_weights.compress_by_threshold(
                weight, config.get("threshold", 1e-12), config.get("minimum_sparsity_percentile", 0.5))
        elif "n_m_ratio" in config:
            result = prune_weights.compress_by_nm_sparsity(weight, tuple(config["n_m_ratio"]), config.get("dim", 1))
        else:
            block = config.get("block_size")
            result = prune_weights.compress_by_magnitude(
                weight, config["target_sparsity"], block, config.get("dim", 0) if block else None)
    if result is None:
        return None
    return result.mask, result.nonzero_data


def expected_quantd(weight, config):
    """coremltools' result with quantd's float16 percentile rule applied."""
    large_float16 = weight.dtype == np.float16 and weight.size - 1 >= FLOAT16_INDEX_LIMIT
    if large_float16 and "target_sparsity" in config:
        result = coremltools_prune(weight.astype(np.float32), config)
        if "block_size" in config:
            raise ValueError("block sparsity on large float16 tensors keeps float16 norms; not restated here")
        return None if result is None else (result[0], result[1].astype(np.float16))
    return coremltools_prune(weight, config)


def unpack_mask(mask, count):
    return np.unpackbits(mask.view(np.uint8), bitorder="little")[:count].astype(bool)


# ---------------------------------------------------------------------------------------------
# Test tensors: normal weights (tie-free in float32), conv and linear shapes, above the threshold.


def make_tensors(seed=20240612):
    rng = np.random.default_rng(seed)
    shapes = {"r2": (96, 64), "r4": (32, 16, 3, 3), "r4_1x1": (48, 64, 1, 1)}
    tensors = {}
    for rank, shape in shapes.items():
        for dtype in (np.float16, np.float32):
            values = rng.normal(0, 0.05, shape) * rng.choice([0.01, 1, 10], shape)
            tensors[f"{rank}.{np.dtype(dtype).name}"] = np.ascontiguousarray(values.astype(dtype))
    # More elements than float16's percentile index can count.
    tensors["large.float16"] = rng.normal(0, 0.05, (256, 300)).astype(np.float16)
    # Left alone: rank 1, and not more elements than the threshold.
    tensors["bias.f32"] = rng.normal(0, 1, (64,)).astype(np.float32)
    tensors["small.f16"] = rng.normal(0, 1, (32, 64)).astype(np.float16)
    return tensors


def pruned_names(tensors):
    return [n for n, t in tensors.items() if t.ndim >= 2 and t.size > WEIGHT_THRESHOLD]


# ---------------------------------------------------------------------------------------------
# Oracle self-checks (no CLI): the semantics quantd implements, restated and checked against
# coremltools itself.


def restated_percentile(magnitudes, percent):
    """np.percentile's linear method with every step in the array's dtype, as numpy 2 does."""
    dt = magnitudes.dtype.type
    flat = np.sort(magnitudes.ravel())
    n = flat.size
    with np.errstate(all="ignore"):
        quantile = dt(np.float32(dt(percent)) / np.float32(100))
        last = dt(n - 1)
        virtual = dt(np.float32(last) * np.float32(quantile))
        previous = np.floor(virtual)
        following = dt(np.float32(previous) + 1)
        if virtual >= last or np.isnan(virtual):
            previous = following = -1
        gamma = dt(float(virtual) - int(previous))
        lower, upper = flat[int(previous)], flat[int(following)]
        difference = dt(np.float32(upper) - np.float32(lower))
        if gamma >= 0.5:
            return dt(np.float32(upper) - np.float32(dt(np.float32(difference) * np.float32(dt(1 - np.float32(gamma))))))
        return dt(np.float32(lower) + np.float32(dt(np.float32(difference) * np.float32(gamma))))


def restated_magnitude_mask(weight, target):
    magnitudes = np.abs(weight)
    if target == 1:
        return np.zeros(weight.size, bool)
    keep = weight.ravel() != 0
    if target == 0:
        return keep
    return keep & (magnitudes.ravel() > restated_percentile(magnitudes, target * 100))


def pairwise_sum(values):
    """numpy's pairwise_sum in float32."""
    f = np.float32
    n = len(values)
    if n < 8:
        total = f(-0.0)
        for v in values:
            total = f(total + v)
        return total
    if n <= 128:
        r = [f(v) for v in values[:8]]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] = f(r[j] + values[i + j])
            i += 8
        total = f(f(f(r[0] + r[1]) + f(r[2] + r[3])) + f(f(r[4] + r[5]) + f(r[6] + r[7])))
        for v in values[i:]:
            total = f(total + v)
        return total
    half = n // 2
    half -= half % 8
    return f(pairwise_sum(values[:half]) + pairwise_sum(values[half:]))


def restated_block_norms(weight, block, dim):
    """Each element's block norm (the magnitude map coremltools ranks)."""
    dt = weight.dtype.type
    moved = np.moveaxis(np.abs(weight), dim, 0)
    channels = moved.shape[0]
    inner_is_block_axis = int(np.prod(weight.shape[dim + 1:])) == 1
    padded = np.concatenate([moved, np.zeros(((-channels) % block,) + moved.shape[1:], moved.dtype)])
    squares = (padded * padded).astype(dt).reshape((-1, block) + moved.shape[1:])
    if inner_is_block_axis:
        flat = np.moveaxis(squares, 1, -1).reshape(-1, block)
        sums = np.array([dt(pairwise_sum(list(row.astype(np.float32)))) for row in flat], dt).reshape(squares.shape[:1] + squares.shape[2:])
    else:
        sums = squares[:, 0]
        for step in range(1, block):
            sums = (sums.astype(np.float32) + squares[:, step].astype(np.float32)).astype(dt)
    norms = np.sqrt(sums).astype(dt)
    return np.moveaxis(np.repeat(norms, block, axis=0)[:channels], 0, dim)


def restated_nm_mask(weight, n, m, dim):
    moved = np.moveaxis(weight, dim, -1)
    channels = moved.shape[-1]
    padded = np.concatenate([moved, np.zeros(moved.shape[:-1] + ((-channels) % m,), moved.dtype)], axis=-1)
    runs = np.abs(padded).reshape(-1, m)
    order = np.argsort(runs, axis=-1, kind="stable")[:, :n]
    pruned = np.zeros(runs.shape, bool)
    np.put_along_axis(pruned, order, True, axis=-1)
    pruned = np.moveaxis(pruned.reshape(padded.shape)[..., :channels], -1, dim)
    return (~pruned & (weight != 0)).ravel()


ORACLE_TENSORS = [n for n in pruned_names(make_tensors(seed=5)) if not n.startswith("large")]


@pytest.mark.parametrize("name", ORACLE_TENSORS)
@pytest.mark.parametrize("target", [0.0, 0.3, 0.5, 0.75, 0.9, 1.0])
def test_restated_magnitude_percentile_agrees_with_coremltools(name, target):
    weight = make_tensors(seed=5)[name]
    mask, _ = coremltools_prune(weight, {"target_sparsity": target})
    assert np.array_equal(unpack_mask(mask, weight.size), restated_magnitude_mask(weight, target))


@pytest.mark.parametrize("name", ORACLE_TENSORS)
@pytest.mark.parametrize("block,dim", [(2, 0), (4, 0), (2, 1), (4, 1), (3, 1)])
def test_restated_block_norms_agree_with_coremltools(name, block, dim):
    weight = make_tensors(seed=5)[name]
    seen = {}
    original = np.percentile

    def capture(values, q):
        seen["map"] = values.copy()
        return original(values, q)

    np.percentile = capture
    try:
        coremltools_prune(weight, {"target_sparsity": 0.5, "block_size": block, "dim": dim})
    finally:
        np.percentile = original
    assert np.array_equal(seen["map"], restated_block_norms(weight, block, dim))


@pytest.mark.parametrize("name", ORACLE_TENSORS)
@pytest.mark.parametrize("n,m,dim", [(2, 4, 1), (1, 4, 1), (2, 4, 0), (1, 3, 1), (3, 8, 1)])
def test_restated_nm_order_agrees_with_coremltools(name, n, m, dim):
    weight = make_tensors(seed=5)[name]
    mask, _ = coremltools_prune(weight, {"n_m_ratio": [n, m], "dim": dim})
    assert np.array_equal(unpack_mask(mask, weight.size), restated_nm_mask(weight, n, m, dim))


def test_float16_nm_ties_go_in_index_order():
    # Every run of 4 holds equal magnitudes; numpy's float16 argsort keeps index order.
    weight = np.tile(np.array([1, -1, 1, -1], np.float16), (64, 16))
    mask, _ = coremltools_prune(weight, {"n_m_ratio": [2, 4]})
    assert np.array_equal(unpack_mask(mask, weight.size), restated_nm_mask(weight, 2, 4, 1))
    assert unpack_mask(mask, weight.size)[:4].tolist() == [False, False, True, True]


def test_magnitude_ties_at_the_cut_all_go():
    # The median magnitude is 2 and three weights have it: 6 of 8 go, not 4.
    weight = np.array([[1, -1, 2, -2], [2, 3, -3, 1]], np.float32)
    mask, values = coremltools_prune(weight, {"target_sparsity": 0.5})
    assert unpack_mask(mask, 8).tolist() == [False] * 5 + [True, True, False]
    assert values.tolist() == [3, -3]


def test_threshold_is_rounded_to_float16():
    # float16(0.01) = 0.0100021…, so the float16 weight 0.01 equals it and is pruned.
    weight = np.array([[0.01, 0.02, 0.0, -0.01]], np.float16)
    mask, _ = coremltools_prune(weight, {"threshold": 0.01, "minimum_sparsity_percentile": 0.0})
    assert unpack_mask(mask, 4).tolist() == [False, True, False, False]


def test_coremltools_prunes_nothing_in_large_float16_tensors():
    # The behaviour quantd deliberately replaces (see module docstring).
    weight = make_tensors()["large.float16"]
    mask, _ = coremltools_prune(weight, {"target_sparsity": 0.5})
    assert unpack_mask(mask, weight.size).all()
    mask32, _ = coremltools_prune(weight.astype(np.float32), {"target_sparsity": 0.5})
    assert unpack_mask(mask32, weight.size).mean() == pytest.approx(0.5, abs=1e-3)


# ---------------------------------------------------------------------------------------------
# The quantd CLI against coremltools


CLI_CONFIGS = [
    ("threshold", "OpThresholdPrunerConfig", {"threshold": 0.01}),
    ("threshold-low-minimum", "OpThresholdPrunerConfig", {"threshold": 0.002, "minimum_sparsity_percentile": 0.1}),
    ("magnitude-50", "OpMagnitudePrunerConfig", {"target_sparsity": 0.5}),
    ("magnitude-83", "OpMagnitudePrunerConfig", {"target_sparsity": 0.83}),
    ("block-4-dim0", "OpMagnitudePrunerConfig", {"target_sparsity": 0.5, "block_size": 4}),
    ("block-2-dim1", "OpMagnitudePrunerConfig", {"target_sparsity": 0.6, "block_size": 2, "dim": 1}),
    ("nm-2-4", "OpMagnitudePrunerConfig", {"n_m_ratio": [2, 4]}),
    ("nm-1-4-dim0", "OpMagnitudePrunerConfig", {"n_m_ratio": [1, 4], "dim": 0}),
]


@pytest.mark.parametrize("label,config_type,config", CLI_CONFIGS, ids=[c[0] for c in CLI_CONFIGS])
def test_masks_and_values_match_coremltools(tmp_path, label, config_type, config):
    tensors = make_tensors(seed=3)
    if "block_size" in config:
        del tensors["large.float16"]
    artifact, metadata, path = run_quantd_config(tmp_path, tensors, {"config_type": config_type, "global_config": config})
    restored = dequantize(path)
    for name in pruned_names(tensors):
        weight = tensors[name]
        expected = expected_quantd(weight, config)
        if expected is None:
            # coremltools leaves it dense: quantd copies it unchanged.
            assert "quantd:" + name not in metadata, f"{label} {name}"
            assert np.array_equal(artifact[name].view(np.uint8), weight.view(np.uint8)), f"{label} {name}"
            continue
        mask, values = expected
        info = json.loads(metadata["quantd:" + name])
        assert info["mode"] == "prune" and info["original_dtype"] == SAFETENSORS_DTYPE[weight.dtype], name
        assert info["shape"] == list(weight.shape), name
        got_mask = artifact[name + info.get("mask", "::mask")]
        assert got_mask.dtype == np.uint8 and got_mask.shape == ((weight.size + 7) // 8,), name
        differ = np.count_nonzero(unpack_mask(got_mask, weight.size) != unpack_mask(mask, weight.size))
        assert differ == 0, f"{label} {name}: {differ} mask bits differ"
        got = artifact[name]
        assert got.dtype == weight.dtype and got.shape == (values.size,), name
        assert np.array_equal(got.view(np.uint8), values.astype(weight.dtype).view(np.uint8)), f"{label} {name}"
        assert info["sparsity"] == pytest.approx(1 - values.size / weight.size), name
        kept = unpack_mask(mask, weight.size).reshape(weight.shape)
        assert np.array_equal(restored[name], np.where(kept, weight.astype(np.float64), 0)), name


def test_small_and_rank_one_tensors_are_copied_unchanged(tmp_path):
    tensors = make_tensors(seed=4)
    artifact, metadata, _ = run_quantd_config(tmp_path, tensors, {"config_type": "OpMagnitudePrunerConfig",
                                                          "global_config": {"target_sparsity": 0.5}})
    for name in ("bias.f32", "small.f16"):
        assert np.array_equal(artifact[name].view(np.uint8), tensors[name].view(np.uint8))
        assert "quantd:" + name not in metadata
        assert name + "::mask" not in artifact
