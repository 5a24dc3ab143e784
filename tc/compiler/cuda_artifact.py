"""The CUDA artifact writer: CUDA kernels + ExecutionPlan -> one shared library, by nvcc
or, without nvcc, by NVRTC and the C compiler.

The library holds the kernels (``kernels.cu`` from the CUDA code generator: host
launchers ``extern "C" void NAME(void *, ...)`` taking device pointers), the generated AOT
entry (``entry.c``: ``write_entry_source`` with device pointers, see ``CUDA_ENTRY``), the
CUDA runtime support (tc/runtime/c/cuda/), the ordinary C runtime and the constants
(embedded as on the CPU, uploaded to the device on the first run). The CUDA runtime is
linked statically (``-cudart static``): loading the library needs no GPU and no driver,
only running it does.

Without nvcc (or when chosen: target option ``-compiler=nvrtc``, or
``$TC_CUDA_COMPILER=nvrtc``; see ``cuda_compiler``), NVRTC compiles the kernels to SASS
and PTX (tc/targets/nvrtc.py), embedded in the library, and the C compiler builds the
rest: the launchers as plain C (``CudaSource.c_launchers``) launching through the driver
API, which the runtime opens with dlopen at the first run (tc_cuda_driver.c). Both
builds share the runtime's life cycle (tc_cuda_runtime.c) and differ only in its
device-API layer (tc_cuda_device.h).

It exports the model ABI of tc_runtime.h with inputs and outputs in HOST memory
(``tc_model_workspace_bytes()`` is 0: the device arena belongs to the loaded module)
plus ``tc_model_run_device`` (device pointers), ``tc_cuda_sync_stream`` and
``tc_cuda_rerun`` (the kernels again on the device copies, for timing); see
tc/runtime/c/cuda/tc_cuda_entry.h. The metadata adds ``"device": "cuda"``, ``"arch"``,
``"device_workspace_bytes"`` and ``"cuda_compiler"`` ("nvcc" or "nvrtc", with
``"nvrtc_version"``).
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from tc.compiler.aot_plan import CONSTANT, ExecutionPlan, KernelCall
from tc.compiler.artifact import (CONSTANTS_SYMBOL, EntryFlavor, c_string_literal,
                                  constants_assembly,
                                  tensor_nbytes, used_ref_kinds, write_entry_source)
from tc.runtime import toolchain
from tc.runtime.toolchain import RUNTIME_SOURCE_DIR, ToolchainError

CUDA_RUNTIME_DIR = RUNTIME_SOURCE_DIR / "cuda"  # tc_cuda.h, tc_cuda_entry.h, the .cu
# Exported besides toolchain.ABI_SYMBOLS.
CUDA_SYMBOLS = ("tc_model_run_device", "tc_cuda_sync_stream", "tc_cuda_rerun")
COMPILERS = ("nvcc", "nvrtc")
IMAGE_SYMBOL = "tc_cuda_kernel_image"  # an NVRTC build's tc_cuda_image
DEFAULT_ARCH = "sm_80"
_ARCH = re.compile(r"sm_(\d+)(\d)([af]?)\Z")

CUDA_ENTRY = EntryFlavor(
    includes=("tc_cuda_entry.h",),
    constants="tc_cuda_constants()",
    copy="tc_cuda_copy",
    step_check="if (tc_cuda_step_failed({what}, seconds != NULL)) return 1;",
    workspace_bytes=0,
    run_wrappers=False,
)


def target_arch(target) -> str:
    """The ``sm_XY`` the kernels are built for: the target's ``cuda_arch`` when it has
    one (the arch detected from the device), else its ``-arch``, else sm_80."""
    arch = getattr(target, "cuda_arch", None) or target.option("arch") or DEFAULT_ARCH
    parse_arch(arch)
    return arch


def parse_arch(arch: str) -> tuple[int, int, str]:
    """``"sm_86"`` -> (8, 6, ""); the suffix "a" (``sm_90a``: arch-specific code, which
    runs on exactly that compute capability) or "f" (``sm_100f``: family code, for the
    same major version) comes third. Raises ValueError for another form."""
    match = _ARCH.match(arch)
    if not match:
        raise ValueError(f"CUDA arch {arch!r} is not of the form sm_XY (e.g. sm_80, sm_90)")
    return int(match.group(1)), int(match.group(2)), match.group(3)


def find_nvcc() -> str:
    """nvcc: on PATH, else under $CUDA_HOME (or $CUDA_PATH) or /usr/local/cuda; raises
    ToolchainError saying to install the CUDA toolkit."""
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and os.access(os.path.join(root, "bin", "nvcc"), os.X_OK):
            return os.path.join(root, "bin", "nvcc")
    raise ToolchainError("building for a CUDA target needs nvcc, the CUDA toolkit's compiler: "
                         "it is not on PATH, nor under $CUDA_HOME or /usr/local/cuda; install "
                         "the CUDA toolkit (or build for \"llvm\" to run on the CPU)")


def cuda_compiler(target=None) -> str:
    """Which compiler builds a CUDA artifact: the target's ``-compiler`` option, else
    ``$TC_CUDA_COMPILER``, else nvcc when it is installed, else NVRTC when its packages
    are; raises ToolchainError naming both when neither is, ValueError for another
    name."""
    option = target.option("compiler") if hasattr(target, "option") else None
    choice = option or os.environ.get("TC_CUDA_COMPILER", "").strip()
    if choice:
        if choice not in COMPILERS:
            source = "-compiler" if option else "TC_CUDA_COMPILER"
            raise ValueError(f"{source}={choice!r}: the CUDA compiler is one of "
                             f"{', '.join(COMPILERS)}")
        return choice
    try:
        find_nvcc()
        return "nvcc"
    except ToolchainError:
        pass
    from tc.targets.nvrtc import nvrtc_available

    if nvrtc_available():
        return "nvrtc"
    raise ToolchainError("building for a CUDA target needs nvcc, the CUDA toolkit's compiler, "
                         "or NVRTC: nvcc is not on PATH, nor under $CUDA_HOME or "
                         "/usr/local/cuda, and the NVRTC packages are not installed; install "
                         "the CUDA toolkit, or pip install \"tc[nvrtc]\" (or build for "
                         "\"llvm\" to run on the CPU)")


def run_nvcc(args: list[str], what: str) -> None:
    """Run nvcc with ``args``; raise ToolchainError with its output on failure."""
    toolchain.run_tool([find_nvcc(), *args], what)


@functools.lru_cache(maxsize=None)
def nvcc_version() -> str:
    """nvcc's ``--version`` banner (part of the CUDA runtime object's cache key)."""
    proc = subprocess.run([find_nvcc(), "--version"], capture_output=True, text=True,
                          check=False)
    return proc.stdout


def _includes() -> list[str]:
    return ["-I", str(toolchain.runtime_include_dir()), "-I", str(CUDA_RUNTIME_DIR)]


def _combined_object(kind: str, key_parts: list[str], compile_layer) -> Path:
    """The CUDA runtime's life cycle (tc_cuda_runtime.c, by the C compiler) and one
    device-API layer (``compile_layer(folder)`` writes its object there and returns it)
    as one object, built on first use and cached beside the C runtime's (see
    toolchain.runtime_object), keyed by the runtime's sources, the tools and flags."""
    cc = toolchain.find_c_compiler()
    sources = sorted([*CUDA_RUNTIME_DIR.glob("*.c"), *CUDA_RUNTIME_DIR.glob("*.cu"),
                      *CUDA_RUNTIME_DIR.glob("*.h"), RUNTIME_SOURCE_DIR / "tc_runtime.h"])
    key = toolchain.source_digest(sources, *cc, toolchain.compiler_version(cc),
                                  *toolchain.RUNTIME_FLAGS, *key_parts)
    target = toolchain.cache_dir() / kind / key / f"{kind}.o"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{kind}-", dir=target.parent) as tmp_dir:
        tmp = Path(tmp_dir)
        life_cycle = tmp / "tc_cuda_runtime.o"
        toolchain.run_compiler([*toolchain.RUNTIME_FLAGS, *_includes(), "-c",
                                str(CUDA_RUNTIME_DIR / "tc_cuda_runtime.c"), "-o",
                                str(life_cycle)], "compiling the tc CUDA runtime")
        layer = compile_layer(tmp)
        with toolchain.atomic_output(target) as out:
            toolchain.run_compiler(["-r", "-nostdlib", "-o", str(out), str(life_cycle),
                                    str(layer)], f"combining the {kind} objects")
    return target


