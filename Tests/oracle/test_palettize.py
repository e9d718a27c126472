"""quantd's palettization against coremltools' own implementation.

The reference is ``palettize_weights.blockwise_compress``, the function coremltools'
``palettize_weights`` pass calls for every weight (per tensor: all block sizes 0; per grouped
channel: ``group_size`` on the channel axis), and ``lut_to_dense`` to expand its result.

- kmeans: coremltools runs scikit-learn's k-means++ once; quantd computes the optimal 1-D
  k-means, so its squared error must never be larger (vectors: seeded k-means++ and Lloyd to
  convergence, also never larger). LUTs differ, so only errors are compared.
- uniform and unique: quantd must give the same LUT and the same indices.
- enable_per_channel_scale: as coremltools 9's ``palettize_weights.transform_op`` computes it,
  ``np.max(np.abs(w), axis=channel_axis, keepdims=True)`` (1 where zero): it reduces *over* the
  channel axis, so there is one scale per position of the other axes (shape ``[1, C_in, …]``
  for conv/linear), not one per output channel as the config's documentation suggests (see
  ``test_coremltools_per_channel_scale_reduces_over_the_channel_axis``). The weight is divided
  by it in its dtype before palettizing.

The artifact layout (``dequantize.palettized_parts``): ``N`` = indices packed LSB-first at
``nbits`` bits in ``lut_to_dense`` order, ``N::lut`` = ``[groups, 2^nbits, cluster_dim]`` in the
weight's dtype, ``N::scale`` = the per-channel scale above (same rank as the weight, 1 on the
channel axis) when enabled.

The CLI tests need the quantd binary (``QUANTD_BIN``, default ``<repo>/.build/debug/quantd``);
the oracle self-checks at the top run without it.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dequantize import (  # noqa: E402
    dequantize,
    expand_to,
    load_artifact,
    lut_to_dense,
    palettized_parts,
)
from quantd_cli import run_quantd_config  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from coremltools.optimize import _utils as ct_utils
    from coremltools.optimize.coreml._quantization_passes import palettize_weights

WEIGHT_THRESHOLD = 2048
NBITS = (1, 2, 3, 4, 6, 8)
SAFETENSORS_DTYPE = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32"}
# Squared errors are sums of float64 terms; identical reconstructions give identical sums, so
# this only absorbs summation order.
RELATIVE_SLACK = 1e-12


# ---------------------------------------------------------------------------------------------
# coremltools as the reference


def coremltools_palettize(weight, mode, nbits=None, granularity="per_tensor", group_size=32, channel_axis=0,
                          cluster_dim=1):
    """coremltools' ``LutParams`` (indices in the weight's shape, LUT of rank + 2, vector axis)."""
    axis = channel_axis % weight.ndim
    block_sizes = [0] * weight.ndim
    if granularity == "per_grouped_channel":
        block_sizes[axis] = group_size
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = palettize_weights.blockwise_compress(weight, mode.upper(), nbits, block_sizes, None, cluster_dim,
                                                      channel_axis=axis)
    assert params is not None, f"coremltools refused {mode} {nbits} {granularity} for {weight.shape}"
    return params


def coremltools_dense(params):
    return ct_utils.lut_to_dense(params.indices, params.lut, params.vector_axis).astype(np.float64)


def squared_error(reconstructed, weight):
    return float(np.sum((np.asarray(reconstructed, np.float64) - weight.astype(np.float64)) ** 2))


def coremltools_transform_scale(weight, axis=0):
    """The scale coremltools 9's ``palettize_weights.transform_op`` computes, verbatim."""
    scale = np.max(np.abs(weight), axis=axis, keepdims=True)
    scale[scale == 0] = 1
    return scale


def coremltools_scaled_error(weight, scale, nbits, mode="kmeans"):
    """Squared error of coremltools' kmeans on ``weight / scale`` (in the weight's dtype)."""
    normalized = weight / scale
    dense = coremltools_dense(coremltools_palettize(normalized, mode, nbits))
    return squared_error(dense * scale.astype(np.float64), weight)


# ---------------------------------------------------------------------------------------------
# Test tensors


SHAPES = {"r2": (64, 48), "r4": (32, 8, 3, 3)}


def make_tensors(seed=20240611):
    """Each kind the brief names, float16 and float32, ranks 2 and 4, all above the threshold."""
    rng = np.random.default_rng(seed)
    makers = {
        "normal": lambda s: rng.normal(0, 0.05, s),
        "student_t": lambda s: rng.standard_t(2.5, s) * 0.02,
        "outliers": lambda s: np.where(rng.random(s) < 0.002, rng.normal(0, 4, s), rng.normal(0, 0.02, s)),
        "zeros": lambda s: np.zeros(s),
        "constant": lambda s: np.full(s, 0.3125),
        "tiny": lambda s: rng.normal(0, 1e-8, s),
    }
    tensors = {}
    for kind, make in makers.items():
        for rank, shape in SHAPES.items():
            for dtype in (np.float16, np.float32):
                tensors[f"{kind}.{rank}.{np.dtype(dtype).name}"] = np.ascontiguousarray(make(shape).astype(dtype))
    return tensors


