"""Load a tc artifact (a shared library with the model ABI of tc_runtime.h) and run it.

    mod = load("model.so")
    y, = mod.run([x])

A CUDA artifact (metadata "device": "cuda") loads the same way, without needing a GPU;
its ``run`` takes numpy arrays (copied to and from the device) or device arrays (torch
or cupy tensors, anything with ``__cuda_array_interface__`` or a CUDA ``__dlpack__``),
which it reads in place, returning new device arrays of the same library. Its failures
raise ``CudaError``.

Loading copies (or hard-links) the library to a private temporary name before dlopen:
dlopen caches libraries by path, so a rebuilt file at the same path would otherwise
resolve to the stale, already-loaded one.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import struct
import tempfile
import threading
import weakref
from pathlib import Path

import ml_dtypes  # noqa: F401  (makes np.dtype("bfloat16"), np.dtype("float8_e4m3fn"), ... resolve)
import numpy as np

from tc.compiler.aot_plan import TensorSpec
from tc.runtime.cuda import CudaError, device_view, empty_like, is_device_array

_CDEF = """
const char *tc_model_metadata(void);
size_t tc_model_workspace_bytes(void);
int tc_model_run(void *const *inputs, void *const *outputs, void *workspace);
int tc_model_profile(void *const *inputs, void *const *outputs, void *workspace,
                     double *step_seconds);
