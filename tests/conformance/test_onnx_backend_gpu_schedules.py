"""ONNX's node and small-model tests with every kernel scheduled for CUDA: the GPU
default schedules' loop nests (blocks, threads, shared tiles, cross-thread reductions)
run on this CPU, bound loops serially, through the LLVM target, and must pass the
suite's expected outputs as the CPU schedules do.  (The generated CUDA itself is checked
by nvcc, by the emulator tests in tests/targets, and on a GPU by the tests marked gpu.)
The light real models are left out: run serially, a block's cooperative copies are
repeated by each of its threads, which makes big convolutions take minutes."""
import re

import onnx.backend.test
import pytest

from tc.frontends.onnx_backend import TcBackend

from ..models.light import LIGHT_MODELS
from .expected_failures import EXPECTED_FAILURES

pytestmark = pytest.mark.filterwarnings("ignore")


class CudaScheduleBackend(TcBackend):
    """tc's backend with kernels scheduled as for ``cuda -arch=sm_80``."""

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs):
        return super().prepare(model, device, schedule_target="cuda -arch=sm_80", **kwargs)


_suite = onnx.backend.test.BackendTest(CudaScheduleBackend, __name__)
for _name in LIGHT_MODELS:
    _suite.exclude(f"^test_{_name}_")
for _name in EXPECTED_FAILURES:
    _suite.xfail("^" + re.escape(_name) + "$")

globals().update(_suite.test_cases)