def make_lattice_tensors(seed=5):
    """Weights already on a lattice, for unique mode: 3, 16 and 200 distinct values."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for levels in (3, 16, 200):
        for rank, shape in SHAPES.items():
            for dtype in (np.float16, np.float32):
                values = (rng.integers(0, levels, shape) - levels // 2) * 0.0625
                tensors[f"lattice{levels}.{rank}.{np.dtype(dtype).name}"] = values.astype(dtype)
    return tensors


def palettized_names(tensors):
    return [n for n, t in tensors.items() if t.ndim >= 2 and t.size > WEIGHT_THRESHOLD]


# ---------------------------------------------------------------------------------------------
# Oracle self-checks (no CLI): the semantics quantd implements, checked against coremltools.


def restated_uniform(weight, nbits):
    """coremltools' ``compress_uniform`` as quantd computes it: every step in float32 rounded
    to the weight's dtype, the LUT in float64 rounded once."""
    dt = weight.dtype
    r = lambda x: np.asarray(x, np.float32).astype(dt)  # noqa: E731
    flat = weight.reshape(-1)
    low, high = flat.min(), flat.max()
    levels = (1 << nbits) - 1
    span = r(np.float32(high) - np.float32(low))
    scale = r(np.float32(span) / np.float32(levels))
    lut = (np.arange(1 << nbits, dtype=np.float64) * np.float64(scale) + np.float64(low)).astype(dt)
    with np.errstate(all="ignore"):
        fraction = r(r(r(flat.astype(np.float32) - np.float32(low)).astype(np.float32) / np.float32(span)).astype(np.float32) * levels)
        indices = np.where(span == 0, 0, np.rint(fraction.astype(np.float32))).astype(np.uint8)
    return lut, indices


@pytest.mark.parametrize("nbits", NBITS)
def test_restated_uniform_matches_coremltools(nbits):
    for name, weight in make_tensors(seed=7).items():
        if name.startswith(("zeros", "constant")):
            continue  # coremltools casts 0/0 to uint8; quantd's rule (index 0) is checked via the CLI
        params = coremltools_palettize(weight, "uniform", nbits)
        lut, indices = restated_uniform(weight, nbits)
        assert np.array_equal(params.lut.reshape(-1), lut), name
        assert np.array_equal(params.indices.reshape(-1).astype(np.uint8), indices), name


def test_unique_mode_picks_the_fewest_supported_bits():
    weight = np.array([[0.5, -1, 0.5, 2, 2, -1, 0.5, 7, 0.5, 2, 3, 3]], np.float32)
    params = coremltools_palettize(weight, "unique")
    assert params.lut.shape[-2] == 8  # five values: 3 bits, the first of (1, 2, 3, 4, 6, 8) that fits
    assert np.array_equal(params.lut.reshape(-1)[:5], [-1, 0.5, 2, 3, 7])
    assert not params.lut.reshape(-1)[5:].any()


@pytest.mark.parametrize("axis,group_size,cluster_dim", [(0, 16, 1), (1, 4, 1), (0, 8, 2), (1, 8, 4), (0, 0, 4)])
def test_numpy_lut_to_dense_matches_coremltools(axis, group_size, cluster_dim):
    weight = make_tensors(seed=9)["normal.r4.float16"]
    params = coremltools_palettize(weight, "kmeans", 2, "per_grouped_channel", group_size, axis, cluster_dim)
    expected = coremltools_dense(params)
    assert np.array_equal(lut_to_dense(params.indices.astype(np.uint8), params.lut, axis), expected)


def artifact_from_coremltools(weight, params, nbits, axis, cluster_dim):
    """The artifact layout built from coremltools' own LUT and indices."""
    lut = np.moveaxis(params.lut, axis, 0)
    lut = lut.reshape(lut.shape[0], lut.shape[-2], lut.shape[-1])
    packed = ct_utils.pack_elements_into_bits(params.indices.astype(np.uint8).reshape(-1), nbits)
    info = {"mode": "palettize", "algorithm": "kmeans", "nbits": nbits, "granularity": "per_grouped_channel",
            "channel_axis": axis, "cluster_dim": cluster_dim, "original_dtype": SAFETENSORS_DTYPE[weight.dtype],
            "shape": list(weight.shape), "lut": "::lut", "scale": None}
    return {"w": packed, "w::lut": lut}, {"quantd:w": json.dumps(info)}


