"""Device arrays (``__cuda_array_interface__``, DLPack, torch) as run() inputs: how they
are recognised and read, the errors before any CUDA call, and (on a GPU) runs that keep
inputs and outputs on the device."""
import numpy as np
import pytest

import tc.runtime
from tc.runtime import CudaError
from tc.runtime.cuda import (KDL_CPU, KDL_CUDA, c_contiguous, device_view, dlpack_dtype,
                             dlpack_view, is_device_array)
from tests.runtime import native


class FakeDeviceArray:
    """An object exposing __cuda_array_interface__ only (as numba or cupy arrays do)."""

    def __init__(self, shape, typestr="<f4", ptr=1 << 20, strides=None, stream=None):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr,
                                         "data": (ptr, False), "strides": strides,
                                         "version": 3, "stream": stream}


class FakeDLPack:
    """An object exposing only DLPack's device query."""

    def __init__(self, kind):
        self.kind = kind

    def __dlpack_device__(self):
        return (self.kind, 0)


def test_device_arrays_are_recognised():
    torch = pytest.importorskip("torch")
    assert is_device_array(FakeDeviceArray((2, 3)))
    assert is_device_array(FakeDLPack(KDL_CUDA))
    assert not is_device_array(FakeDLPack(KDL_CPU))
    assert not is_device_array(np.zeros(3))
    assert not is_device_array([1.0, 2.0])
    assert not is_device_array(torch.zeros(3))  # a CPU tensor is a host array


def test_cuda_array_interface_is_read():
    view = device_view(FakeDeviceArray((4, 250), stream=7))
    assert (view.ptr, view.shape, view.dtype) == (1 << 20, (4, 250), np.float32)
    assert view.contiguous and view.stream == 7
    assert not device_view(FakeDeviceArray((4, 250), strides=(4, 16))).contiguous


def test_contiguity_ignores_unit_dims():
    assert c_contiguous((2, 3), None, 4)
    assert c_contiguous((2, 3), (12, 4), 4)
    assert c_contiguous((2, 1, 3), (12, 999, 4), 4)
    assert not c_contiguous((2, 3), (4, 8), 4)  # column-major


def test_dlpack_is_read_from_its_capsule():
    """The DLPack structs are parsed right (checked on host arrays, which export DLPack
    too): address with the byte offset, shape, dtype, strides."""
    base = np.arange(24, dtype=np.int16).reshape(4, 6)
    view = dlpack_view(base)
    assert (view.ptr, view.shape, view.dtype) == (base.ctypes.data, (4, 6), np.int16)
    assert view.contiguous and view.device is None  # not a CUDA device
    sliced = base[1:, ::2]
    view = dlpack_view(sliced)
    assert view.ptr == sliced.ctypes.data and view.shape == (3, 3) and not view.contiguous
    torch = pytest.importorskip("torch")
    view = dlpack_view(torch.ones((2, 5), dtype=torch.bfloat16))
    assert view.dtype == np.dtype("bfloat16") and view.shape == (2, 5)
    assert dlpack_dtype(6, 8, 1) == np.bool_ and dlpack_dtype(1, 8, 1) == np.uint8
    with pytest.raises(TypeError, match="no numpy equivalent"):
        dlpack_dtype(2, 32, 4)


def test_cpu_model_refuses_device_arrays(sample_artifact):
    mod = tc.runtime.load(sample_artifact[0])
    with pytest.raises(TypeError, match=r"input 'x' is a CUDA device array, but this model was "
                                        r"built for the CPU \(llvm -mcpu=generic\)"):
        mod.run([FakeDeviceArray((4, 250)), FakeDeviceArray((4, 250))])


