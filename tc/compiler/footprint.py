"""The footprint of a board artifact, measured by compiling its folder: code bytes,
read-only data, RAM and stack, as a board's linker map would show them.

The folder's C files are compiled with the board's compiler (``CC``/``CFLAGS`` from the
environment, else the cross compiler named after an LLVM target's triple when it is on
PATH, else the host's ``cc``) with ``-fstack-usage``; section sizes come from the
objects' ELF section headers, so no ``size`` tool is needed.
"""
from __future__ import annotations

import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHT_NOBITS = 8


@dataclass(frozen=True)
class Footprint:
    """Bytes a model takes on a board, and the compiler that measured them."""

    compiler: str
    code_bytes: int      # executable sections (kernels, entry, runtime)
    rodata_bytes: int    # read-only data: the constants, the metadata string, tables
    data_bytes: int      # initialized RAM
    bss_bytes: int       # zero-initialized RAM: the error buffer, static temporaries
    constant_bytes: int  # the weights (inside rodata)
    arena_bytes: int     # the workspace the caller provides
    stack_bytes: int | None  # tc_model_run's deepest frame chain; None if unknown

    def lines(self) -> list[str]:
        """The report tc-build prints."""
        stack = (f"{self.stack_bytes} B (tc_model_run -> the deepest kernel; libm calls "
                 "not counted)" if self.stack_bytes is not None else "unknown")
        return [f"footprint ({self.compiler}):",
                f"  code      {self.code_bytes} B",
                f"  read-only {self.rodata_bytes} B (constants {self.constant_bytes} B)",
                f"  RAM       {self.data_bytes + self.bss_bytes} B static "
                f"+ {self.arena_bytes} B workspace arena",
                f"  stack     {stack}"]


def board_compiler(target) -> tuple[list[str], list[str]]:
    """The compiler command and flags to measure with (see the module docstring)."""
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"]), shlex.split(os.environ.get("CFLAGS", "-O2"))
    flags = shlex.split(os.environ.get("CFLAGS", "-O2"))
    triple = getattr(target, "mtriple", "")
    if triple and shutil.which(f"{triple}-gcc"):
        return [f"{triple}-gcc"], flags
    return ["cc"], flags


def measure_footprint(folder: str | Path, cc: list[str], cflags: list[str],
                      constant_bytes: int, arena_bytes: int) -> Footprint:
    """Compile every C file of ``folder`` (and take ``kernels.o`` as built) and add up
    their sections; raises RuntimeError with the compiler's message if one fails."""
    folder = Path(folder).resolve()  # the compiler runs in a temporary folder
    totals = {"code": 0, "rodata": 0, "data": 0, "bss": 0}
    frames: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="tc-footprint-") as tmp:
        objects = [folder / "kernels.o"] if (folder / "kernels.o").exists() else []
        for src in sorted(folder.glob("*.c")):
            obj = Path(tmp) / (src.stem + ".o")
            cmd = [*cc, "-std=c99", *cflags, "-fstack-usage", "-I", str(folder), "-c",
                   str(src), "-o", str(obj)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            if proc.returncode != 0:
                raise RuntimeError(f"measuring the footprint: {shlex.join(cmd)} failed:\n"
                                   f"{proc.stderr.strip()}")
            objects.append(obj)
            frames.update(_stack_frames(obj.with_suffix(".su")))
        for obj in objects:
            for kind, size in _section_sizes(obj.read_bytes()):
                totals[kind] += size
    kernels = [size for name, size in frames.items() if name.startswith("tc_k")]
    stack = None  # unknown without gcc's frame sizes, or with kernels from an object file
    if "tc_model_run" in frames and not (folder / "kernels.o").exists():
        # run_steps is often inlined into tc_model_run (then it has no frame of its own)
        stack = frames["tc_model_run"] + frames.get("run_steps", 0) + max(kernels, default=0)
    return Footprint("compiled with " + " ".join([*cc, *cflags]), totals["code"], totals["rodata"],
                     totals["data"], totals["bss"], constant_bytes, arena_bytes, stack)


def library_footprint(path: str | Path, constant_bytes: int, arena_bytes: int) -> Footprint:
    """The sections of a built shared library (the host artifact), for comparison with a
    board folder's figures: its code includes the thread pool and the dynamic-linking
    tables count as read-only data; the stack is not measured."""
    totals = {"code": 0, "rodata": 0, "data": 0, "bss": 0}
    for kind, size in _section_sizes(Path(path).read_bytes()):
        totals[kind] += size
    return Footprint(f"the shared library {Path(path).name}", totals["code"], totals["rodata"],
                     totals["data"], totals["bss"], constant_bytes, arena_bytes, None)


def _stack_frames(su_file: Path) -> dict[str, int]:
    """Function -> frame bytes from gcc's ``-fstack-usage`` file (empty if absent)."""
    if not su_file.exists():
        return {}
    frames = {}
    for line in su_file.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1].isdigit():
            frames[parts[0].rsplit(":", 1)[-1]] = int(parts[1])
    return frames


def _section_sizes(elf: bytes) -> list[tuple[str, int]]:
    """(kind, size) of each allocated section of an ELF object (32- or 64-bit, either
    byte order); kind is code, rodata, data or bss."""
    if elf[:4] != b"\x7fELF":
        raise RuntimeError("not an ELF object: the footprint needs ELF (gcc, clang)")
    is64, order = elf[4] == 2, "<" if elf[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(order + "Q", elf, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", elf, 0x3A)
    else:
        shoff, = struct.unpack_from(order + "I", elf, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", elf, 0x2E)
    sizes = []
    for i in range(shnum):
        base = shoff + i * shentsize
        if is64:
            _, sh_type, flags = struct.unpack_from(order + "IIQ", elf, base)
            size, = struct.unpack_from(order + "Q", elf, base + 0x20)
        else:
            _, sh_type, flags = struct.unpack_from(order + "III", elf, base)
            size, = struct.unpack_from(order + "I", elf, base + 0x14)
        if not flags & SHF_ALLOC or size == 0:
            continue
        kind = ("code" if flags & SHF_EXECINSTR else "bss" if sh_type == SHT_NOBITS
                else "data" if flags & SHF_WRITE else "rodata")
        sizes.append((kind, size))
    return sizes
