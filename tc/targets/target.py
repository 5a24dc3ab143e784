"""Compilation targets: parsing ``"llvm -mcpu=znver3 -mattr=+avx2,+fma"`` and friends.

A :class:`Target` records what the user wrote; :meth:`Target.resolved` fills in what was
left out (for ``llvm`` on the host: the host's triple, CPU name and CPU features, asked of
LLVM through llvmlite).  Host detection runs on first use, never at import.

Accepted forms::

    llvm [-mtriple=TRIPLE] [-mcpu=CPU] [-mattr=+feat,-feat,...] [-key=value ...]
    c    [-key=value ...]
    cuda [-arch=sm_XY] [-key=value ...]
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass, replace

import numpy as np

KINDS = ("llvm", "c", "cuda")

_FORMS = ('"llvm [-mtriple=TRIPLE] [-mcpu=CPU] [-mattr=+avx2,+fma]", '
          '"c", or "cuda [-arch=sm_90]" (extra options are written "-key=value")')

# Vector register width in bytes implied by a CPU name when no -mattr says otherwise.
_CPU_VECTOR_BYTES = {
    **dict.fromkeys(("skylake-avx512", "cascadelake", "cooperlake", "icelake-client",
                     "icelake-server", "tigerlake", "sapphirerapids", "graniterapids",
                     "emeraldrapids", "znver4", "znver5", "knl", "knm", "x86-64-v4"), 64),
    **dict.fromkeys(("haswell", "broadwell", "skylake", "alderlake", "raptorlake",
                     "meteorlake", "znver1", "znver2", "znver3", "bdver4", "x86-64-v3",
                     "sandybridge", "ivybridge", "btver2", "bdver1", "bdver2", "bdver3"), 32),
}

#: the -arch of a cuda target: sm_ and the compute capability's digits, optionally "a"
#: (arch-specific features) or "f" (family)
_CUDA_ARCH = re.compile(r"sm_[1-9][0-9]{1,2}[af]?\Z")
#: the arch when neither -arch nor a GPU says: Ampere (nvcc embeds its PTX too, which the
#: driver compiles for any later GPU)
DEFAULT_CUDA_ARCH = "sm_80"

# Conservative cache sizes (bytes) used when the host's sysfs does not say.
_DEFAULT_CACHES = {1: 32 * 1024, 2: 512 * 1024, 3: 8 * 1024 * 1024}


@dataclass(frozen=True)
class Target:
    """A compilation target. ``options`` holds every other ``-key=value`` as sorted pairs."""

    kind: str
    mcpu: str = ""
    mattr: tuple[str, ...] = ()
    mtriple: str = ""
    options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}; expected {_FORMS}")
        object.__setattr__(self, "mattr", tuple(self.mattr))
        opts = self.options.items() if isinstance(self.options, dict) else self.options
        object.__setattr__(self, "options", tuple(sorted((str(k), str(v)) for k, v in opts)))
        arch = self.option("arch")
        if self.kind == "cuda" and arch is not None and not _CUDA_ARCH.match(arch):
            raise ValueError(f"-arch={arch} in {str(self)!r}: a CUDA arch is written sm_XY "
                             f"with the GPU's compute capability X.Y (e.g. sm_80, sm_90)")

    # --- parsing and printing -----------------------------------------------------

    @classmethod
    def parse(cls, text: "str | Target") -> "Target":
        """Parse a target string such as ``"llvm -mcpu=znver3 -mattr=+avx2,+fma"``.

        Raises ValueError naming the accepted forms when ``text`` is malformed.
        """
        if isinstance(text, Target):
            return text
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"empty or non-string target {text!r}; expected {_FORMS}")
        kind, *flags = text.split()
        if kind not in KINDS:
            raise ValueError(f"unknown target kind {kind!r} in {text!r}; expected {_FORMS}")
        fields: dict[str, object] = {}
        options: dict[str, str] = {}
        for flag in flags:
            key, eq, value = flag.partition("=")
            if not key.startswith("-") or len(key) < 2 or not eq or not value:
                raise ValueError(f"malformed target option {flag!r} in {text!r}: write "
                                 f"-key=value; expected {_FORMS}")
            key = key.lstrip("-")
            if key in ("mcpu", "mtriple", "mattr") and kind != "llvm":
                raise ValueError(f"-{key} applies to llvm targets only, not {kind!r} "
                                 f"(in {text!r}); expected {_FORMS}")
            if key in fields or key in options:
                raise ValueError(f"option -{key} given twice in {text!r}")
            if key == "mattr":
                attrs = tuple(a for a in value.split(",") if a)
                bad = [a for a in attrs if a[0] not in "+-" or len(a) < 2]
                if bad:
                    raise ValueError(f"-mattr features must start with + or -: {bad} in "
                                     f"{text!r} (e.g. -mattr=+avx2,+fma)")
                fields[key] = attrs
            elif key in ("mcpu", "mtriple"):
                fields[key] = value
            else:
                options[key] = value
        return cls(kind, options=tuple(sorted(options.items())), **fields)

    def __str__(self) -> str:
        parts = [self.kind]
        if self.mtriple:
            parts.append(f"-mtriple={self.mtriple}")
        if self.mcpu:
            parts.append(f"-mcpu={self.mcpu}")
        if self.mattr:
            parts.append(f"-mattr={','.join(self.mattr)}")
        parts.extend(f"-{k}={v}" for k, v in self.options)
        return " ".join(parts)

    def option(self, key: str, default: str | None = None) -> str | None:
        """The value of ``-key=value`` (for example ``option("arch")`` on cuda)."""
        return dict(self.options).get(key, default)

    @property
    def cuda_arch(self) -> str | None:
        """The ``sm_XY`` a cuda target's kernels are built for: its ``-arch``, else that of
        this machine's first GPU (asked of ``nvidia-smi``), else DEFAULT_CUDA_ARCH.  None
        for other kinds."""
        if self.kind != "cuda":
            return None
        return self.option("arch") or _device_arch() or DEFAULT_CUDA_ARCH

    # --- host resolution ----------------------------------------------------------

    @property
    def triple(self) -> str:
        """The LLVM target triple (the host's when ``-mtriple`` is not given)."""
        return self.mtriple or _host_triple()

    @property
    def is_host(self) -> bool:
        """True when code for this target runs on this machine."""
        return self.kind == "llvm" and _same_arch(self.triple, _host_triple())

    def resolved(self) -> "Target":
        """This target with triple, CPU and features filled in.

        On the host, when neither -mcpu nor -mattr is given, they become the host's CPU
        and features.  Otherwise a missing -mcpu is "generic", so that the code uses
        exactly the features asked for (a CPU name implies its own features).
        """
        if self.kind != "llvm":
            return self
        cpu, attrs = self.mcpu, self.mattr
        if not cpu:
            if self.is_host and not attrs:
                cpu, attrs = _host_cpu(), _host_features()
            else:
                cpu = "generic"
        return replace(self, mtriple=self.triple, mcpu=cpu, mattr=attrs)

    # --- machine model ------------------------------------------------------------

    @property
    def features(self) -> frozenset[str]:
        """Enabled CPU features (without the leading +), after host resolution."""
        return frozenset(a[1:] for a in self.resolved().mattr if a.startswith("+"))

    @property
    def vector_bytes(self) -> int:
        """Width of one SIMD register in bytes (16 for sse/neon, 32 for avx, 64 for avx512)."""
        if self.kind != "llvm":
            return 16
        r = self.resolved()
        feats = r.features
        disabled = {a[1:] for a in r.mattr if a.startswith("-")}
        if "avx512f" in feats:
            return 64
        if feats & {"avx", "avx2"}:
            return 32
        if r.mattr and (feats & {"sse", "sse2", "neon"}):
            return 16
        if "avx512f" not in disabled and "avx" not in disabled:
            known = _CPU_VECTOR_BYTES.get(r.mcpu)
            if known:
                return known
        return 16

    def vector_width(self, dtype: str) -> int:
        """Lanes of ``dtype`` in one SIMD register (bool counts as one byte)."""
        return max(1, self.vector_bytes // np.dtype(dtype).itemsize)

    @property
    def num_vector_registers(self) -> int:
        """Architectural SIMD registers: 32 with AVX-512 or on AArch64, else 16."""
        if self.kind == "llvm" and self.triple.startswith(("aarch64", "arm64")):
            return 32
        return 32 if self.vector_bytes == 64 else 16

    def cache_bytes(self, level: int) -> int:
        """Data cache size at ``level`` (1, 2 or 3): the host's when known, else a default."""
        if level not in _DEFAULT_CACHES:
            raise ValueError(f"cache level must be 1, 2 or 3, not {level!r}")
        if self.is_host and not self.mcpu:
            return _host_caches().get(level, _DEFAULT_CACHES[level])
        return _DEFAULT_CACHES[level]


def _same_arch(a: str, b: str) -> bool:
    return a.split("-")[0] == b.split("-")[0]


@functools.lru_cache(maxsize=None)
def _device_arch() -> str | None:
    """``sm_XY`` of the first GPU nvidia-smi lists, or None (no driver, no GPU)."""
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = proc.stdout.split()
    if proc.returncode != 0 or not lines:
        return None
    arch = "sm_" + lines[0].strip().replace(".", "")
    return arch if _CUDA_ARCH.match(arch) else None


@functools.lru_cache(maxsize=None)
def _host_triple() -> str:
    import llvmlite.binding as llvm

    return llvm.get_default_triple()


@functools.lru_cache(maxsize=None)
def _host_cpu() -> str:
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


@functools.lru_cache(maxsize=None)
def _host_features() -> tuple[str, ...]:
    import llvmlite.binding as llvm

    try:
        feats = llvm.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot query this host
        return ()
    return tuple(f"+{k}" for k, on in sorted(feats.items()) if on)


@functools.lru_cache(maxsize=None)
def _host_caches() -> dict[int, int]:
    out: dict[int, int] = {}
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(root):
            d = os.path.join(root, entry)
            with open(os.path.join(d, "type")) as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(d, "level")) as f:
                level = int(f.read())
            with open(os.path.join(d, "size")) as f:
                size = f.read().strip()
            mult = {"K": 1024, "M": 1024 * 1024}.get(size[-1], 1)
            out[level] = int(size.rstrip("KM")) * mult
    except (OSError, ValueError):
        return {}
    return out
