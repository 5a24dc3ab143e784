"""The board test harness: hand-written model folders (model.h, model.c, Makefile, as
``tc-build --target c`` writes them) run on aarch64 Linux (qemu-aarch64), a Cortex-M4F
board (qemu-system-arm, MPS2-AN386) and the host, and their outputs are checked."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from .board_harness import (
    BoardBuildError,
    build_dir,
    run_aarch64_linux,
    run_cortex_m4,
    run_host,
    stack_usage,
    write_main,
)

RUNNERS = [pytest.param(run_aarch64_linux, "aarch64-linux", id="aarch64-linux"),
           pytest.param(run_cortex_m4, "cortex-m4", id="cortex-m4"),
           pytest.param(run_host, "host", id="host")]
RTOL = ATOL = 1e-6
N = 16

_MAKEFILE = """\
CC ?= cc
AR ?= ar
CFLAGS ?= -O2

libtcmodel.a: model.o
\t$(AR) rcs $@ model.o

model.o: model.c model.h
\t$(CC) $(CFLAGS) -c model.c -o model.o
"""

_MODEL_C_HEAD = """\
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model.h"

static const char *tc_error = "";

const char *tc_model_metadata(void) { return "{}"; }
size_t tc_model_workspace_bytes(void) { return TC_MODEL_WORKSPACE_BYTES; }
const char *tc_last_error(void) { return tc_error; }
"""

# y = 2 * x + 1 through the workspace, z = floor(1000 * x) + 2**40 (needs all 64 bits)
_AFFINE_RUN = """
static int misaligned(const void *p) { return (uintptr_t)p % TC_MODEL_WORKSPACE_ALIGN != 0; }

int tc_model_run(void *const *inputs, void *const *outputs, void *workspace)
{
    const float *x = (const float *)inputs[0];
    float *scratch = (float *)workspace, *y = (float *)outputs[0];
    int64_t *z = (int64_t *)outputs[1];
    int i;
    /*BEHAVIOUR*/
    if (misaligned(x) || misaligned(workspace)) {
        tc_error = "input or workspace not aligned to TC_MODEL_WORKSPACE_ALIGN";
        return 1;
    }
    for (i = 0; i < N; ++i)
        scratch[i] = 2.0f * x[i];
    for (i = 0; i < N; ++i) {
        y[i] = scratch[i] + 1.0f;
        z[i] = (int64_t)floorf(x[i] * 1000.0f) + ((int64_t)1 << 40);
    }
    return 0;
}
"""

# every output a copy of the input at the same position
_IDENTITY_RUN = """
static const size_t sizes[] = {SIZES};

int tc_model_run(void *const *inputs, void *const *outputs, void *workspace)
{
    size_t i;
    (void)workspace;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; ++i)
        memcpy(outputs[i], inputs[i], sizes[i]);
    return 0;
}
"""


def _model_h(input_bytes: list[int], output_bytes: list[int], workspace: int) -> str:
    """model.h as the contract has it: the ABI and the size macros."""
    lines = ["#ifndef TC_MODEL_H", "#define TC_MODEL_H", "#include <stddef.h>",
             f"#define TC_MODEL_NUM_INPUTS {len(input_bytes)}",
             f"#define TC_MODEL_NUM_OUTPUTS {len(output_bytes)}"]
    lines += [f"#define TC_MODEL_INPUT_{i}_BYTES {n}" for i, n in enumerate(input_bytes)]
    lines += [f"#define TC_MODEL_OUTPUT_{i}_BYTES {n}" for i, n in enumerate(output_bytes)]
    lines += [f"#define TC_MODEL_WORKSPACE_BYTES {workspace}",
              "#define TC_MODEL_WORKSPACE_ALIGN 64",
              "const char *tc_model_metadata(void);",
              "size_t tc_model_workspace_bytes(void);",
              "int tc_model_run(void *const *inputs, void *const *outputs, void *workspace);",
              "const char *tc_last_error(void);", "#endif", ""]
    return "\n".join(lines)


def _write_model(folder: Path, header: str, run_source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.h").write_text(header)
    (folder / "model.c").write_text(_MODEL_C_HEAD + run_source)
    (folder / "Makefile").write_text(_MAKEFILE)
    return folder


_BEHAVIOURS = {
    "ok": "",
    "fail": 'tc_error = "injected failure: this model refuses to run";\n    return 3;',
    "trap": "__builtin_trap();",
    "hang": "for (;;) {\n        volatile int spin = 0;\n        (void)spin;\n    }",
}


def affine_model(folder: Path, behaviour: str = "ok") -> Path:
    """The float32[16] -> (float32[16], int64[16]) model; ``behaviour`` "fail" makes
    tc_model_run return an error, "trap" crash, "hang" loop forever."""
    source = f"#define N {N}\n" + _AFFINE_RUN.replace("/*BEHAVIOUR*/", _BEHAVIOURS[behaviour])
    return _write_model(folder, _model_h([4 * N], [4 * N, 8 * N], 4 * N), source)


def affine_case(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random non-zero inputs of the affine model and numpy's outputs for them."""
    x = np.random.default_rng(seed).uniform(-4, 4, N).astype(np.float32)
    y = np.float32(2) * x + np.float32(1)
    z = np.floor(x * np.float32(1000)).astype(np.int64) + 2 ** 40
    return [x], [y, z]


