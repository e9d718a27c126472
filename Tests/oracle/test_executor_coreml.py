"""quantd's executor on ML Programs, held to onnxruntime on each program's ONNX twin.

The programs (``fixtures/make_executor_twins.py``) are built at test time with coremltools'
MIL builder in the shapes coremltools converts ResNet50, MobileNetV2 and MobileViTv2 to, each
with an ONNX twin from the same weights. ``quantd run`` executes the zipped .mlpackage,
onnxruntime the twin, on the same random input.

Tolerances: float32 programs within a relative L2 of 1e-4 (‖quantd − onnxruntime‖ /
‖onnxruntime‖). Float16 programs store float16 weights, which the twin reads rounded the same
way; quantd computes in float32 as onnxruntime does, so the 1e-4 bound holds for them as well,
and no looser fp16 bound is needed. Compressed packages are held to a twin whose weights are
coremltools' own decompression (``decompress_weights``) of the same artifact: exact weights,
so the same 1e-4 bound.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_executor_twins as twins  # noqa: E402
import mlprograms  # noqa: E402
from onnx_oracle import session  # noqa: E402
from quantd_cli import run_model  # noqa: E402
from test_coreml import compressed_model, dense_weights  # noqa: E402
from test_executor_onnx import RELATIVE_L2, relative_l2  # noqa: E402


def feeds(seed=0):
    return {"input": np.random.default_rng(seed).standard_normal((1, 3, 32, 32)).astype(np.float32)}


def assert_matches_twin(tmp_path, package, twin, inputs, label, samples=None):
    """``samples``: what quantd is given when it differs from the twin's ``inputs`` (images)."""
    expected = session(str(twin)).run(None, inputs)[0]
    actual = run_model(tmp_path, mlprograms.zip_package(str(package)), samples or inputs)
    assert sorted(actual) == ["logits"], f"{label}: quantd wrote {sorted(actual)}"
    assert actual["logits"].shape == expected.shape, f"{label}: shape {actual['logits'].shape}, onnxruntime {expected.shape}"
    error = relative_l2(actual["logits"], expected)
    print(f"{label}: relative L2 {error:.2e}")
    assert error <= RELATIVE_L2, f"{label}: relative L2 {error:.3e} > {RELATIVE_L2}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(network, precision) → (package, twin), built once for the module."""
    cache = {}

    def get(network, precision="fp32"):
        if (network, precision) not in cache:
            directory = tmp_path_factory.mktemp(f"{network}-{precision}")
            cache[(network, precision)] = twins.build(str(directory), network, precision=precision)
        return cache[(network, precision)]

    return get


@pytest.mark.parametrize("network,precision", [("resnet", "fp32"), ("resnet", "fp16"), ("mobilenetv2", "fp32"),
                                               ("mobilevitv2", "fp32")])
def test_network_matches_its_onnx_twin(tmp_path, built, network, precision):
    package, twin = built(network, precision)
    assert_matches_twin(tmp_path, package, twin, feeds(), f"{network} {precision}")


def test_image_input_applies_scale_and_bias_once(tmp_path):
    """A BGR image input with scale and bias: the samples are RGB pixels, height × width ×
    channels, as a user's images are; quantd puts them in the model's channel order (NCHW) and
    the program's own mul and add scale them. The twin is handed the BGR NCHW pixels and scales
    them itself."""
    import coremltools as ct

    image = dict(scale=1 / 255, bias=[-0.5, -0.4, -0.3], color_layout=ct.colorlayout.BGR)
    package, twin = twins.build(str(tmp_path), "mobilenetv2", image=image)
    rgb = np.random.default_rng(5).integers(0, 256, (1, 32, 32, 3)).astype(np.uint8)
    bgr_nchw = rgb[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    assert_matches_twin(tmp_path, package, twin, {"input": bgr_nchw}, "mobilenetv2 image BGR", samples={"input": rgb})


PRUNE50 = {"config_type": "OpMagnitudePrunerConfig", "global_config": {"target_sparsity": 0.5}}
INT8 = {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8"}}
INT4_BLOCK = {"config_type": "OpLinearQuantizerConfig",
              "global_config": {"dtype": "int4", "granularity": "per_block", "block_size": 8, "weight_threshold": 0}}
PALETTE4 = {"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 4}}
PALETTE4_GROUPED = {"config_type": "OpPalettizerConfig",
                    "global_config": {"mode": "kmeans", "nbits": 4, "granularity": "per_grouped_channel", "group_size": 4}}

COMPRESSED = [
    ("int8-iOS16", INT8, "iOS16"),
    ("palettize4-iOS16", PALETTE4, "iOS16"),
    ("prune50-iOS16", PRUNE50, "iOS16"),
    ("int4-block-iOS18", INT4_BLOCK, "iOS18"),
    ("palettize4-grouped-iOS18", PALETTE4_GROUPED, "iOS18"),
    ("prune50-iOS18", PRUNE50, "iOS18"),
    ("prune+palettize4-iOS18", [PRUNE50, PALETTE4], "iOS18"),
    ("prune+int8-iOS18", [PRUNE50, INT8], "iOS18"),
]


@pytest.mark.parametrize("label,config,target", COMPRESSED, ids=[c[0] for c in COMPRESSED])
def test_compressed_package_matches_the_twin_of_its_decompressed_weights(tmp_path, built, label, config, target):
    package, twin = built("resnet")
    options = ("--minimum-deployment-target", target) if target != "iOS16" else ()
    ours, report = compressed_model(tmp_path, package, config, *options)
    compressed = [t["name"] for t in report["tensors"] if t["action"] == "compressed"]
    assert compressed, f"{label}: quantd compressed nothing"
    weights = dense_weights(ours)
    assert all(name in weights for name in compressed), f"{label}: {set(compressed) - set(weights)} not decompressed"
    decompressed_twin = tmp_path / "decompressed.onnx"
    assert twins.with_weights(twin, weights, str(decompressed_twin)) >= len(compressed)
    assert_matches_twin(tmp_path, ours.package_path, decompressed_twin, feeds(), f"resnet {label}")