def cuda_runtime_object() -> Path:
    """The CUDA runtime of nvcc builds: the life cycle over the CUDA runtime API
    (tc_cuda_cudart.cu, host code only, so for every arch), one cached object."""
    flags = ["-c", "-O2", "-Xcompiler", "-fPIC,-fvisibility=hidden,-pthread"]

    def compile_layer(tmp: Path) -> Path:
        run_nvcc([*flags, *_includes(), str(CUDA_RUNTIME_DIR / "tc_cuda_cudart.cu"),
                  "-o", str(tmp / "tc_cuda_cudart.o")], "compiling the tc CUDA runtime")
        return tmp / "tc_cuda_cudart.o"

    return _combined_object("cuda-runtime", [nvcc_version(), *flags], compile_layer)


def driver_runtime_object() -> Path:
    """The CUDA runtime of NVRTC builds: the life cycle over the driver API
    (tc_cuda_driver.c, by the C compiler: no CUDA header needed), one cached object."""
    def compile_layer(tmp: Path) -> Path:
        toolchain.run_compiler([*toolchain.RUNTIME_FLAGS, *_includes(), "-c",
                                str(CUDA_RUNTIME_DIR / "tc_cuda_driver.c"), "-o",
                                str(tmp / "tc_cuda_driver.o")],
                               "compiling the tc CUDA runtime (driver API)")
        return tmp / "tc_cuda_driver.o"

    return _combined_object("cuda-driver-runtime", [], compile_layer)