@pytest.mark.parametrize("run, target", RUNNERS)
def test_matching_outputs_exit_0(tmp_path, run, target):
    folder = affine_model(tmp_path / "model")
    inputs, expected = affine_case()
    code, out = run(folder, write_main(folder, inputs, expected, RTOL, ATOL), timeout=60)
    assert code == 0, out
    assert "output 0 float32[16]: max_abs_err 0, 0 differ" in out
    assert "output 1 int64[16]: max_abs_err 0, 0 differ" in out
    assert stack_usage(build_dir(folder, target))["tc_model_run"] >= 0


@pytest.mark.parametrize("run, target", RUNNERS)
@pytest.mark.parametrize("which", [0, 1])
def test_wrong_expected_value_exit_1(tmp_path, run, target, which):
    folder = affine_model(tmp_path / "model")
    inputs, expected = affine_case(seed=1)
    expected[which][5] += np.float32(0.01) if which == 0 else 1  # off by ~1e-3 rel / by 1
    code, out = run(folder, write_main(folder, inputs, expected, RTOL, ATOL), timeout=60)
    assert code == 1, out
    assert f"output {which} {expected[which].dtype}[16]:" in out
    assert "1 differ (first [5]:" in out
    assert f"output {1 - which} {expected[1 - which].dtype}[16]: max_abs_err 0, 0 differ" in out


@pytest.mark.parametrize("run, target", RUNNERS)
def test_failing_model_exit_2(tmp_path, run, target):
    folder = affine_model(tmp_path / "model", "fail")
    inputs, expected = affine_case(seed=2)
    code, out = run(folder, write_main(folder, inputs, expected, RTOL, ATOL), timeout=60)
    assert code == 2, out
    assert "tc_model_run failed: injected failure: this model refuses to run" in out


def test_crash_on_the_board_exits_3(tmp_path):
    """A fault (here an undefined instruction) ends the run with status 3 and says where,
    rather than hanging QEMU until the timeout."""
    folder = affine_model(tmp_path / "model", "trap")
    inputs, expected = affine_case(seed=4)
    code, out = run_cortex_m4(folder, write_main(folder, inputs, expected, RTOL, ATOL))
    assert code == 3, out
    assert re.search(r"board fault: exception 0x00000003 at pc 0x[0-9a-f]{8}", out), out


def test_hanging_model_times_out_with_124(tmp_path):
    folder = affine_model(tmp_path / "model", "hang")
    inputs, expected = affine_case(seed=5)
    code, out = run_cortex_m4(folder, write_main(folder, inputs, expected, RTOL, ATOL),
                              timeout=1)
    assert code == 124, out
    assert "qemu-system-arm timed out after 1 s" in out


def _identity_model(folder: Path, arrays: list[np.ndarray]) -> Path:
    sizes = [a.nbytes for a in arrays]
    source = _IDENTITY_RUN.replace("SIZES", ", ".join(map(str, sizes)))
    return _write_model(folder, _model_h(sizes, sizes, 0), source)


def _special_values() -> list[np.ndarray]:
    """One array per dtype the harness compares, with NaN, infinities and -0.0."""
    rng = np.random.default_rng(3)
    special = [np.nan, np.inf, -np.inf, -0.0, 1e-30]
    return [np.concatenate([rng.standard_normal(7), special]).astype(np.float16),
            np.concatenate([rng.standard_normal(7), special]).astype(np.float32),
            np.concatenate([rng.standard_normal(7), special]).astype(np.float64),
            rng.integers(-128, 128, 5).astype(np.int8),
            rng.integers(0, 2 ** 16, (2, 3)).astype(np.uint16),
            rng.integers(-2 ** 31, 2 ** 31, 4).astype(np.int32),
            rng.integers(0, 2 ** 64, 3, dtype=np.uint64),
            rng.random(6) > 0.5]


@pytest.mark.parametrize("run, target", RUNNERS)
def test_every_dtype_round_trips_bit_exact(tmp_path, run, target):
    arrays = _special_values()
    folder = _identity_model(tmp_path / "model", arrays)
    code, out = run(folder, write_main(folder, arrays, arrays, 0.0, 0.0), timeout=60)
    assert code == 0, out
    assert out.count(", 0 differ") == len(arrays)


@pytest.mark.parametrize("index, value", [(0, np.nan), (7, 1.0), (8, 65504.0), (1, None)])
def test_float_special_values_are_compared(tmp_path, index, value):
    """Expected NaN vs a number, NaN vs an expected number, inf vs the largest float16,
    and a value 1% off (rtol 1e-4) are each one mismatch."""
    arrays = _special_values()[:1]
    expected = [arrays[0].copy()]
    expected[0][index] = arrays[0][index] * np.float16(1.01) if value is None else value
    folder = _identity_model(tmp_path / "model", arrays)
    code, out = run_host(folder, write_main(folder, arrays, expected, 1e-4, 0.0))
    assert code == 1, out
    assert f"1 differ (first [{index}]:" in out


def test_model_h_disagreeing_with_the_data_stops_the_build(tmp_path):
    arrays = _special_values()[:2]
    folder = _identity_model(tmp_path / "model", arrays)
    main_c = write_main(folder, arrays, [arrays[0], arrays[1][:-1]], RTOL, ATOL)
    with pytest.raises(BoardBuildError, match="output 1 is not 44 bytes"):
        run_host(folder, main_c)


def test_missing_emulator_skips_naming_the_package(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda tool: None if tool == "qemu-aarch64" else real_which(tool))
    folder = affine_model(tmp_path / "model")
    inputs, expected = affine_case()
    with pytest.raises(pytest.skip.Exception,
                       match="qemu-aarch64 not found: apt-get install qemu-user"):
        run_aarch64_linux(folder, write_main(folder, inputs, expected, RTOL, ATOL))