@pytest.mark.parametrize("nbits,axis,cluster_dim", [(1, 0, 1), (3, 1, 1), (6, 0, 1), (2, 0, 2), (3, 1, 4)])
def test_dequantizer_reads_coremltools_results_in_the_artifact_layout(tmp_path, nbits, axis, cluster_dim):
    weight = make_tensors(seed=4)["student_t.r4.float32"]
    params = coremltools_palettize(weight, "kmeans", nbits, "per_grouped_channel", 8, axis, cluster_dim)
    tensors, metadata = artifact_from_coremltools(weight, params, nbits, axis, cluster_dim)
    path = tmp_path / "ct.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    assert np.array_equal(dequantize(str(path))["w"], coremltools_dense(params))


def test_coremltools_per_channel_scale_reduces_over_the_channel_axis():
    # transform_op's scale for a linear weight [2, 3] with channel_axis 0: one per column.
    weight = np.array([[1.0, -8.0, 0.0], [4.0, 2.0, -0.0]], np.float32)
    assert coremltools_transform_scale(weight, 0).tolist() == [[4.0, 8.0, 1.0]]


# ---------------------------------------------------------------------------------------------
# The quantd CLI against coremltools


def run_quantd(tmp_path, tensors, config):
    """The palettized artifact of ``config`` (an OpPalettizerConfig), its metadata, and the
    dequantized tensors."""
    artifact, metadata, path = run_quantd_config(tmp_path, tensors, {"config_type": "OpPalettizerConfig", "global_config": config})
    return artifact, metadata, dequantize(path)


def check_artifact(weight, name, artifact, metadata, restored, config):
    """Metadata and layout of one palettized tensor; returns (indices, ct-shaped LUT, scale)."""
    info = json.loads(metadata["quantd:" + name])
    assert info["mode"] == "palettize", name
    assert info["algorithm"] == config.get("mode", "kmeans"), name
    assert info["granularity"] == config.get("granularity", "per_tensor"), name
    assert info["cluster_dim"] == config.get("cluster_dim", 1), name
    assert info["original_dtype"] == SAFETENSORS_DTYPE[weight.dtype], name
    assert list(info["shape"]) == list(weight.shape), name
    if "nbits" in config:
        assert info["nbits"] == config["nbits"], name
    indices, lut, scale = palettized_parts(artifact, info, name)
    assert artifact[name + "::lut"].dtype == weight.dtype, name
    assert artifact[name + "::lut"].shape[1:] == (1 << info["nbits"], info["cluster_dim"]), name
    assert artifact[name].dtype == np.uint8, name
    assert artifact[name].size == (indices.size * info["nbits"] + 7) // 8, name
    # coremltools' own lut_to_dense on our LUT and indices is our reconstruction.
    dense = ct_utils.lut_to_dense(indices, lut, info["channel_axis"] if info["cluster_dim"] > 1 else None)
    unscaled = restored[name] if scale is None else restored[name] / expand_to(scale.astype(np.float64), weight.shape)
    assert np.allclose(dense.astype(np.float64), unscaled, rtol=1e-12, atol=0), name
    if scale is None:
        assert np.array_equal(dense.astype(np.float64), restored[name]), name
    return indices, lut, scale, info


KMEANS_CONFIGS = [{"mode": "kmeans", "nbits": b} for b in NBITS] + \
                 [{"mode": "kmeans", "nbits": b, "granularity": "per_grouped_channel", "group_size": 16} for b in NBITS]


@pytest.mark.parametrize("config", KMEANS_CONFIGS, ids=lambda c: f"{c.get('granularity', 'per_tensor')}-{c['nbits']}bit")
def test_kmeans_error_is_at_most_coremltools(tmp_path, config):
    tensors = make_tensors()
    artifact, metadata, restored = run_quantd(tmp_path, tensors, config)
    for name in palettized_names(tensors):
        weight = tensors[name]
        check_artifact(weight, name, artifact, metadata, restored, config)
        params = coremltools_palettize(weight, "kmeans", config["nbits"], config.get("granularity", "per_tensor"),
                                       config.get("group_size", 32))
        ours, theirs = squared_error(restored[name], weight), squared_error(coremltools_dense(params), weight)
        assert ours <= theirs * (1 + RELATIVE_SLACK), f"{name}: quantd {ours} > coremltools {theirs}"


UNIFORM_UNIQUE_CONFIGS = [
    ({"mode": "uniform", "nbits": 4}, make_tensors),
    ({"mode": "uniform", "nbits": 3, "granularity": "per_grouped_channel", "group_size": 8}, make_tensors),
    ({"mode": "uniform", "nbits": 8, "granularity": "per_grouped_channel", "group_size": 4, "channel_axis": 1}, make_tensors),
    ({"mode": "unique"}, make_lattice_tensors),
    ({"mode": "unique", "granularity": "per_grouped_channel", "group_size": 8}, make_lattice_tensors),
    ({"mode": "unique", "cluster_dim": 2}, make_lattice_tensors),
]


