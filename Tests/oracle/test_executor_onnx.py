"""quantd's executor on ONNX models, held to onnxruntime (CPU) on the same inputs.

The models (``fixtures/make_executor_models.py``) are built at test time: one-op models per op
and attribute form, then ResNet50, MobileNetV2, a BERT/MiniLM encoder and a Llama block in the
patterns torch.onnx exports, with random weights. The networks are also compressed by
``quantd compress`` in the forms it writes for ONNX (int8 DequantizeLinear, 4-bit palettes
through a Gather on the LUT, 50% pruning as sparse initializers, pruning then int8, and
com.microsoft.MatMulNBits), and the executor is held to onnxruntime on those artifacts too.

Every float output must be within a relative L2 error of 1e-4 of onnxruntime's
(‖quantd − onnxruntime‖ / ‖onnxruntime‖); integer and bool outputs must be equal. Each figure
is printed (``pytest -s``).
"""

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_executor_models as fixtures  # noqa: E402
from onnx_oracle import compress, session  # noqa: E402
from quantd_cli import run_model  # noqa: E402
from test_onnx import INT8, PRUNE50, nbits_config, palettize  # noqa: E402

RELATIVE_L2 = 1e-4

SINGLE_OPS = fixtures.single_op_cases()


def relative_l2(actual, expected):
    expected, actual = np.asarray(expected, np.float64), np.asarray(actual, np.float64)
    norm = np.linalg.norm(expected)
    error = np.linalg.norm(actual - expected)
    return float(error / norm) if norm > 0 else float(error)


def assert_matches_onnxruntime(tmp_path, path, feeds, label):
    """Runs ``path`` on ``feeds`` in quantd and onnxruntime; each output within RELATIVE_L2."""
    names = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]
    expected = dict(zip(names, session(str(path)).run(None, feeds)))
    actual = run_model(tmp_path, path, feeds)
    assert sorted(actual) == sorted(expected), f"{label}: quantd wrote {sorted(actual)}, the model outputs {sorted(expected)}"
    for name, reference in expected.items():
        got = actual[name]
        assert got.shape == reference.shape, f"{label} {name}: shape {got.shape}, onnxruntime {reference.shape}"
        if reference.dtype.kind in "biu":
            assert np.array_equal(got, reference), f"{label} {name}: integers differ from onnxruntime's"
            continue
        error = relative_l2(got, reference)
        print(f"{label} {name}: relative L2 {error:.2e}")
        assert error <= RELATIVE_L2, f"{label} {name}: relative L2 {error:.3e} > {RELATIVE_L2}"


def save(tmp_path, model, name="model.onnx"):
    path = Path(tmp_path) / name
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("case_id,model,feeds", SINGLE_OPS, ids=[case[0] for case in SINGLE_OPS])
def test_one_op_matches_onnxruntime(tmp_path, case_id, model, feeds):
    assert_matches_onnxruntime(tmp_path, save(tmp_path, model), feeds, case_id)


# ---------------------------------------------------------------------------------------------
# Whole networks


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """Each network's float model saved once: (model, path, feeds) by name."""
    directory = tmp_path_factory.mktemp("networks")
    built = {}
    for name, make in fixtures.NETWORKS.items():
        model, feeds = make()
        built[name] = (model, save(directory, model, f"{name}.onnx"), feeds)
    return built


@pytest.mark.parametrize("name", list(fixtures.NETWORKS))
def test_network_matches_onnxruntime(tmp_path, networks, name):
    _, path, feeds = networks[name]
    assert_matches_onnxruntime(tmp_path, path, feeds, name)


COMPRESSED_FORMS = [
    ("int8-qdq", INT8, ()),
    ("palettized-4bit", palettize(mode="kmeans", nbits=4), ()),
    ("pruned-50", PRUNE50, ()),
    ("pruned-then-int8", [PRUNE50, INT8], ()),
    ("matmul-nbits-4", nbits_config(4, True, 32), ("--onnx-format", "matmul_nbits")),
]
# ResNet50 is run once, uncompressed; MobileNetV2 has no MatMul for MatMulNBits.
COMPRESSED_CASES = [(network, *form) for network in ("mobilenet_v2", "bert_encoder", "llama_block") for form in COMPRESSED_FORMS
                    if not (network == "mobilenet_v2" and form[0].startswith("matmul-nbits"))]


@pytest.mark.parametrize("network,form,config,options", COMPRESSED_CASES, ids=[f"{c[0]}-{c[1]}" for c in COMPRESSED_CASES])
def test_compressed_network_matches_onnxruntime(tmp_path, networks, network, form, config, options):
    _, path, feeds = networks[network]
    artifact = compress(tmp_path, path, config, *options)
    assert artifact.compressed(), f"{network} {form}: quantd compressed no weight"
    assert not artifact.zipped, f"{network} {form}: expected a bare .onnx artifact"
    assert_matches_onnxruntime(tmp_path, artifact.path, feeds, f"{network} {form}")
