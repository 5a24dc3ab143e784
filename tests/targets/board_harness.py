"""Test harness: run a board model folder on emulators and check its outputs.

A model folder (``tc-build model --target c -o out/``) holds ``model.h`` (the model ABI
and size macros) and a ``Makefile`` whose ``make`` builds ``libtcmodel.a`` with the
``CC``, ``AR`` and ``CFLAGS`` it is given.  ``write_main`` writes a C99 program that runs
the model once on embedded inputs and compares its outputs with embedded expected values;
``run_aarch64_linux``, ``run_cortex_m4`` (and ``run_host``) build a copy of the folder
and that program with a toolchain and run it, returning ``(exit status, output)``:

- 0: every output matches; 1: a value differs; 2: ``tc_model_run`` failed (its
  ``tc_last_error`` is printed) or the arena is smaller than the model asks for;
- 3: the Cortex-M4 took a fault (see ``boards/mps2_an386/README.md``);
- 124: the emulator ran past the timeout.

A build failure raises ``BoardBuildError``; a missing tool skips the test.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

BOARDS = Path(__file__).parent / "boards"
MPS2_AN386 = BOARDS / "mps2_an386"
STRICT_C = "-std=c99 -Wall -Wextra -Werror"
CORTEX_M4 = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
BUILD_TIMEOUT = 600
TIMED_OUT = 124
ALIGN = 64  # the test data is aligned like tc's own buffers, so a model reads it in place

_CARRIERS = {1: "uint8_t", 2: "uint16_t", 4: "uint32_t", 8: "uint64_t"}
_KINDS = {"f": "TC_FLOAT", "i": "TC_SIGNED", "u": "TC_UNSIGNED", "b": "TC_UNSIGNED"}
_INSTALL = {
    "aarch64-linux-gnu-gcc": "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
    "aarch64-linux-gnu-ar": "apt-get install binutils-aarch64-linux-gnu",
    "qemu-aarch64": "apt-get install qemu-user",
    "arm-none-eabi-gcc": "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "arm-none-eabi-ar": "apt-get install binutils-arm-none-eabi",
    "qemu-system-arm": "apt-get install qemu-system-arm",
    "make": "apt-get install make",
    "cc": "apt-get install gcc",
    "ar": "apt-get install binutils",
}


class BoardBuildError(RuntimeError):
    """The model folder or the check program did not build."""


# ---------------------------------------------------------------------------- main.c


_MAIN_PRELUDE = r"""/* Runs a tc model once and checks its outputs.
 * Written by tests/targets/board_harness.py.  Exit status: 0 all outputs match, 1 a value differs, 2 tc_model_run failed. */
#include "model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define TC_ALIGNED(n) __attribute__((aligned(n)))
#else
#define TC_ALIGNED(n)
#endif

enum { TC_FLOAT, TC_SIGNED, TC_UNSIGNED };

typedef struct {
    const char *dtype;
    size_t count;         /* elements */
    unsigned itemsize;    /* bytes per element: 1, 2, 4 or 8 */
    int kind;
    const void *expected;
    void *actual;
} tc_output;
"""

_MAIN_CHECK = r"""
static double tc_half_to_double(uint16_t h)
{
    int exponent = (h >> 10) & 0x1f;
    double mantissa = h & 0x3ff;
    double value = exponent == 0    ? ldexp(mantissa, -24)
                 : exponent == 0x1f ? (mantissa != 0 ? NAN : INFINITY)
                                    : ldexp(mantissa + 1024.0, exponent - 25);
    return (h & 0x8000) ? -value : value;
}

/* Element i as a double (floats) or as its bits (integers, bool); memcpy, not a cast,
 * because the arrays are declared as unsigned integers. */
static double tc_float_at(const tc_output *o, const void *data, size_t i)
{
    const unsigned char *p = (const unsigned char *)data + i * o->itemsize;
    if (o->itemsize == 2) { uint16_t h; memcpy(&h, p, 2); return tc_half_to_double(h); }
    if (o->itemsize == 4) { float f; memcpy(&f, p, 4); return f; }
    { double d; memcpy(&d, p, 8); return d; }
}

static uint64_t tc_bits_at(const tc_output *o, const void *data, size_t i)
{
    const unsigned char *p = (const unsigned char *)data + i * o->itemsize;
    if (o->itemsize == 1) { uint8_t v; memcpy(&v, p, 1); return v; }
    if (o->itemsize == 2) { uint16_t v; memcpy(&v, p, 2); return v; }
    if (o->itemsize == 4) { uint32_t v; memcpy(&v, p, 4); return v; }
    { uint64_t v; memcpy(&v, p, 8); return v; }
}

