"""A real quantd server for the client and contract tests: the binary the test command built, on an
ephemeral port, with its own data directory."""

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUANTD = Path(os.environ.get("QUANTD_BIN") or REPO / ".build" / "debug" / "quantd")


_SAFETENSORS_DTYPES = {"float16": "F16", "float32": "F32"}


def safetensors_bytes(tensors):
    """A safetensors file of numpy arrays (float16 or float32), in the given order."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        header[name] = {"dtype": _SAFETENSORS_DTYPES[str(array.dtype)], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        blobs.append(array.tobytes())
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


class Server:
    def __init__(self, data_dir, *flags):
        assert QUANTD.exists(), f"quantd binary not built at {QUANTD}: run scripts/test, or set QUANTD_BIN"
        self.process = subprocess.Popen([str(QUANTD), "serve", "--port", "0", "--data-dir", str(data_dir), *flags],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        assert "listening on" in line, f"quantd did not start: {line!r}"
        self.base = line.strip().rsplit(" ", 1)[1]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("data"))
    yield s
    s.stop()