def cuda_entry_source(plan: ExecutionPlan, arch: str, image: bool = False) -> str:
    """The C source of a CUDA artifact's AOT entry: the plan's steps on device pointers
    (``write_entry_source`` with ``CUDA_ENTRY``), the model's description for the CUDA
    runtime and the exported entry points over it. With ``image`` (NVRTC builds) the
    model names the kernel image (IMAGE_SYMBOL) the runtime loads."""
    major, minor, suffix = parse_arch(arch)
    match = {"": "TC_CUDA_ARCH_OR_LATER", "a": "TC_CUDA_ARCH_EXACT",
             "f": "TC_CUDA_ARCH_FAMILY"}[suffix]
    lines = [write_entry_source(plan, None, flavor=CUDA_ENTRY)]
    # the entry declares tc_model_constants when it has constants or refers to some
    uses_constants = bool(plan.constants) or CONSTANT in used_ref_kinds(plan)
    for kind, specs in (("input", plan.inputs), ("output", plan.outputs)):
        if specs:
            sizes = ", ".join(str(tensor_nbytes(s)) for s in specs)
            lines.append(f"static const size_t {kind}_bytes[] = {{{sizes}}};")
    field = {kind: (f"{kind}_bytes", f"{kind}_names") if specs else ("NULL", "NULL")
             for kind, specs in (("input", plan.inputs), ("output", plan.outputs))}
    if image:
        lines.append(f"extern const tc_cuda_image {IMAGE_SYMBOL};")
    lines += [
        "",
        "static const tc_cuda_model model = {",
        f"    {c_string_literal(arch)}, {major}, {minor}, {match},",
        f"    {CONSTANTS_SYMBOL if uses_constants else 'NULL'}, {len(plan.constants)},",
        f"    {plan.workspace_bytes},",
        f"    {len(plan.inputs)}, {len(plan.outputs)},",
        f"    {field['input'][0]}, {field['output'][0]},",
        f"    {field['input'][1]}, {field['output'][1]},",
        "    run_steps,",
        f"    {'&' + IMAGE_SYMBOL if image else 'NULL'},",
        "};",
        "",
        "/* Host inputs and outputs; the workspace is unused (the device arena is the",
        "   module's own, tc_model_workspace_bytes() is 0). */",
        "int tc_model_run(void *const *inputs, void *const *outputs, void *workspace) {",
        "    (void)workspace;",
        '    return tc_cuda_run_host(&model, "tc_model_run", inputs, outputs, NULL);',
        "}",
        "",
        f"/* As tc_model_run, adding each step's seconds to step_seconds[0..{len(plan.steps)}) "
        "(synchronizing after each step). */",
        "int tc_model_profile(void *const *inputs, void *const *outputs, void *workspace,",
        "                     double *step_seconds) {",
        "    (void)workspace;",
        '    return tc_cuda_run_host(&model, "tc_model_profile", inputs, outputs, '
        "step_seconds);",
        "}",
        "",
        "/* Device inputs and outputs, no copies; returns when the outputs are written. */",
        "int tc_model_run_device(void *const *inputs, void *const *outputs) {",
        '    return tc_cuda_run_device(&model, "tc_model_run_device", inputs, outputs);',
        "}",
        "",
        "/* The kernels again on the last host run's device copies (timing; see",
        "   tc_cuda_entry.h). */",
        "int tc_cuda_rerun(int times) {",
        '    return tc_cuda_run_again(&model, "tc_cuda_rerun", times);',
        "}",
        "",
    ]
    return "\n".join(lines)


