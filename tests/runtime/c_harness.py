"""Run a tc artifact from a plain C program (harness.c: dlopen + the model ABI, no Python
inside the process), for tests that check an artifact works without the Python runtime.

    outs = run_harness("model.so", ["x.bin"], tmp_dir)      # -> [tmp_dir/output_0.bin]
    y = read_tensor(outs[0], harness_metadata("model.so")["outputs"][0])
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tc.runtime import toolchain

HARNESS_SOURCE = Path(__file__).with_name("harness.c")


def build_harness() -> Path:
    """Compile harness.c once (cached by source and compiler under the tc cache dir) and
    return the executable's path."""
    cc = toolchain.find_c_compiler()
    key = hashlib.sha256(HARNESS_SOURCE.read_bytes() + "\0".join(cc).encode()
                         + toolchain.compiler_version(cc).encode()).hexdigest()[:24]
    exe = toolchain.cache_dir() / "harness" / key / "tc_harness"
    if exe.exists():
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tc_harness-", dir=exe.parent)
    os.close(fd)
    try:
        toolchain.run_compiler(["-std=c99", "-O2", "-o", tmp, str(HARNESS_SOURCE), "-ldl"],
                               "building the C harness")
        os.replace(tmp, exe)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return exe


def _nbytes(spec: dict) -> int:
    return int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["dtype"]).itemsize


def harness_metadata(artifact: str | os.PathLike) -> dict:
    """The artifact's metadata JSON, as the C harness reads it through tc_model_metadata."""
    proc = subprocess.run([str(build_harness()), "meta", str(artifact)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"tc_harness meta {artifact} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def run_harness(artifact: str | os.PathLike, input_files: list[str | os.PathLike],
                output_dir: str | os.PathLike, *, threads: int | None = None,
                repeat: int = 1, timeout: float = 600) -> list[Path]:
    """Run ``artifact`` in the C harness on raw row-major input files (one per model
    input, in order) and return the output files it wrote (output_<i>.bin in
    ``output_dir``). ``repeat`` > 1 runs the model that many times (see time_harness)."""
    return _run(artifact, input_files, output_dir, threads, repeat, timeout)[0]


def time_harness(artifact: str | os.PathLike, input_files: list[str | os.PathLike],
                 output_dir: str | os.PathLike, *, repeat: int = 10,
                 threads: int | None = None, timeout: float = 600) -> float:
    """Mean milliseconds per tc_model_run over ``repeat`` runs in the C harness."""
    return _run(artifact, input_files, output_dir, threads, max(repeat, 2), timeout)[1]


def _run(artifact, input_files, output_dir, threads, repeat, timeout):
    meta = harness_metadata(artifact)
    if len(input_files) != len(meta["inputs"]):
        raise ValueError(f"{artifact} takes {len(meta['inputs'])} inputs, "
                         f"got {len(input_files)} files")
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    args = [str(build_harness()), "run", str(artifact), "-r", str(repeat)]
    if threads is not None:
        args += ["-t", str(threads)]
    for path, spec in zip(input_files, meta["inputs"]):
        args.append(f"{path}:{_nbytes(spec)}")
    output_dir = Path(output_dir)
    outputs = [output_dir / f"output_{i}.bin" for i in range(len(meta["outputs"]))]
    args.append("--")
    args += [f"{path}:{_nbytes(spec)}" for path, spec in zip(outputs, meta["outputs"])]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"tc_harness run {artifact} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr}")
    match = re.search(r"mean_ms=([0-9.]+)", proc.stdout)
    return outputs, float(match.group(1)) if match else None


def write_tensor(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as a raw row-major .bin file the harness reads."""
    Path(path).write_bytes(np.ascontiguousarray(array).tobytes())
    return Path(path)


def read_tensor(path: str | os.PathLike, spec: dict) -> np.ndarray:
    """Read a harness .bin file back as the array ``spec`` (a metadata entry) describes."""
    return np.fromfile(path, dtype=spec["dtype"]).reshape(spec["shape"])
