"""A plain C program (no Python inside) loads an artifact and runs it through the ABI."""
import numpy as np
import pytest

import tc.runtime
from tests.runtime import native
from tests.runtime.c_harness import (harness_metadata, read_tensor, run_harness, time_harness,
                                     write_tensor)


@pytest.mark.parametrize("threads", [None, 3])
def test_harness_output_matches_numpy_and_python(sample_artifact, tmp_path, rng, threads):
    path, _, consts = sample_artifact
    x, y = (rng.standard_normal((4, 250)).astype(np.float32) for _ in range(2))
    files = [write_tensor(tmp_path / "x.bin", x), write_tensor(tmp_path / "y.bin", y)]
    outputs = run_harness(path, files, tmp_path, threads=threads)
    meta = harness_metadata(path)
    got = [read_tensor(f, spec) for f, spec in zip(outputs, meta["outputs"])]
    for g, want in zip(got, native.sample_reference(x, y, consts)):
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-6)
    for g, from_python in zip(got, tc.runtime.load(path).run([x, y])):
        np.testing.assert_array_equal(g, from_python)


def test_harness_reads_metadata_and_times(sample_artifact, tmp_path):
    path, plan, _ = sample_artifact
    assert harness_metadata(path) == tc.runtime.load(path).metadata
    x = np.ones((4, 250), np.float32)
    files = [write_tensor(tmp_path / "x.bin", x), write_tensor(tmp_path / "y.bin", x)]
    assert time_harness(path, files, tmp_path, repeat=5) > 0


def test_harness_rejects_wrong_input_files(sample_artifact, tmp_path):
    path = sample_artifact[0]
    short = write_tensor(tmp_path / "short.bin", np.ones(10, np.float32))
    with pytest.raises(RuntimeError, match="wrong size"):
        run_harness(path, [short, short], tmp_path)
    with pytest.raises(ValueError, match="takes 2 inputs, got 1"):
        run_harness(path, [short], tmp_path)