def nvcc_link_flags(arch: str, version_script: Path) -> list[str]:
    """nvcc flags linking a shared library for ``arch`` with the static CUDA runtime,
    exporting only what ``version_script`` lists."""
    return ["-shared", "-Xcompiler", "-fPIC,-fvisibility=hidden,-pthread", "-cudart", "static",
            f"-arch={arch}", "-O2",
            "-Xlinker", f"--version-script={version_script}", "-Xlinker", "-z,noexecstack",
            "-Xlinker", "--no-undefined"]


def write_cuda_artifact(path: str | os.PathLike, cuda_source, plan: ExecutionPlan,
                        target) -> None:
    """Compile and link ``cuda_source`` (a ``CudaSource``: its ``source`` defines the
    plan's kernels as host launchers; None when the plan calls no kernel), the entry,
    the CUDA and C runtimes and the constants into one shared library at ``path``, for
    the target's arch, with nvcc or NVRTC (``cuda_compiler``).

    The file appears atomically (written under a temporary name, then renamed). Raises
    ValueError for an inconsistent plan and ToolchainError when no CUDA compiler is
    installed or a compile/link step fails."""
    path = Path(path)
    arch = target_arch(target)
    compiler = cuda_compiler(target)
    metadata = {**plan.metadata, "device": "cuda", "arch": arch,
                "device_workspace_bytes": plan.workspace_bytes, "cuda_compiler": compiler}
    calls_kernels = any(isinstance(s, KernelCall) for s in plan.steps)
    if calls_kernels and (cuda_source is None or not cuda_source.source):
        raise ValueError("the plan calls kernels but there is no CUDA source defining them")
    if compiler == "nvrtc":
        from tc.targets.nvrtc import nvrtc_version

        metadata["nvrtc_version"] = "%d.%d" % nvrtc_version()
        _write_nvrtc_artifact(path, cuda_source if calls_kernels else None,
                              replace(plan, metadata=metadata), arch)
    else:
        _write_nvcc_artifact(path, cuda_source if calls_kernels else None,
                             replace(plan, metadata=metadata), arch)


def _constants_object(plan: ExecutionPlan, tmp: Path) -> list[Path]:
    """The plan's constants assembled into an object in ``tmp`` (none when it has none)."""
    if not plan.constants:
        return []
    (tmp / "constants.bin").write_bytes(plan.constants)
    (tmp / "constants.s").write_text(constants_assembly(tmp / "constants.bin"))
    toolchain.run_compiler(["-c", str(tmp / "constants.s"), "-o", str(tmp / "constants.o")],
                           "assembling the constants")
    return [tmp / "constants.o"]


