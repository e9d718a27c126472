"""Small Core ML ML Programs built with coremltools' MIL builder, for the Core ML oracle tests.

Generated when the tests run (nothing binary is committed). Every weight op kind quantd must
handle appears once: conv, depthwise conv, linear, matmul with a constant operand, and an
embedding (gather from a constant table); weights in float16 or float32; iOS16 or iOS18 opsets.
"""
import os
import shutil
import subprocess

import numpy as np


def build(directory, name="net", precision="fp16", target="iOS16", seed=0):
    """Saves ``<directory>/<name>.mlpackage`` and returns its path."""
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(seed)
    opset = {"iOS16": ct.target.iOS16, "iOS17": ct.target.iOS17, "iOS18": ct.target.iOS18}[target]
    dtype = np.float16 if precision == "fp16" else np.float32

    def weight(*shape, scale=0.05):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    conv_w = weight(32, 16, 3, 3)
    depthwise_w = weight(32, 1, 3, 3)
    linear_w = weight(64, 32 * 8 * 8, scale=0.01)
    linear_b = weight(64)
    matmul_y = weight(64, 48)
    table = weight(512, 48)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 16, 8, 8)), mb.TensorSpec(shape=(1, 4), dtype=ct.converters.mil.mil.types.int32)],
                opset_version=opset)
    def program(image, tokens):
        x = mb.conv(x=image, weight=conv_w, pad_type="same", name="conv")
        x = mb.relu(x=x, name="relu")
        x = mb.conv(x=x, weight=depthwise_w, groups=32, pad_type="same", name="depthwise")
        x = mb.reshape(x=x, shape=[1, 32 * 8 * 8], name="flatten")
        x = mb.linear(x=x, weight=linear_w, bias=linear_b, name="linear")
        x = mb.matmul(x=x, y=matmul_y, name="matmul")
        e = mb.gather(x=table, indices=tokens, axis=0, name="embedding")
        e = mb.reduce_mean(x=e, axes=[1], name="pool_tokens")
        return mb.add(x=x, y=e, name="output")

    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=opset,
                       compute_precision=ct.precision.FLOAT16 if dtype == np.float16 else ct.precision.FLOAT32)
    path = os.path.join(directory, f"{name}.mlpackage")
    model.save(path)
    return path


def zip_package(path):
    """``zip -r`` of the package, as a user would upload it; returns the zip's path."""
    archive = path + ".zip"
    parent, leaf = os.path.split(path)
    subprocess.run(["zip", "-qr", archive, leaf], cwd=parent, check=True)
    return archive


def unzip_package(archive, directory):
    """Extracts a quantd artifact zip and returns the .mlpackage directory inside it."""
    shutil.unpack_archive(archive, directory, "zip")
    for root, dirs, _ in os.walk(directory):
        for d in dirs:
            if d.endswith(".mlpackage"):
                return os.path.join(root, d)
    if os.path.exists(os.path.join(directory, "Manifest.json")):
        return directory
    raise AssertionError(f"no .mlpackage in {archive}")
