"""The artifact writer: kernels object + ExecutionPlan -> one self-contained shared library.

The library holds the kernels (an object file from a code generator), the constants blob
(embedded with the assembler's ``.incbin`` in a read-only section, never as C text), the
C runtime (thread pool, errors, aligned allocation) and a generated AOT entry,
``entry.c``, implementing the model ABI of tc_runtime.h:

    const char *tc_model_metadata(void);
    size_t      tc_model_workspace_bytes(void);
    int         tc_model_run(void *const *inputs, void *const *outputs, void *workspace);

Kernels are C-callable ``void f(T0 *, T1 *, ...)``; the entry declares each one as
``void f(void *, ...)`` with the arity its calls use.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tc.compiler.aot_plan import (
    CONSTANT,
    INPUT,
    OUTPUT,
    WORKSPACE,
    Copy,
    ExecutionPlan,
    KernelCall,
    TensorRef,
    TensorSpec,
)

ARTIFACT_FORMAT = "tc-artifact"
ARTIFACT_VERSION = 1
CONSTANTS_SYMBOL = "tc_model_constants"
_RESERVED_KEYS = ("format", "version", "inputs", "outputs", "workspace_bytes", "kernels",
                  "constants_bytes", "steps")
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto "
    "if inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while _Bool _Complex _Imaginary".split())
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Symbols of tc_runtime.h a kernel may not redefine (plus everything tc_model_*).
_RUNTIME_SYMBOLS = frozenset((
    "tc_last_error", "tc_set_error", "tc_clear_error", "tc_set_num_threads",
    "tc_get_num_threads", "tc_parallel_for", "tc_alloc", "tc_free"))


def tensor_nbytes(spec: TensorSpec) -> int:
    """Bytes of a dense tensor of ``spec``."""
    return int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize


def kernel_arities(plan: ExecutionPlan) -> dict[str, int]:
    """Kernel name -> number of pointer parameters, in order of first call; raises
    ValueError for a name that is not a usable C identifier or for inconsistent arities."""
    arities: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        if not isinstance(step, KernelCall):
            continue
        name = step.func
        if (not _IDENTIFIER.match(name) or name in _C_KEYWORDS or name in _RUNTIME_SYMBOLS
                or name.startswith("tc_model_")):
            raise ValueError(f"step {i}: kernel name {name!r} is not a C identifier tc can "
                             "declare (it must match [A-Za-z_][A-Za-z0-9_]*, not be a C "
                             "keyword, a tc runtime function or start with 'tc_model_')")
        if arities.setdefault(name, len(step.args)) != len(step.args):
            raise ValueError(f"step {i}: kernel {name!r} called with {len(step.args)} "
                             f"arguments, but with {arities[name]} by an earlier step")
    return arities


def _check_ref(plan: ExecutionPlan, ref: TensorRef, where: str, nbytes: int = 0) -> None:
    """Raise ValueError if ``ref`` (and ``nbytes`` bytes from it) lies outside its tensor."""
    if ref.kind in (INPUT, OUTPUT):
        specs = plan.inputs if ref.kind == INPUT else plan.outputs
        if not 0 <= ref.index < len(specs):
            raise ValueError(f"{where}: {ref.kind} {ref.index} does not exist "
                             f"(the plan has {len(specs)} {ref.kind}s)")
        size, what = tensor_nbytes(specs[ref.index]), f"{ref.kind} {specs[ref.index].name!r}"
        offset = 0
    elif ref.kind in (WORKSPACE, CONSTANT):
        size = plan.workspace_bytes if ref.kind == WORKSPACE else len(plan.constants)
        what, offset = f"the {ref.kind} ({size} bytes)", ref.index
        # an offset equal to the size is a zero-byte tensor placed at the end
        if ref.index < 0 or ref.index > size:
            raise ValueError(f"{where}: offset {ref.index} is outside {what}")
    else:
        raise ValueError(f"{where}: unknown TensorRef kind {ref.kind!r}")
    if offset + nbytes > size:
        raise ValueError(f"{where}: {nbytes} bytes at offset {offset} overrun {what}")


def used_ref_kinds(plan: ExecutionPlan) -> set[str]:
    """The TensorRef kinds (input, output, workspace, constant) the plan's steps use."""
    return {ref.kind for step in plan.steps
            for ref in (step.args if isinstance(step, KernelCall) else (step.src, step.dst))}


