import numpy as np
import pytest

from tc.compiler.artifact import write_artifact
from tests.runtime import native


@pytest.fixture(scope="session")
def kernels_object(tmp_path_factory) -> bytes:
    return native.sample_kernels(tmp_path_factory.mktemp("kernels"))


@pytest.fixture(scope="session")
def sample_artifact(tmp_path_factory, kernels_object):
    """(path, plan, constants) of the sample plan, linked once per session."""
    plan, consts = native.sample_plan(np.random.default_rng(0))
    path = tmp_path_factory.mktemp("artifact") / "sample.so"
    write_artifact(path, kernels_object, plan, target_triple="x86_64-unknown-linux-gnu")
    return path, plan, consts


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session", params=["sm_80", "sm_90"])
def cuda_sample_artifact(request, tmp_path_factory):
    """(path, plan, constants, arch) of the sample plan as a CUDA artifact, kernels from
    sample_kernels.cu, built for sm_80 and for sm_90 (skipped without nvcc)."""
    from tests.runtime import cuda_native

    arch = request.param
    path = tmp_path_factory.mktemp(f"cuda_{arch}") / "sample_cuda.so"
    plan, consts = cuda_native.build_sample(path, arch)
    return path, plan, consts, arch