const char *tc_last_error(void);
void tc_set_num_threads(int n);
int tc_get_num_threads(void);
int tc_model_run_device(void *const *inputs, void *const *outputs);
int tc_cuda_sync_stream(uintptr_t stream);
"""
_ALIGN = 64


class ArtifactError(ValueError):
    """The file is missing, corrupt, or not a tc artifact."""


@functools.lru_cache(maxsize=None)
def _ffi():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    return ffi


def _format_spec(dtype, shape) -> str:
    dtype = np.dtype(dtype)
    name = dtype.name if dtype.isnative else f"{dtype.name} ({dtype.str}, non-native byte order)"
    return f"{name}[{', '.join(str(int(d)) for d in shape)}]"


def _check_elf(path: Path, data_size: int) -> None:
    """Reject a truncated ELF file before dlopen maps it (touching a page past the end
    of a mapped file is a SIGBUS, not an error dlopen could report)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head[:4] != b"\x7fELF":
        return  # not ELF: dlopen reports it cleanly
    if len(head) < 52 or head[4] not in (1, 2) or head[5] not in (1, 2):
        raise ArtifactError(f"{path}: corrupt ELF header (the file is truncated or damaged)")
    is64, order = head[4] == 2, "<" if head[5] == 1 else ">"
    if is64 and len(head) < 64:
        raise ArtifactError(f"{path}: corrupt ELF header (the file is truncated or damaged)")
    if is64:
        phoff, shoff = struct.unpack_from(order + "QQ", head, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", head, 54)
    else:
        phoff, shoff = struct.unpack_from(order + "II", head, 28)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", head, 42)
    ends = [phoff + phentsize * phnum, shoff + shentsize * shnum]
    with open(path, "rb") as f:
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    if len(table) == phentsize * phnum:
        for k in range(phnum):
            if is64:
                p_offset, _, _, p_filesz = struct.unpack_from(order + "QQQQ", table,
                                                              k * phentsize + 8)
            else:
                p_offset, _, _, p_filesz = struct.unpack_from(order + "IIII", table,
                                                              k * phentsize + 4)
            ends.append(p_offset + p_filesz)
    if max(ends) > data_size:
        raise ArtifactError(f"{path}: the file is truncated ({data_size} bytes, but its ELF "
                            f"headers describe {max(ends)}); rebuild or re-copy it")


def _private_copy(path: Path) -> tuple[Path, Path]:
    """A hard link (else a copy) of ``path`` under a fresh temporary folder."""
    tmp_dir = Path(tempfile.mkdtemp(prefix="tc-load-"))
    target = tmp_dir / path.name
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    return tmp_dir, target


def _release(ffi, lib, tmp_dir: Path) -> None:
    try:
        ffi.dlclose(lib)  # runs the runtime's destructor, which stops its thread pool
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


class Module:
    """A loaded tc artifact. ``run`` is thread-safe (calls are serialized: they share
    the workspace)."""

    def __init__(self, path: Path, ffi, lib, tmp_dir: Path, loaded_path: Path, metadata: dict):
        self._path = path
        self._ffi = ffi
        self._lib = lib
        self._loaded_path = loaded_path
        self._metadata = metadata
        self._inputs = tuple(TensorSpec(d["name"], tuple(d["shape"]), d["dtype"])
                             for d in metadata["inputs"])
        self._outputs = tuple(TensorSpec(d["name"], tuple(d["shape"]), d["dtype"])
                              for d in metadata["outputs"])
        self._workspace_bytes = int(lib.tc_model_workspace_bytes())
        self._device = metadata.get("device", "cpu")
        self._error = CudaError if self._device == "cuda" else RuntimeError
        self._workspace = None  # allocated on first run, then kept
        self._expected = [(np.dtype(s.dtype), tuple(s.shape)) for s in self._inputs]
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _release, ffi, lib, tmp_dir)

    @property
    def path(self) -> Path:
        """The file this module was loaded from."""
        return self._path

    @property
    def input_specs(self) -> tuple[TensorSpec, ...]:
        """Name, shape and dtype of each input, in the order ``run`` takes them."""
        return self._inputs

    @property
    def output_specs(self) -> tuple[TensorSpec, ...]:
        """Name, shape and dtype of each output, in the order ``run`` returns them."""
        return self._outputs

    @property
    def metadata(self) -> dict:
        """The artifact's metadata JSON (a copy)."""
        return json.loads(json.dumps(self._metadata))

    @property
    def device(self) -> str:
        """Where the model runs: "cpu", or "cuda" for a CUDA artifact."""
        return self._device

    @property
    def workspace_bytes(self) -> int:
        """Bytes of scratch arena the model uses."""
        return self._workspace_bytes

    def set_num_threads(self, n: int) -> None:
        """Threads the model's kernels use; n <= 0 restores the default (physical cores,
        or $TC_NUM_THREADS)."""
        self._lib.tc_set_num_threads(int(n))

    @property
    def num_threads(self) -> int | None:
        """Threads the model's kernels use (None if the artifact cannot tell)."""
        try:
            return int(self._lib.tc_get_num_threads())
        except AttributeError:
            return None

    def export(self, path: str | os.PathLike) -> None:
        """Write the loaded library to ``path`` (atomically)."""
        path = Path(path)
        tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        try:
            shutil.copyfile(self._loaded_path, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _check_inputs(self, inputs) -> list[np.ndarray]:
        self._check_count(inputs)
        arrays = []
        for spec, (dtype, shape), value in zip(self._inputs, self._expected, inputs):
            if is_device_array(value):
                raise TypeError(self._device_input_error(spec))
            arr = value if isinstance(value, np.ndarray) else np.asarray(value)
            if arr.dtype != dtype or arr.shape != shape:
                raise ValueError(f"input {spec.name!r}: expected "
                                 f"{_format_spec(spec.dtype, spec.shape)}, got "
                                 f"{_format_spec(arr.dtype, arr.shape)}")
            if not (arr.flags.c_contiguous and arr.flags.aligned):
                arr = np.array(arr, order="C")  # a dense, aligned copy; same dtype
            arrays.append(arr)
        return arrays

    def _device_input_error(self, spec: TensorSpec) -> str:
        """Why a device array cannot be input ``spec`` here (a host array is expected)."""
        if self._device != "cuda":
            return (f"input {spec.name!r} is a CUDA device array, but this model was built "
                    f"for the CPU ({self._metadata.get('target')}): pass host arrays (e.g. "
                    "tensor.cpu().numpy()), or build for \"cuda\"")
        return (f"input {spec.name!r} is a CUDA device array: profile() and runs whose other "
                "inputs are host arrays take host (numpy) arrays; pass every input on the "
                "device, or every input on the host")

    def _check_count(self, inputs) -> None:
        if isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
            raise TypeError(f"run() takes a list of arrays (one per input), got "
                            f"{type(inputs).__name__}")
        if len(inputs) != len(self._inputs):
            names = ", ".join(repr(s.name) for s in self._inputs)
            raise ValueError(f"expected {len(self._inputs)} inputs ({names}), "
                             f"got {len(inputs)}")

    def _workspace_ptr(self):
        """The 64-byte aligned workspace (allocated on first use, then kept), or NULL."""
        if self._workspace is None:
            if self._workspace_bytes == 0:
                self._workspace = self._ffi.NULL
            else:
                raw = np.empty(self._workspace_bytes + _ALIGN, dtype=np.uint8)
                offset = (-raw.ctypes.data) % _ALIGN
                self._workspace_buffer = raw  # keeps the memory alive
                self._workspace = self._ffi.cast("void *", raw.ctypes.data + offset)
        return self._workspace

    def run(self, inputs) -> list[np.ndarray]:
        """Run the model on ``inputs`` (one array per input, in ``input_specs`` order)
        and return fresh output arrays in ``output_specs`` order.

        A CUDA model also takes device arrays (all inputs on one device) and then returns
        device arrays made by the inputs' library (see tc.runtime.cuda).

        Raises ValueError naming the input whose count, shape or dtype is wrong (dtypes
        are never converted), TypeError for device arrays a CPU model cannot take (or a
        mix of host and device inputs), RuntimeError if the model reports an error
        (CudaError, a RuntimeError, for a CUDA model)."""
        self._check_count(inputs)
        on_device = [is_device_array(v) for v in inputs]
        if any(on_device) and self._device == "cuda" and all(on_device):
            return self._run_device(inputs)
        return self._call(inputs, None)

    def profile(self, inputs, repeat: int = 20, warmup: int = 3) -> list[dict]:
        """Run the model ``warmup + repeat`` times, timing each step of its plan; returns
        one dict per step in plan order: the metadata's ``kernel``, ``label`` (what the
        kernel computes) and ``flops``, plus ``ms``, the median over the ``repeat`` timed
        runs.  Inputs are checked as by ``run``."""
        steps = self._metadata.get("steps")
        if steps is None or not hasattr(self._lib, "tc_model_profile"):
            raise ArtifactError(f"{self._path}: built by a tc without step profiling; "
                                "rebuild it with this tc to profile it")
        if repeat < 1:
            raise ValueError(f"profile: repeat must be at least 1, not {repeat}")
        runs = np.zeros((repeat, len(steps)))
        for r in range(warmup + repeat):
            seconds = self._ffi.new("double[]", max(len(steps), 1))
            self._call(inputs, seconds)
            if r >= warmup:
                runs[r - warmup] = [seconds[i] for i in range(len(steps))]
        medians = np.median(runs, axis=0) if steps else []
        return [{**step, "ms": float(m) * 1e3} for step, m in zip(steps, medians)]

    def _call(self, inputs, step_seconds):
        ffi = self._ffi
        arrays = self._check_inputs(inputs)
        outputs = [np.empty(s.shape, dtype=s.dtype) for s in self._outputs]
        # from_buffer is the cheap way to a data pointer; the lists keep the buffers alive.
        in_bufs = [ffi.from_buffer(a) for a in arrays]
        out_bufs = [ffi.from_buffer(a) for a in outputs]
        in_ptrs = ffi.new("void *[]", in_bufs or 1)
        out_ptrs = ffi.new("void *[]", out_bufs or 1)
        with self._lock:
            args = (in_ptrs, out_ptrs, self._workspace_ptr())
            if step_seconds is None:
                who, status = "tc_model_run", self._lib.tc_model_run(*args)
            else:
                who, status = "tc_model_profile", self._lib.tc_model_profile(*args, step_seconds)
            if status != 0:
                self._raise_last_error(who)
        return outputs

    def _raise_last_error(self, who: str):
        message = self._ffi.string(self._lib.tc_last_error()).decode("utf-8", "replace")
        raise self._error(f"{self._path}: {who} failed: {message}")

    def _run_device(self, inputs) -> list:
        """``run`` on device arrays: checked like host inputs, read in place by
        tc_model_run_device; the outputs are new device arrays of the inputs' library."""
        ffi = self._ffi
        views = [device_view(v) for v in inputs]
        for spec, (dtype, shape), view in zip(self._inputs, self._expected, views):
            if view.dtype != dtype or view.shape != shape:
                raise ValueError(f"input {spec.name!r}: expected "
                                 f"{_format_spec(spec.dtype, spec.shape)}, got "
                                 f"{_format_spec(view.dtype, view.shape)}")
            if not view.contiguous:
                raise ValueError(f"input {spec.name!r}: a non-contiguous device array; pass "
                                 "a dense row-major one (e.g. tensor.contiguous())")
        devices = sorted({v.device for v in views if v.device is not None})
        if len(devices) > 1:
            raise ValueError(f"the inputs are on several CUDA devices ({devices}); a run "
                             "takes them all on one")
        outputs = [empty_like(views[0], s.shape, s.dtype) for s in self._outputs]
        out_views = [device_view(o) for o in outputs]
        # zero-byte tensors may have a NULL address, which the ABI refuses; never read
        in_ptrs = ffi.new("void *[]", [ffi.cast("void *", v.ptr or _ALIGN) for v in views] or 1)
        out_ptrs = ffi.new("void *[]", [ffi.cast("void *", v.ptr or _ALIGN)
                                        for v in out_views] or 1)
        with self._lock:
            # the inputs' producers, and the outputs' allocator (a caching pool may hand
            # out memory that work pending on its stream still uses)
            for stream in sorted({v.stream for v in (*views, *out_views)} - {None, 1}):
                if self._lib.tc_cuda_sync_stream(stream) != 0:
                    self._raise_last_error("tc_cuda_sync_stream")
            if self._lib.tc_model_run_device(in_ptrs, out_ptrs) != 0:
                self._raise_last_error("tc_model_run_device")
        del views, out_views  # releases DLPack views only now that the run is over
        return outputs

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}: {_format_spec(s.dtype, s.shape)}" for s in self._inputs)
        outs = ", ".join(f"{s.name}: {_format_spec(s.dtype, s.shape)}" for s in self._outputs)
        return f"<tc.Module {self._path.name} ({ins}) -> ({outs})>"


