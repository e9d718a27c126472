"""Vector palettization of a grouped convolution's weight, as coremltools' is_cluster_dim_valid
decides it: each group sees channels / groups of the weight's first axis, which cluster_dim must
divide. quantd's Core ML path leaves the same weights alone that coremltools does."""

import json
import shutil
import subprocess

import numpy as np
import coremltools as ct
import coremltools.optimize.coreml as cto
from coremltools.converters.mil import Builder as mb

from quantd_cli import QUANTD


def grouped_program(tmp_path):
    rng = np.random.default_rng(4)
    depthwise = (rng.standard_normal((256, 1, 3, 3)) * 0.1).astype(np.float32)
    dense = (rng.standard_normal((256, 32, 3, 3)) * 0.1).astype(np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 256, 8, 8))], opset_version=ct.target.iOS18)
    def program(x):
        y = mb.conv(x=x, weight=depthwise, groups=256, pad_type="same", name="dw")
        # 8 groups of 32 output channels each: cluster_dim 2 divides them.
        return mb.conv(x=y, weight=dense, groups=8, pad_type="same", name="grouped")

    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS18,
                       compute_precision=ct.precision.FLOAT32)
    path = tmp_path / "net.mlpackage"
    model.save(str(path))
    return model, shutil.make_archive(str(tmp_path / "net"), "zip", tmp_path, "net.mlpackage")


def test_vector_palettization_skips_the_grouped_weights_coremltools_skips(tmp_path):
    model, archive = grouped_program(tmp_path)
    config = {"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 2, "cluster_dim": 2}}
    reference = cto.palettize_weights(model, cto.OptimizationConfig.from_dict(config))
    ops = reference._mil_program.functions["main"].operations
    palettized_by_coremltools = {op.outputs[0].child_ops[0].name for op in ops if op.op_type == "constexpr_lut_to_dense"}
    assert palettized_by_coremltools == {"grouped"}, palettized_by_coremltools

    completed = subprocess.run([str(QUANTD), "compress", archive, "--output", str(tmp_path / "out.zip"), "--config", json.dumps(config)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    rows = {t["name"]: t for t in json.loads(completed.stdout)["tensors"]}
    actions = {name: row["action"] for name, row in rows.items()}
    compressed = {name for name, action in actions.items() if action == "compressed"}
    assert len(compressed) == 1 and "dw" not in "".join(compressed), actions
    depthwise = next(row for name, row in rows.items() if row["shape"] == [256, 1, 3, 3])
    assert depthwise["action"] == "unchanged" and "cluster_dim 2" in depthwise["reason"], depthwise
