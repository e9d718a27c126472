"""Runs the quantd CLI on generated tensors: the one way every oracle test reaches quantd."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from dequantize import load_artifact

REPO = Path(__file__).resolve().parents[2]
QUANTD = Path(os.environ.get("QUANTD_BIN") or REPO / ".build" / "debug" / "quantd")


def run_quantd(tmp_path, tensors, *options):
    """Writes ``tensors`` as safetensors, runs ``quantd compress`` with ``options`` and returns
    (artifact tensors, artifact metadata, artifact path)."""
    assert QUANTD.exists(), f"quantd binary not built at {QUANTD}: run scripts/test, or set QUANTD_BIN"
    source = tmp_path / "model.safetensors"
    output = tmp_path / "out.safetensors"
    save_file(tensors, str(source))
    completed = subprocess.run([str(QUANTD), "compress", str(source), "--output", str(output), *options],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return load_artifact(str(output)) + (str(output),)


def run_quantd_config(tmp_path, tensors, config):
    """``run_quantd`` with a coremltools OptimizationConfig dictionary."""
    return run_quantd(tmp_path, tensors, "--config", json.dumps(config))


def run_model(tmp_path, model_path, feeds, *options):
    """``quantd run MODEL --data IN.npz --output OUT.npz`` on ``feeds`` (name → array): the
    model's outputs by name."""
    import numpy as np

    assert QUANTD.exists(), f"quantd binary not built at {QUANTD}: run scripts/test, or set QUANTD_BIN"
    data, output = Path(tmp_path) / "inputs.npz", Path(tmp_path) / "outputs.npz"
    np.savez(data, **feeds)
    completed = subprocess.run([str(QUANTD), "run", str(model_path), "--data", str(data), "--output", str(output), *options],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    with np.load(output) as outputs:
        return {name: outputs[name] for name in outputs.files}