/* An integer element, sign-extended from its width when the dtype is signed. */
static double tc_int_at(const tc_output *o, const void *data, size_t i)
{
    uint64_t bits = tc_bits_at(o, data, i);
    unsigned shift = 64 - 8 * o->itemsize;
    if (o->kind == TC_UNSIGNED) return (double)bits;
    return (double)((int64_t)(bits << shift) >> shift);
}

static int tc_element_matches(const tc_output *o, size_t i, double *abs_err)
{
    double got, want;
    if (o->kind != TC_FLOAT) {
        *abs_err = fabs(tc_int_at(o, o->actual, i) - tc_int_at(o, o->expected, i));
        return tc_bits_at(o, o->actual, i) == tc_bits_at(o, o->expected, i);
    }
    got = tc_float_at(o, o->actual, i);
    want = tc_float_at(o, o->expected, i);
    *abs_err = fabs(got - want);
    if (got == want || (isnan(got) && isnan(want))) {
        *abs_err = 0.0;
        return 1;
    }
    return *abs_err <= TC_ATOL + TC_RTOL * fabs(want);
}

/* Prints one line for output `index` and returns whether every element matches. */
static int tc_check_output(int index, const tc_output *o)
{
    size_t i, bad = 0, first = 0;
    double max_err = 0.0, err;
    for (i = 0; i < o->count; ++i) {
        if (!tc_element_matches(o, i, &err)) {
            if (bad++ == 0) first = i;
        }
        if (err > max_err || isnan(err)) max_err = err;
    }
    printf("output %d %s[%lu]: max_abs_err %.3g, %lu differ", index, o->dtype,
           (unsigned long)o->count, max_err, (unsigned long)bad);
    if (bad) {
        if (o->kind == TC_FLOAT)
            printf(" (first [%lu]: got %.9g, expected %.9g)", (unsigned long)first,
                   tc_float_at(o, o->actual, first), tc_float_at(o, o->expected, first));
        else
            printf(" (first [%lu]: got %.17g, expected %.17g)", (unsigned long)first,
                   tc_int_at(o, o->actual, first), tc_int_at(o, o->expected, first));
    }
    printf("\n");
    return bad == 0;
}
"""

_MAIN_BODY = r"""
int main(void)
{
    void *inputs[] = {@INPUTS@};
    void *outputs[] = {@OUTPUTS@};
    static const tc_output checks[] = {@CHECKS@};
    const char *error;
    int i, ok = 1;

    for (i = 0; i < TC_MODEL_NUM_OUTPUTS; ++i)  /* a value the model never wrote shows */
        memset(checks[i].actual, 0xA5, checks[i].count * checks[i].itemsize);
    if (tc_model_workspace_bytes() > sizeof tc_arena) {
        printf("tc_model_workspace_bytes() = %lu exceeds the arena (%lu bytes)\n",
               (unsigned long)tc_model_workspace_bytes(), (unsigned long)sizeof tc_arena);
        return 2;
    }
    if (tc_model_run(inputs, outputs, tc_arena) != 0) {
        error = tc_last_error();
        printf("tc_model_run failed: %s\n", error ? error : "(no message)");
        return 2;
    }
    for (i = 0; i < TC_MODEL_NUM_OUTPUTS; ++i)
        ok &= tc_check_output(i, &checks[i]);
    printf("%s\n", ok ? "all outputs match" : "MISMATCH");
    return ok ? 0 : 1;
}
"""


def _dtype_info(array: np.ndarray) -> tuple[str, str]:
    """(C carrier type, comparison kind) for ``array``'s dtype."""
    dtype = array.dtype
    if dtype.kind not in _KINDS or dtype.itemsize not in _CARRIERS:
        raise ValueError(f"the board harness cannot embed dtype {dtype}")
    if dtype.kind == "f" and dtype.itemsize == 1:
        raise ValueError(f"the board harness cannot compare dtype {dtype}")
    return _CARRIERS[dtype.itemsize], _KINDS[dtype.kind]