def load(path: str | os.PathLike) -> Module:
    """Load the tc artifact at ``path``. Raises ArtifactError (a ValueError) naming the
    file if it is missing, corrupt or not a tc artifact."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file (expected a tc artifact, a .so built by "
                            "tc.compile(...).export or tc-build)")
    size = path.stat().st_size
    _check_elf(path, size)
    ffi = _ffi()
    tmp_dir, private = _private_copy(path)
    try:
        try:
            lib = ffi.dlopen(str(private))
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot be loaded as a shared library ({exc})") from None
        try:
            try:
                # cffi looks the symbol up (dlsym) here: missing -> AttributeError, no call.
                metadata_fn = lib.tc_model_metadata
                lib.tc_model_workspace_bytes, lib.tc_model_run, lib.tc_last_error
                lib.tc_set_num_threads
            except AttributeError as exc:
                raise ArtifactError(f"{path}: not a tc artifact (missing symbol: {exc})") from None
            metadata = _parse_metadata(path, ffi.string(metadata_fn()))
        except BaseException:
            ffi.dlclose(lib)
            raise
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return Module(path, ffi, lib, tmp_dir, private, metadata)


def _parse_metadata(path: Path, raw: bytes) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: corrupt metadata JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != "tc-artifact":
        raise ArtifactError(f"{path}: not a tc artifact (metadata format is not 'tc-artifact')")
    if meta.get("version") != 1:
        raise ArtifactError(f"{path}: artifact format version {meta.get('version')!r} is not "
                            "supported by this tc (expected 1); rebuild it with this tc")
    for key in ("inputs", "outputs"):
        specs = meta.get(key)
        if not isinstance(specs, list) or not all(
                isinstance(s, dict) and {"name", "shape", "dtype"} <= s.keys() for s in specs):
            raise ArtifactError(f"{path}: corrupt metadata ('{key}' is malformed)")
    return meta