def validate_plan(plan: ExecutionPlan) -> None:
    """Check every reference of ``plan`` is in range; raises ValueError naming the step."""
    kernel_arities(plan)
    if plan.workspace_bytes < 0:
        raise ValueError(f"workspace_bytes is negative ({plan.workspace_bytes})")
    for i, step in enumerate(plan.steps):
        if isinstance(step, KernelCall):
            for j, ref in enumerate(step.args):
                _check_ref(plan, ref, f"step {i} ({step.func}), argument {j}")
        elif isinstance(step, Copy):
            if step.dst.kind not in (OUTPUT, WORKSPACE):
                raise ValueError(f"step {i} (copy): the destination must be an output or "
                                 f"the workspace, not {step.dst.kind}")
            _check_ref(plan, step.src, f"step {i} (copy), source", step.nbytes)
            _check_ref(plan, step.dst, f"step {i} (copy), destination", step.nbytes)
        else:
            raise ValueError(f"step {i}: unknown step type {type(step).__name__}")


def artifact_metadata(plan: ExecutionPlan, target_triple: str | None = None) -> dict:
    """The JSON metadata an artifact returns from tc_model_metadata, plan.metadata merged
    in (it may set "target" and add fields, not override the reserved ones)."""
    from tc import __version__

    meta = {
        "format": ARTIFACT_FORMAT,
        "version": ARTIFACT_VERSION,
        "tc_version": __version__,
        "target": target_triple,
        "inputs": [spec_json(s) for s in plan.inputs],
        "outputs": [spec_json(s) for s in plan.outputs],
        "workspace_bytes": plan.workspace_bytes,
        "constants_bytes": len(plan.constants),
        "kernels": list(kernel_arities(plan)),
        "steps": step_metadata(plan),
    }
    if target_triple is not None:
        meta["triple"] = target_triple
    for key, value in plan.metadata.items():
        if key in _RESERVED_KEYS:
            raise ValueError(f"plan.metadata may not set the reserved key {key!r}")
        meta[key] = value
    return meta


def spec_json(spec: TensorSpec) -> dict:
    """A tensor's name, shape and dtype as the metadata lists it."""
    return {"name": spec.name, "shape": [int(d) for d in spec.shape],
            "dtype": np.dtype(spec.dtype).name}


