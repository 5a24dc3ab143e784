"""Device arrays for CUDA artifacts: recognising them, reading their memory, allocating
outputs with the inputs' library.

A device array is an object on a CUDA device exposing ``__cuda_array_interface__`` (cupy,
numba, ...) or ``__dlpack__`` with a CUDA device (jax, ...); torch tensors are read
through torch's own API (its interface has no stream and spells bfloat16 as raw bytes).
Nothing here needs a GPU to import or to inspect an array's description.
"""
from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import ml_dtypes  # noqa: F401  (np.dtype("bfloat16") resolves)
import numpy as np

KDL_CPU, KDL_CUDA, KDL_CUDA_MANAGED = 1, 2, 13
_DEVICE_KINDS = (KDL_CUDA, KDL_CUDA_MANAGED)
LEGACY_DEFAULT_STREAM = 1  # the __cuda_array_interface__ / DLPack number for it

_DLPACK_CDEF = """
typedef struct { int32_t device_type; int32_t device_id; } DLDevice;
typedef struct { uint8_t code; uint8_t bits; uint16_t lanes; } DLDataType;
typedef struct {
    void *data; DLDevice device; int32_t ndim; DLDataType dtype;
    int64_t *shape; int64_t *strides; uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
    DLTensor dl_tensor; void *manager_ctx; void (*deleter)(struct DLManagedTensor *);
} DLManagedTensor;
"""
# DLPack type codes -> numpy dtype name prefixes (bits appended; bfloat and bool are fixed)
_DL_CODES = {0: "int", 1: "uint", 2: "float", 4: "bfloat", 6: "bool"}


class CudaError(RuntimeError):
    """A CUDA artifact's run failed: no GPU or no driver, an arch mismatch, a kernel
    launch or a device fault. The message names the cause (the CUDA error's name and the
    kernel or step)."""


@dataclass
class DeviceArray:
    """What a run needs of a device array: its memory and description, the stream its
    producer may still be writing it on (``None``: nothing to wait for) and what must
    stay alive while the run reads it."""

    source: object
    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    contiguous: bool
    device: int | None = None   # the CUDA device's ordinal when the array says
    stream: int | None = None
    keep_alive: object = None   # e.g. a DLPack capsule: dropping it releases the view


def is_device_array(value) -> bool:
    """Whether ``value`` lives in CUDA device memory (and is not a host array)."""
    if isinstance(value, np.ndarray):
        return False
    if _library(value) == "torch":
        return bool(getattr(value, "is_cuda", False))
    try:
        if hasattr(value, "__cuda_array_interface__"):
            return True
    except Exception:  # a property that refuses (e.g. an array that needs grad)
        return True
    dlpack_device = getattr(value, "__dlpack_device__", None)
    if dlpack_device is None:
        return False
    try:
        return int(dlpack_device()[0]) in _DEVICE_KINDS
    except Exception:
        return False


def device_view(value) -> DeviceArray:
    """The DeviceArray of a device array; TypeError if ``value`` cannot be read."""
    if _library(value) == "torch":
        return _torch_view(value)
    try:
        cai = value.__cuda_array_interface__
    except AttributeError:
        cai = None
    if cai is not None:
        return cai_view(value, cai)
    if hasattr(value, "__dlpack__"):
        return dlpack_view(value, stream=LEGACY_DEFAULT_STREAM)
    raise TypeError(f"{type(value).__name__} is not a CUDA device array (it has neither "
                    "__cuda_array_interface__ nor __dlpack__)")


def c_contiguous(shape, strides, itemsize: int) -> bool:
    """Whether byte ``strides`` (None: C order) describe a dense row-major layout; dims
    of extent 1 may have any stride."""
    if strides is None:
        return True
    expected = itemsize
    for extent, stride in zip(reversed(shape), reversed(strides)):
        if extent != 1 and stride != expected:
            return False
        expected *= extent
    return True