def _c_array(name: str, array: np.ndarray, const: bool) -> str:
    """A 64-byte aligned static array of ``array``'s size: with its elements bit for bit
    when ``const`` (test data), zeroed otherwise (room for an output).

    Each element is written as the hex of its bits in an unsigned integer of its width,
    so the target's own byte order applies and floats (NaN, -0.0 included) are exact.
    """
    carrier, _ = _dtype_info(array)
    declaration = f"{carrier} {name}[{max(1, array.size)}] TC_ALIGNED({ALIGN})"  # [0] is not C
    if not const:
        return f"static {declaration};\n"
    flat = np.ascontiguousarray(array).reshape(-1)
    width = 2 * flat.dtype.itemsize
    values = [f"0x{v:0{width}x}" for v in flat.view(f"u{flat.dtype.itemsize}").tolist()]
    per_row = max(1, 96 // (width + 4))
    rows = [", ".join(values[i:i + per_row]) for i in range(0, len(values), per_row)] or ["0"]
    body = "\n".join(f"    {row}," for row in rows)
    return f"static const {declaration} = {{\n{body}\n}};\n"


def _size_guards(kind: str, arrays: list[np.ndarray]) -> str:
    """``#error`` lines that stop the build when model.h disagrees with the test data."""
    upper = kind.upper()
    lines = [f"#if TC_MODEL_NUM_{upper}S != {len(arrays)}",
             (f'#error "model.h: TC_MODEL_NUM_{upper}S is not {len(arrays)}, the number of '
              f'{kind}s in the test data"'),
             "#endif"]
    for i, a in enumerate(arrays):
        lines += [f"#if TC_MODEL_{upper}_{i}_BYTES != {a.nbytes}",
                  (f'#error "model.h: {kind} {i} is not {a.nbytes} bytes '
                   f'({a.dtype}{list(a.shape)}) as in the test data"'),
                  "#endif"]
    return "\n".join(lines) + "\n"


def write_main(folder: str | Path, inputs: list[np.ndarray], expected: list[np.ndarray],
               rtol: float, atol: float) -> Path:
    """Write ``folder/main.c``: a C99 program that runs the model on ``inputs`` and
    compares its outputs with ``expected`` (floats within ``atol + rtol * |expected|``,
    NaN matching NaN; integers and bool exactly); returns its path."""
    inputs = [np.asarray(a) for a in inputs]
    expected = [np.asarray(a) for a in expected]
    parts = [_MAIN_PRELUDE, "\n", _size_guards("input", inputs),
             _size_guards("output", expected),
             f"\n#define TC_RTOL {float(rtol)!r}\n#define TC_ATOL {float(atol)!r}\n\n"]
    parts += [_c_array(f"tc_input_{i}", a, const=True) for i, a in enumerate(inputs)]
    parts += [_c_array(f"tc_expected_{i}", a, const=True) for i, a in enumerate(expected)]
    parts += [_c_array(f"tc_output_{i}", a, const=False) for i, a in enumerate(expected)]
    parts.append("/* the workspace arena (at least 1 byte: a zero-sized array is not C) */\n"
                 "static unsigned char tc_arena[TC_MODEL_WORKSPACE_BYTES > 0 ? "
                 "TC_MODEL_WORKSPACE_BYTES : 1] TC_ALIGNED(TC_MODEL_WORKSPACE_ALIGN);\n")
    parts.append(_MAIN_CHECK)
    checks = ", ".join(
        f'{{"{a.dtype}", {a.size}, {a.dtype.itemsize}, {_dtype_info(a)[1]}, '
        f"tc_expected_{i}, tc_output_{i}}}" for i, a in enumerate(expected))
    parts.append(_MAIN_BODY
                 .replace("@INPUTS@", ", ".join(f"(void *)tc_input_{i}"
                                              for i in range(len(inputs))) or "0")
                 .replace("@OUTPUTS@", ", ".join(f"tc_output_{i}"
                                               for i in range(len(expected))) or "0")
                 .replace("@CHECKS@", checks or '{"none", 0, 1, TC_UNSIGNED, 0, 0}'))
    path = Path(folder) / "main.c"
    path.write_text("".join(parts))
    return path


# ------------------------------------------------------------------- build and run


def require_tools(*tools: str) -> None:
    """Skip the calling test when a tool is not on PATH, naming how to install it."""
    for tool in tools:
        if shutil.which(tool) is None:
            hint = _INSTALL.get(tool)
            pytest.skip(f"{tool} not found" + (f": {hint}" if hint else ""))


def build_dir(folder: str | Path, target: str) -> Path:
    """Where ``target``'s build of ``folder`` goes: ``folder/build-<target>``."""
    return Path(folder) / f"build-{target}"


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace",
                          timeout=timeout, check=False)


def _check_build(cmd: list[str], cwd: Path) -> None:
    result = _run(cmd, cwd, BUILD_TIMEOUT)
    if result.returncode != 0:
        raise BoardBuildError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                              f"{result.stdout}")