@pytest.mark.parametrize("config,make", UNIFORM_UNIQUE_CONFIGS, ids=lambda c: json.dumps(c) if isinstance(c, dict) else "")
def test_uniform_and_unique_match_coremltools_exactly(tmp_path, config, make):
    tensors = make()
    if config.get("cluster_dim", 1) > 1:
        tensors = {n: t for n, t in tensors.items() if not n.startswith("lattice200")}  # > 256 distinct vectors
    artifact, metadata, restored = run_quantd(tmp_path, tensors, config)
    for name in palettized_names(tensors):
        weight = tensors[name]
        indices, lut, _, info = check_artifact(weight, name, artifact, metadata, restored, config)
        params = coremltools_palettize(weight, config["mode"], config.get("nbits"), config.get("granularity", "per_tensor"),
                                       config.get("group_size", 32), config.get("channel_axis", 0), config.get("cluster_dim", 1))
        assert info["nbits"] == int(np.log2(params.lut.shape[-2])), name
        assert np.array_equal(lut, params.lut), f"{name}: LUTs differ"
        if name.startswith(("zeros", "constant")):
            # coremltools divides 0 by 0 and casts NaN to uint8; quantd uses index 0, the same LUT entry.
            assert not indices.any(), name
            continue
        assert np.array_equal(indices, params.indices.astype(np.uint8)), f"{name}: {np.count_nonzero(indices != params.indices)} indices differ"


def test_per_channel_scale_error_is_at_most_coremltools(tmp_path):
    config = {"mode": "kmeans", "nbits": 4, "enable_per_channel_scale": True}
    tensors = make_tensors(seed=13)
    artifact, metadata, restored = run_quantd(tmp_path, tensors, config)
    for name in palettized_names(tensors):
        weight = tensors[name]
        _, _, scale, info = check_artifact(weight, name, artifact, metadata, restored, config)
        assert scale is not None and scale.dtype == weight.dtype, name
        assert np.array_equal(scale, coremltools_transform_scale(weight)), name
        ours = squared_error(restored[name], weight)
        theirs = coremltools_scaled_error(weight, coremltools_transform_scale(weight), 4)
        assert ours <= theirs * (1 + RELATIVE_SLACK), f"{name}: quantd {ours} > coremltools {theirs}"


VECTOR_CONFIGS = [
    {"mode": "kmeans", "nbits": 4, "cluster_dim": 2},
    {"mode": "kmeans", "nbits": 3, "cluster_dim": 4},
    {"mode": "kmeans", "nbits": 2, "cluster_dim": 4, "granularity": "per_grouped_channel", "group_size": 16},
    {"mode": "kmeans", "nbits": 4, "cluster_dim": 2, "granularity": "per_grouped_channel", "group_size": 8, "channel_axis": 1},
]


@pytest.mark.parametrize("config", VECTOR_CONFIGS, ids=lambda c: json.dumps(c))
def test_vector_error_is_at_most_coremltools(tmp_path, config):
    tensors = make_tensors(seed=17)
    artifact, metadata, restored = run_quantd(tmp_path, tensors, config)
    for name in palettized_names(tensors):
        weight = tensors[name]
        indices, _, _, info = check_artifact(weight, name, artifact, metadata, restored, config)
        expected_shape = list(weight.shape)
        expected_shape[info["channel_axis"]] //= config["cluster_dim"]
        assert list(indices.shape) == expected_shape, name
        params = coremltools_palettize(weight, "kmeans", config["nbits"], config.get("granularity", "per_tensor"),
                                       config.get("group_size", 32), config.get("channel_axis", 0), config["cluster_dim"])
        ours, theirs = squared_error(restored[name], weight), squared_error(coremltools_dense(params), weight)
        assert ours <= theirs * (1 + RELATIVE_SLACK), f"{name}: quantd {ours} > coremltools {theirs}"


def test_small_and_rank_one_tensors_are_copied_unchanged(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"bias": rng.normal(0, 1, (4096,)).astype(np.float32), "small": rng.normal(0, 1, (32, 64)).astype(np.float16),
               "weight": rng.normal(0, 1, (64, 64)).astype(np.float16)}
    artifact, metadata, _ = run_quantd(tmp_path, tensors, {"mode": "kmeans", "nbits": 4})
    for name in ("bias", "small"):
        assert np.array_equal(artifact[name].view(np.uint8), tensors[name].view(np.uint8)), name
        assert "quantd:" + name not in metadata and name + "::lut" not in artifact, name
    assert "quantd:weight" in metadata
