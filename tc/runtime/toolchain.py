"""The system C toolchain: find the compiler, build the C runtime once, link artifacts.

The runtime object is cached under ``$TC_CACHE_DIR/runtime/<key>/`` (default
``~/.cache/tc``), keyed by the runtime sources, the compiler and its version, and the
flags; it is written to a temporary name and renamed into place, so concurrent
processes (pytest-xdist) can build it at the same time safely.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

RUNTIME_SOURCE_DIR = Path(__file__).parent / "c"
RUNTIME_FLAGS = ("-std=c99", "-O2", "-fPIC", "-fvisibility=hidden", "-pthread")
LINK_LIBS = ("-lm", "-lpthread")

# Everything an artifact exports; the rest of its symbols (kernels, runtime internals)
# are made local so two artifacts loaded in one process cannot interpose on each other.
ABI_SYMBOLS = (
    "tc_model_metadata",
    "tc_model_workspace_bytes",
    "tc_model_run",
    "tc_model_profile",
    "tc_last_error",
    "tc_set_num_threads",
    "tc_get_num_threads",
)


class ToolchainError(RuntimeError):
    """The C compiler is missing or a compile/link step failed."""


@functools.lru_cache(maxsize=None)
def find_c_compiler() -> tuple[str, ...]:
    """The C compiler command: ``$CC`` (may hold arguments, e.g. "ccache gcc"), else
    the first of cc, gcc, clang on PATH."""
    env_cc = os.environ.get("CC", "").strip()
    if env_cc:
        argv = shlex.split(env_cc)
        if shutil.which(argv[0]) is None:
            raise ToolchainError(f"CC={env_cc!r} is not an executable on PATH; "
                                 "set CC to a C compiler, or unset it to use cc/gcc/clang")
        return tuple(argv)
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return (path,)
    raise ToolchainError("tc needs a C compiler to link artifacts; install gcc or set CC")


@functools.lru_cache(maxsize=None)
def compiler_version(cc: tuple[str, ...]) -> str:
    """The compiler's ``--version`` banner (part of the runtime cache key)."""
    proc = subprocess.run([*cc, "--version"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"{' '.join(cc)} --version failed:\n{proc.stderr}")
    return proc.stdout


def run_tool(cmd: list[str], what: str) -> None:
    """Run ``cmd`` (a compiler or linker); raise ToolchainError with the command line and
    its output when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        line = " ".join(shlex.quote(a) for a in cmd)
        raise ToolchainError(f"{what} failed (exit {proc.returncode}):\n$ {line}\n"
                             f"{proc.stdout}{proc.stderr}")


def run_compiler(args: list[str], what: str) -> None:
    """Run the C compiler with ``args``; raise ToolchainError with its output on failure."""
    run_tool([*find_c_compiler(), *args], what)


@contextlib.contextmanager
def atomic_output(path: Path):
    """Yield a temporary path beside ``path`` for a tool to write; on success it is
    renamed to ``path`` (readers never see a half-written file), on failure removed."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def source_digest(sources, *extra: str) -> str:
    """A cache key for objects built from ``sources`` (paths: names and contents) with
    ``extra`` (compiler, version, flags)."""
    h = hashlib.sha256()
    for src in sources:
        h.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    h.update("\0".join(extra).encode())
    return h.hexdigest()[:24]


def runtime_include_dir() -> Path:
    """The folder holding tc_runtime.h."""
    return RUNTIME_SOURCE_DIR


def runtime_sources() -> list[Path]:
    """The C runtime's translation units, in a stable order."""
    return sorted(RUNTIME_SOURCE_DIR.glob("*.c"))


def cache_dir() -> Path:
    """tc's cache root: ``$TC_CACHE_DIR``, else ``$XDG_CACHE_HOME/tc`` or ``~/.cache/tc``."""
    if os.environ.get("TC_CACHE_DIR"):
        return Path(os.environ["TC_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tc"


def _runtime_key(cc: tuple[str, ...]) -> str:
    return source_digest([*runtime_sources(), RUNTIME_SOURCE_DIR / "tc_runtime.h"],
                         *cc, compiler_version(cc), *RUNTIME_FLAGS)


def runtime_object() -> Path:
    """The C runtime compiled into one relocatable object, built on first use and cached."""
    cc = find_c_compiler()
    target = cache_dir() / "runtime" / _runtime_key(cc) / "tc_runtime.o"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolchainError(f"cannot create tc's cache folder {target.parent} ({exc}); "
                             "set TC_CACHE_DIR to a writable folder") from None
    with tempfile.TemporaryDirectory(prefix="tc-runtime-", dir=target.parent) as tmp:
        objects = []
        for src in runtime_sources():
            obj = Path(tmp) / (src.stem + ".o")
            run_compiler([*RUNTIME_FLAGS, "-I", str(RUNTIME_SOURCE_DIR), "-c", str(src),
                          "-o", str(obj)], f"compiling the tc runtime ({src.name})")
            objects.append(str(obj))
        combined = Path(tmp) / "tc_runtime.o"
        # A partial link (-r) gives one object file to hand to every artifact link.
        run_compiler(["-r", "-nostdlib", "-o", str(combined), *objects],
                     "combining the tc runtime objects")
        os.replace(combined, target)
    return target


def shared_library_flags(version_script: Path | None) -> list[str]:
    """Flags that link a position-independent shared library exporting only the ABI
    (the version script applies on ELF platforms, where GNU-style linkers take one)."""
    flags = ["-shared", "-fPIC", "-pthread"]
    if sys.platform.startswith("linux") and version_script is not None:
        flags += [f"-Wl,--version-script={version_script}", "-Wl,-z,noexecstack",
                  "-Wl,--no-undefined"]  # a kernel the object lacks fails here, not at load
    return flags


def version_script_text(extra: tuple[str, ...] = ()) -> str:
    """A linker version script exporting ABI_SYMBOLS (and ``extra``, e.g. a device
    artifact's additional entry points) and hiding everything else."""
    exported = "".join(f"    {name};\n" for name in (*ABI_SYMBOLS, *extra))
    return "{\n  global:\n" + exported + "  local:\n    *;\n};\n"