def test_cuda_model_checks_device_inputs_first(cuda_sample_artifact, rng):
    path, _, _, _ = cuda_sample_artifact
    mod = tc.runtime.load(path)
    x = rng.standard_normal((4, 250)).astype(np.float32)
    with pytest.raises(TypeError, match=r"input 'y' is a CUDA device array.*every input on "
                                        r"the device, or every input on the host"):
        mod.run([x, FakeDeviceArray((4, 250))])
    with pytest.raises(ValueError, match=r"input 'y': expected float32\[4, 250\], "
                                         r"got float16\[4, 250\]"):
        mod.run([FakeDeviceArray((4, 250)), FakeDeviceArray((4, 250), "<f2")])
    with pytest.raises(ValueError, match=r"input 'x': a non-contiguous device array"):
        mod.run([FakeDeviceArray((4, 250), strides=(4, 16)), FakeDeviceArray((4, 250))])
    with pytest.raises(TypeError, match=r"profile\(\)"):
        mod.profile([FakeDeviceArray((4, 250)), FakeDeviceArray((4, 250))])


# ---- on a GPU ----------------------------------------------------------------------

def _torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this torch has no CUDA")
    return torch


def _module_for_device(cuda_sample_artifact):
    path, _, consts, arch = cuda_sample_artifact
    if arch != "sm_80":
        pytest.skip("one arch is enough here")
    return tc.runtime.load(path), consts


@pytest.mark.gpu
def test_torch_tensors_stay_on_the_device(cuda_sample_artifact, rng):
    torch = _torch_cuda()
    mod, consts = _module_for_device(cuda_sample_artifact)
    x, y = (rng.standard_normal((4, 250)).astype(np.float32) for _ in range(2))
    tx, ty = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    for _ in range(2):
        out, x_copy = mod.run([tx, ty * 1])  # ty * 1: an input still being written
        assert out.is_cuda and out.dtype == torch.float32 and out.shape == (4, 250)
        assert x_copy.device == tx.device
        ref_out, ref_copy = native.sample_reference(x, y, consts)
        np.testing.assert_allclose(out.cpu().numpy(), ref_out, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(x_copy.cpu().numpy(), ref_copy)
    # host runs of the same module still work after device runs
    np.testing.assert_allclose(mod.run([x, y])[0], ref_out, rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_torch_side_stream_inputs_are_waited_for(cuda_sample_artifact, rng):
    torch = _torch_cuda()
    mod, consts = _module_for_device(cuda_sample_artifact)
    x = rng.standard_normal((4, 250)).astype(np.float32)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        tx = torch.from_numpy(x).cuda()
        big = torch.randn(2048, 2048, device="cuda")
        for _ in range(20):
            big = big @ big / 2048  # keeps the side stream busy
        ty = tx * 2 + big[:4, :250] * 0
        out, _ = mod.run([tx, ty])
    ref = native.sample_reference(x, 2 * x, consts)[0]
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
def test_host_pointer_to_device_entry_is_refused(cuda_sample_artifact, rng):
    mod, _ = _module_for_device(cuda_sample_artifact)
    ffi, lib = mod._ffi, mod._lib
    host = [rng.standard_normal((4, 250)).astype(np.float32) for _ in range(4)]
    ptrs = [ffi.cast("void *", a.ctypes.data) for a in host]
    status = lib.tc_model_run_device(ffi.new("void *[]", ptrs[:2]), ffi.new("void *[]", ptrs[2:]))
    assert status == 1
    assert "input 0 ('x') is not CUDA memory" in ffi.string(lib.tc_last_error()).decode()


@pytest.mark.gpu
def test_cupy_arrays_stay_on_the_device(cuda_sample_artifact, rng):
    cupy = pytest.importorskip("cupy")
    mod, consts = _module_for_device(cuda_sample_artifact)
    x, y = (rng.standard_normal((4, 250)).astype(np.float32) for _ in range(2))
    out, x_copy = mod.run([cupy.asarray(x), cupy.asarray(y)])
    assert isinstance(out, cupy.ndarray) and isinstance(x_copy, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(out), native.sample_reference(x, y, consts)[0],
                               rtol=1e-6, atol=1e-6)
    assert issubclass(CudaError, RuntimeError)