def _write_nvcc_artifact(path: Path, cuda_source, plan: ExecutionPlan, arch: str) -> None:
    """nvcc compiles the kernels and their launchers and links the library."""
    entry = cuda_entry_source(plan, arch)
    find_nvcc()
    runtime_obj = toolchain.runtime_object()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tc-cuda-artifact-") as tmp_dir:
        tmp = Path(tmp_dir)
        sources = [tmp / "entry.c", cuda_runtime_object()]
        (tmp / "entry.c").write_text(entry)
        if cuda_source is not None:
            (tmp / "kernels.cu").write_text(cuda_source.source)
            sources.insert(0, tmp / "kernels.cu")
        # nvcc does not assemble .s files: the host compiler does, as on the CPU
        sources += _constants_object(plan, tmp)
        version_script = tmp / "exports.map"
        version_script.write_text(toolchain.version_script_text(CUDA_SYMBOLS))
        with toolchain.atomic_output(path) as tmp_out:
            run_nvcc([*nvcc_link_flags(arch, version_script), *_includes(),
                      "-o", str(tmp_out), *map(str, sources), str(runtime_obj),
                      *toolchain.LINK_LIBS],
                     f"compiling and linking the CUDA artifact {path}")


def kernel_image_source(cuda_source, cubin_bytes: int, nvrtc_version: tuple[int, int]) -> str:
    """The C of an NVRTC build's kernels: the image (IMAGE_SYMBOL: the embedded
    ``tc_cuda_cubin`` of ``cubin_bytes`` bytes, ``tc_cuda_ptx``, the kernel names in
    launch-number order, the CUDA version of the NVRTC that built them, which the driver
    must support) and the launchers (``cuda_source.c_launchers``)."""
    major, minor = nvrtc_version
    names = [launch.kernel for func in cuda_source.func_names
             for launch in cuda_source.launches[func]]
    table = ",\n".join(f"    {c_string_literal(n)}" for n in names)
    return "\n".join([
        "/* The kernels of an NVRTC build: SASS and PTX embedded beside this file, loaded and",
        " * launched through the driver API (tc_cuda_driver.c). */",
        "#include <stddef.h>",
        '#include "tc_runtime.h"',
        '#include "tc_cuda_entry.h"',
        "",
        "extern const unsigned char tc_cuda_cubin[];",
        "extern const char tc_cuda_ptx[];",
        f"static const char *const kernel_names[{max(len(names), 1)}] = {{",
        table or "    NULL",
        "};",
        f"const tc_cuda_image {IMAGE_SYMBOL} = {{tc_cuda_cubin, {cubin_bytes}, tc_cuda_ptx, "
        f"{len(names)}, kernel_names, {1000 * major + 10 * minor}}};",
        "",
        cuda_source.c_launchers,
    ])


def _write_nvrtc_artifact(path: Path, cuda_source, plan: ExecutionPlan, arch: str) -> None:
    """NVRTC compiles the kernels (embedded as SASS + PTX); the C compiler builds the
    launchers, the entry and the driver-API runtime and links the library."""
    from tc.targets.nvrtc import compile_cuda, nvrtc_version

    image = compile_cuda(cuda_source.source, arch) if cuda_source is not None else None
    entry = cuda_entry_source(plan, arch, image=image is not None)
    runtime_obj = toolchain.runtime_object()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tc-cuda-artifact-") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "entry.c").write_text(entry)
        sources = [tmp / "entry.c", *_constants_object(plan, tmp)]
        if image is not None:
            (tmp / "kernels.c").write_text(kernel_image_source(cuda_source, len(image.cubin),
                                                               nvrtc_version()))
            (tmp / "cubin.bin").write_bytes(image.cubin)
            (tmp / "ptx.bin").write_bytes(image.ptx + b"\0")
            (tmp / "image.s").write_text(
                constants_assembly(tmp / "cubin.bin", "tc_cuda_cubin", ".rodata.tc_cuda_cubin")
                + constants_assembly(tmp / "ptx.bin", "tc_cuda_ptx", ".rodata.tc_cuda_ptx"))
            sources += [tmp / "kernels.c", tmp / "image.s"]
        version_script = tmp / "exports.map"
        version_script.write_text(toolchain.version_script_text(CUDA_SYMBOLS))
        with toolchain.atomic_output(path) as tmp_out:
            toolchain.run_compiler(
                [*toolchain.shared_library_flags(version_script), *toolchain.RUNTIME_FLAGS,
                 *_includes(), "-o", str(tmp_out), *map(str, sources),
                 str(driver_runtime_object()), str(runtime_obj), *toolchain.LINK_LIBS, "-ldl"],
                f"compiling and linking the CUDA artifact {path} (NVRTC build)")