@dataclass(frozen=True)
class _Toolchain:
    """How one target builds the model folder and the check program, and runs them."""

    name: str                   # the build dir is folder/build-<name>
    cc: str
    ar: str
    cflags: str                 # for the model (its Makefile's CFLAGS) and main.c
    link_flags: tuple[str, ...]  # before main.c (board files, specs)
    binary: str
    run: tuple[str, ...]        # the command that runs ``binary`` in the build dir
    emulator: str | None = None


_AARCH64_LINUX = _Toolchain(
    "aarch64-linux", "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ar", f"-O2 {STRICT_C}",
    ("-static",), "a.out", ("qemu-aarch64", "./a.out"), "qemu-aarch64")
_CORTEX_M4 = _Toolchain(
    "cortex-m4", "arm-none-eabi-gcc", "arm-none-eabi-ar", f"{CORTEX_M4} -O2 {STRICT_C}",
    ("--specs=rdimon.specs", "-T", str(MPS2_AN386 / "mps2_an386.ld"),
     str(MPS2_AN386 / "startup.S")),
    "a.elf", ("qemu-system-arm", "-M", "mps2-an386", "-nographic", "-semihosting",
              "-kernel", "a.elf"), "qemu-system-arm")
_HOST = _Toolchain("host", "cc", "ar", f"-O2 {STRICT_C}", (), "a.out", ("./a.out",))


def _build_library(folder: Path, tc: _Toolchain) -> Path:
    """Copy ``folder`` to a fresh build dir (so builds for different targets never share
    objects) and run its Makefile there; returns the build dir."""
    build = build_dir(folder, tc.name)
    if build.exists():
        shutil.rmtree(build)
    shutil.copytree(folder, build, ignore=lambda d, names: [
        n for n in names if Path(d) == folder and n.startswith("build-")])
    _check_build(["make", "-C", str(build), f"CC={tc.cc}", f"AR={tc.ar}",
                  f"CFLAGS={tc.cflags} -fstack-usage"], build)
    return build


def _emulate(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    """Run ``cmd``; (its exit status, its output), or (124, what it printed) on timeout."""
    try:
        result = _run(cmd, cwd, timeout)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else (
            err.stdout or "")
        return TIMED_OUT, out + f"\n[{cmd[0]} timed out after {timeout} s]\n"
    return result.returncode, result.stdout


def _build_and_run(tc: _Toolchain, folder: str | Path, main_c: str | Path,
                   timeout: float, libs: tuple[str, ...] = ()) -> tuple[int, str]:
    require_tools(*filter(None, ["make", tc.cc, tc.ar, tc.emulator]))
    build = _build_library(Path(folder), tc)
    _check_build([tc.cc, *tc.cflags.split(), *tc.link_flags, "-I", str(build),
                  str(Path(main_c).resolve()), "-L", str(build), "-ltcmodel", "-lm", *libs,
                  "-o", tc.binary], build)
    return _emulate(list(tc.run), build, timeout)


def run_aarch64_linux(folder: str | Path, main_c: str | Path,
                      timeout: float = 60, libs: tuple[str, ...] = ()) -> tuple[int, str]:
    """Build ``folder`` and ``main_c`` for aarch64 Linux (static, linking ``libs`` too)
    and run them under qemu-aarch64 (called explicitly: binfmt may not be registered)."""
    return _build_and_run(_AARCH64_LINUX, folder, main_c, timeout, libs)


def run_cortex_m4(folder: str | Path, main_c: str | Path,
                  timeout: float = 60) -> tuple[int, str]:
    """Build ``folder`` and ``main_c`` for a Cortex-M4F (hard float) and run them bare
    metal on QEMU's MPS2-AN386 board, with newlib over semihosting: printf reaches
    QEMU's stdout and main's return value QEMU's exit status."""
    return _build_and_run(_CORTEX_M4, folder, main_c, timeout)


def run_host(folder: str | Path, main_c: str | Path, timeout: float = 60) -> tuple[int, str]:
    """Build ``folder`` and ``main_c`` with the host's ``cc`` and run them natively (for
    checking the harness itself without an emulator)."""
    return _build_and_run(_HOST, folder, main_c, timeout)


def stack_usage(build: str | Path) -> dict[str, int]:
    """Stack frame bytes per function of the model library in ``build`` (the
    ``-fstack-usage`` files of its objects).  With no recursion, their sum bounds the
    stack depth of ``tc_model_run`` (libm and libgcc calls aside)."""
    frames = {}
    for su in sorted(Path(build).rglob("*.su")):
        for line in su.read_text().splitlines():
            location, size, _qualifier = line.rsplit("\t", 2)
            frames[location.rsplit(":", 1)[-1]] = int(size)
    return frames