def cai_view(value, cai: dict) -> DeviceArray:
    """A DeviceArray from a ``__cuda_array_interface__`` dict."""
    if cai.get("mask") is not None:
        raise TypeError(f"{type(value).__name__}: masked device arrays are not supported")
    shape = tuple(int(d) for d in cai["shape"])
    dtype = np.dtype(cai["typestr"])
    device = getattr(getattr(value, "device", None), "id", None)  # cupy
    return DeviceArray(value, int(cai["data"][0]), shape, dtype,
                       c_contiguous(shape, cai.get("strides"), dtype.itemsize),
                       device if isinstance(device, int) else None, cai.get("stream"))


@functools.lru_cache(maxsize=None)
def _dlpack_ffi():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(_DLPACK_CDEF)
    return ffi


def _capsule_pointer(capsule) -> int:
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get(capsule, b"dltensor")


def dlpack_dtype(code: int, bits: int, lanes: int) -> np.dtype:
    """The numpy dtype of a DLPack data type; TypeError if numpy has none."""
    prefix = _DL_CODES.get(code)
    if prefix is None or lanes != 1:
        raise TypeError(f"DLPack data type (code {code}, {bits} bits, {lanes} lanes) has no "
                        "numpy equivalent")
    return np.dtype("bool" if prefix == "bool" else f"{prefix}{bits}")


def dlpack_view(value, stream=None) -> DeviceArray:
    """A DeviceArray through ``value.__dlpack__(stream=stream)``: the producer orders its
    work before ``stream`` (the legacy default stream, which the artifact's stream
    follows). The capsule is kept unconsumed; dropping it releases the producer's view."""
    capsule = value.__dlpack__() if stream is None else value.__dlpack__(stream=stream)
    ffi = _dlpack_ffi()
    tensor = ffi.cast("DLManagedTensor *", _capsule_pointer(capsule)).dl_tensor
    ndim = int(tensor.ndim)
    shape = tuple(int(tensor.shape[i]) for i in range(ndim))
    dtype = dlpack_dtype(tensor.dtype.code, tensor.dtype.bits, tensor.dtype.lanes)
    strides = (None if tensor.strides == ffi.NULL
               else tuple(int(tensor.strides[i]) * dtype.itemsize for i in range(ndim)))
    ptr = int(ffi.cast("uintptr_t", tensor.data)) + int(tensor.byte_offset)
    device = int(tensor.device.device_id) if tensor.device.device_type in _DEVICE_KINDS else None
    return DeviceArray(value, ptr, shape, dtype, c_contiguous(shape, strides, dtype.itemsize),
                       device, None, keep_alive=capsule)


def _torch_view(tensor) -> DeviceArray:
    import torch

    stream = torch.cuda.current_stream(tensor.device).cuda_stream
    return DeviceArray(tensor, int(tensor.data_ptr()), tuple(tensor.shape),
                       np.dtype(str(tensor.dtype).removeprefix("torch.")),
                       tensor.is_contiguous(), tensor.device.index,
                       None if stream == 0 else stream)  # 0: the legacy default stream


def _library(value) -> str:
    return type(value).__module__.split(".")[0]


def empty_like(example: DeviceArray, shape, dtype) -> object:
    """A new device array of ``shape`` and ``dtype`` on ``example``'s device, made by its
    library (torch or cupy; other libraries' inputs get torch tensors when torch is
    installed, else cupy arrays)."""
    dtype = np.dtype(dtype)
    library = _library(example.source)
    if library not in ("torch", "cupy"):
        library = "torch" if _importable("torch") else "cupy" if _importable("cupy") else None
    if library == "torch":
        import torch

        device = (example.source.device if _library(example.source) == "torch"
                  else torch.device("cuda", example.device or 0))
        torch_dtype = getattr(torch, dtype.name, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise TypeError(f"torch has no dtype for {dtype.name}: pass numpy arrays")
        return torch.empty(tuple(shape), dtype=torch_dtype, device=device)
    if library == "cupy":
        import cupy

        with cupy.cuda.Device(example.device or 0):
            return cupy.empty(tuple(shape), dtype=dtype)
    raise TypeError(f"tc allocates the outputs of a run on device arrays with torch or cupy, "
                    f"and neither is installed (the inputs are {type(example.source).__name__})")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