def c_string_literal(text: str) -> str:
    """``text`` as one C string literal (UTF-8; quotes, backslashes, '?' against
    trigraphs, and non-printable bytes escaped)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")  # always 3 digits: the next char cannot join it
    return '"' + "".join(out) + '"'


def _c_string_lines(text: str, indent: str = "    ") -> str:
    """``text`` as adjacent C string literals, one per line of ``text``."""
    pieces = text.splitlines(keepends=True) or [""]
    return "\n".join(indent + c_string_literal(p) for p in pieces)


def _json_one_key_per_line(obj: dict) -> str:
    items = (f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=True)}" for k, v in obj.items())
    return "{" + ",\n ".join(items) + "}"


@dataclass(frozen=True)
class EntryFlavor:
    """Where the AOT entry's memory lives: the defaults are the CPU's (host pointers, the
    linked-in constants, ``memcpy``); a device artifact (``cuda_artifact``) changes them
    and wraps ``run_steps`` in its own exported entry points."""

    includes: tuple[str, ...] = ()       # more headers, after tc_runtime.h
    constants: str = CONSTANTS_SYMBOL    # C expression of the constants' base address
    copy: str = "memcpy"                 # C function (dst, src, nbytes) for a Copy step
    step_check: str = ""                 # C statement after each step; {what} -> a C string
    workspace_bytes: int | None = None   # what tc_model_workspace_bytes says (None: the plan's)
    run_wrappers: bool = True            # define tc_model_run/tc_model_profile over run_steps


CPU_ENTRY = EntryFlavor()


def _ref_expr(ref: TensorRef) -> str:
    if ref.kind == INPUT:
        return f"inputs[{ref.index}]"
    if ref.kind == OUTPUT:
        return f"outputs[{ref.index}]"
    if ref.kind == WORKSPACE:
        return f"ws + {ref.index}"
    return f"(void *)(cst + {ref.index})"


def _step_line(i: int, step: KernelCall | Copy, flavor: EntryFlavor = CPU_ENTRY) -> str:
    if isinstance(step, KernelCall):
        args = ", ".join(_ref_expr(a) for a in step.args)
        call = f"    {step.func}({args}); /* step {i}: {step.func} */"
        what = f"step {i} ({step.func})"
    else:
        call = (f"    {flavor.copy}({_ref_expr(step.dst)}, {_ref_expr(step.src)}, "
                f"{step.nbytes}); /* step {i}: copy */")
        what = f"step {i} (copy)"
    if flavor.step_check:
        call += "\n    " + flavor.step_check.format(what=c_string_literal(what))
    return call + f"\n    TC_STEP_DONE({i});"


def step_metadata(plan: ExecutionPlan) -> list[dict]:
    """One entry per plan step, in the order ``tc_model_profile`` times them: the kernel
    ("copy" for a memcpy), what it computes and its arithmetic work."""
    return [{"kernel": s.func, "label": s.label or s.func, "flops": s.flops}
            if isinstance(s, KernelCall) else
            {"kernel": "copy", "label": f"copy {s.nbytes} bytes", "flops": 0}
            for s in plan.steps]


def _name_table(kind: str, specs: tuple[TensorSpec, ...]) -> list[str]:
    if not specs:
        return []
    names = ", ".join(c_string_literal(s.name) for s in specs)
    return [f"static const char *const {kind}_names[] = {{{names}}};"]


def _null_checks(kind: str, specs: tuple[TensorSpec, ...]) -> list[str]:
    if not specs:
        return [f"    (void){kind}s;"]
    return [
        f"    if ({kind}s == NULL) {{",
        f'        tc_set_error("%s: the {kind}s array is NULL", who);',
        "        return 1;",
        "    }",
        f"    for (i = 0; i < {len(specs)}; i++) {{",
        f"        if ({kind}s[i] == NULL) {{",
        f"            tc_set_error(\"%s: {kind} %d ('%s') is NULL\", who, i, "
        f"{kind}_names[i]);",
        "            return 1;",
        "        }",
        "    }",
    ]


def write_entry_source(plan: ExecutionPlan, target_triple: str | None = None,
                       profiling: bool = True, constants_definition: str | None = None,
                       flavor: EntryFlavor = CPU_ENTRY) -> str:
    """The C source of the AOT entry: metadata, workspace size, ``tc_model_run``
    calling ``plan.steps`` in order and, with ``profiling``, ``tc_model_profile`` doing
    the same while timing each step (with POSIX ``clock_gettime``: boards without an OS
    build the entry without it). Needs tc_runtime.h on the include path and, when the
    plan has constants, a 64-byte aligned ``tc_model_constants`` symbol holding them
    (or ``constants_definition``, C source defining that array, to put in its place).
    ``flavor`` says how a device artifact's entry differs (see EntryFlavor)."""
    validate_plan(plan)
    arities = kernel_arities(plan)
    meta = artifact_metadata(plan, target_triple)
    workspace_bytes = plan.workspace_bytes
    if flavor.workspace_bytes is not None:
        meta["workspace_bytes"] = workspace_bytes = flavor.workspace_bytes
    metadata = _json_one_key_per_line(meta)
    used = used_ref_kinds(plan)
    ws_used, cst_used = WORKSPACE in used, CONSTANT in used

    lines = ["/* AOT entry of a tc artifact: generated code, do not edit. */"]
    if profiling:
        lines.append("#define _POSIX_C_SOURCE 199309L /* clock_gettime */")
    lines += ["#include <stddef.h>", "#include <stdint.h>", "#include <string.h>"]
    if profiling:
        lines.append("#include <time.h>")
    lines += [
        "",
        '#include "tc_runtime.h"',
        *(f'#include "{header}"' for header in flavor.includes),
        "",
    ]
    if arities:
        lines.append("/* kernels */")
        for name, arity in arities.items():
            params = ", ".join(["void *"] * arity) or "void"
            lines.append(f"void {name}({params});")
        lines.append("")
    if plan.constants and constants_definition is not None:
        lines.append(constants_definition)
    elif plan.constants:
        lines += [f"/* {len(plan.constants)} bytes of weights, 64-byte aligned, read-only */",
                  f"extern const unsigned char {CONSTANTS_SYMBOL}[];", ""]
    elif cst_used:  # only zero-byte constants: a valid address that is never read
        lines += [f"static const unsigned char {CONSTANTS_SYMBOL}[1];", ""]
    lines += [
        "static const char metadata_json[] =",
        _c_string_lines(metadata) + ";",
        "",
        *_name_table("input", plan.inputs),
        *_name_table("output", plan.outputs),
        "",
        "const char *tc_model_metadata(void) {",
        "    return metadata_json;",
        "}",
        "",
        "size_t tc_model_workspace_bytes(void) {",
        f"    return (size_t){workspace_bytes};",
        "}",
        "",
    ]
    if profiling:
        lines += [
            "static double now_seconds(void) {",
            "    struct timespec ts;",
            "    clock_gettime(CLOCK_MONOTONIC, &ts);",
            "    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;",
            "}",
            "",
        ]
    else:
        lines += ["static double now_seconds(void) { return 0.0; } /* no clock on this target */",
                  ""]
    lines += [
        "/* Validates the arguments, runs every step; when seconds is not NULL, adds each",
        "   step's wall time to seconds[step]. */",
        "static int run_steps(const char *who, void *const *inputs, void *const *outputs,",
        "                     void *workspace, double *seconds) {",
    ]
    if plan.inputs or plan.outputs:
        lines.append("    int i;")
    if ws_used:
        lines.append("    char *ws = (char *)workspace;")
    if cst_used:
        lines.append(f"    const unsigned char *cst = {flavor.constants};")
    lines += ["    double t = seconds != NULL ? now_seconds() : 0.0;",
              "    (void)who;",
              "    tc_clear_error();"]
    lines += _null_checks("input", plan.inputs)
    lines += _null_checks("output", plan.outputs)
    if plan.workspace_bytes > 0:
        lines += [
            "    if (workspace == NULL) {",
            f'        tc_set_error("%s: the workspace is NULL but the model needs '
            f'{plan.workspace_bytes} bytes", who);',
            "        return 1;",
            "    }",
            "    if (((uintptr_t)workspace & 63) != 0) {",
            '        tc_set_error("%s: the workspace must be 64-byte aligned", who);',
            "        return 1;",
            "    }",
        ]
    else:
        lines.append("    (void)workspace;")
    lines += ["",
              "#define TC_STEP_DONE(k) if (seconds != NULL) { double u = now_seconds(); "
              "seconds[k] += u - t; t = u; }"]
    lines += [_step_line(i, step, flavor) for i, step in enumerate(plan.steps)]
    lines += [
        "#undef TC_STEP_DONE",
        "    (void)t;",
        "    return 0;",
        "}",
        "",
    ]
    if not flavor.run_wrappers:
        return "\n".join(lines)
    lines += [
        "int tc_model_run(void *const *inputs, void *const *outputs, void *workspace) {",
        '    return run_steps("tc_model_run", inputs, outputs, workspace, NULL);',
        "}",
        "",
    ]
    if profiling:
        lines += [
            f"/* As tc_model_run, adding each step's seconds to step_seconds[0..{len(plan.steps)}) "
            "(metadata \"steps\" names them). */",
            "int tc_model_profile(void *const *inputs, void *const *outputs, void *workspace,",
            "                     double *step_seconds) {",
            '    return run_steps("tc_model_profile", inputs, outputs, workspace, step_seconds);',
            "}",
            "",
        ]
    return "\n".join(lines)


def constants_assembly(bin_path: Path, symbol: str = CONSTANTS_SYMBOL,
                       section: str = ".rodata.tc_constants") -> str:
    """Assembler source embedding the file ``bin_path`` as ``symbol`` (default
    ``tc_model_constants``; ELF: a 64-byte aligned read-only section, symbol hidden)."""
    quoted = str(bin_path).replace("\\", "\\\\").replace('"', '\\"')
    return "\n".join([
        f'    .section {section},"a",@progbits',
        "    .balign 64",
        f"    .globl {symbol}",
        f"    .hidden {symbol}",
        f"    .type {symbol}, @object",
        f"{symbol}:",
        f'    .incbin "{quoted}"',
        f"    .size {symbol}, . - {symbol}",
        '    .section .note.GNU-stack,"",@progbits',
        "",
    ])


def write_artifact(path: str | os.PathLike, kernels_object: bytes, plan: ExecutionPlan,
                   target_triple: str | None = None) -> None:
    """Link ``kernels_object`` (an object file defining the plan's kernels), the
    constants, the C runtime and the AOT entry into one shared library at ``path``.

    The file appears atomically (written under a temporary name, then renamed). Raises
    ValueError for an inconsistent plan and ToolchainError when compiling or linking
    fails (e.g. a kernel the object does not define)."""
    from tc.runtime import toolchain

    path = Path(path)
    entry = write_entry_source(plan, target_triple)
    if any(isinstance(s, KernelCall) for s in plan.steps) and not kernels_object:
        raise ValueError("the plan calls kernels but kernels_object is empty")
    runtime_obj = toolchain.runtime_object()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tc-artifact-") as tmp_dir:
        tmp = Path(tmp_dir)
        sources = []
        if kernels_object:
            (tmp / "kernels.o").write_bytes(kernels_object)
            sources.append(tmp / "kernels.o")
        (tmp / "entry.c").write_text(entry)
        sources.append(tmp / "entry.c")
        if plan.constants:
            (tmp / "constants.bin").write_bytes(plan.constants)
            (tmp / "constants.s").write_text(constants_assembly(tmp / "constants.bin"))
            sources.append(tmp / "constants.s")
        version_script = tmp / "exports.map"
        version_script.write_text(toolchain.version_script_text())
        with toolchain.atomic_output(path) as tmp_out:
            toolchain.run_compiler(
                [*toolchain.shared_library_flags(version_script), "-O2", "-fvisibility=hidden",
                 "-I", str(toolchain.runtime_include_dir()), "-o", str(tmp_out),
                 *map(str, sources), str(runtime_obj), *toolchain.LINK_LIBS],
                f"linking the artifact {path}")
