"""Every model of the test suite compiles for ``cuda -arch=sm_80`` and ``sm_90``: tc's
build runs up to the CUDA source (GPU schedules, code generation, the execution plan),
and nvcc compiles that source for both archs with every warning an error.  No GPU is
needed; the numbers are checked by the emulator and CPU-run tests and, on a GPU, by the
tests marked ``gpu``."""
import re
import tempfile

import onnx
import pytest

from tc._compile import import_graph
from tc.compiler import cuda_artifact
from tc.compiler.build import build
from tc.targets.cuda import check_cuda_source, find_nvcc
from tc.targets.target import Target

from ..models.light import LIGHT_MODELS, model_path
from . import test_c_models

pytestmark = pytest.mark.skipif(find_nvcc() is None,
                                reason="nvcc (the CUDA toolkit) is not installed")
ARCHS = ["sm_80", "sm_90"]


def _c_test_model(name):
    captured = []
    saved = test_c_models.check_c_target
    test_c_models.check_c_target = lambda model, feeds, **kw: captured.append(model)
    try:
        getattr(test_c_models, name)()
    finally:
        test_c_models.check_c_target = saved
    return captured[0]


def _synthetic(name):
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    from synthetic_models import SYNTHETIC_MODELS

    return SYNTHETIC_MODELS[name]()


def _torch(name):
    torch = pytest.importorskip("torch")
    from ..frontends.torch_models import MLP, ResNet18, randomize_batchnorm

    if name == "resnet18":
        return randomize_batchnorm(ResNet18()), (torch.randn(1, 3, 224, 224),)
    if name == "mlp":
        return MLP(), (torch.randn(2, 64),)
    layer = torch.nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, dropout=0.0)
    return torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), \
        (torch.randn(1, 16, 64),)


MODELS = {
    **{f"light_{n}": (lambda n=n: onnx.load(model_path(n))) for n in LIGHT_MODELS},
    **{f"c_{n}": (lambda n=n: _c_test_model(f"test_{n}"))
       for n in ("small_cnn", "mlp", "bert_like_encoder_layer", "int64_embedding_gather")},
    **{f"synthetic_{n}": (lambda n=n: _synthetic(n)) for n in ("mlp", "bert_layer", "bert4_256")},
    **{f"torch_{n}": (lambda n=n: _torch(n)) for n in ("resnet18", "mlp", "transformer_encoder")},
}


def _cuda_source(model, monkeypatch):
    """The .cu source ``build`` generates for ``model`` (linking skipped)."""
    sources = []
    monkeypatch.setattr(cuda_artifact, "write_cuda_artifact",
                        lambda path, source, plan, target: sources.append((source, plan)))
    if isinstance(model, tuple):
        graph, _ = import_graph(model[0], example_inputs=model[1])
    else:
        graph, _ = import_graph(model)
    with tempfile.TemporaryDirectory() as d:
        report = build(graph, Target.parse(f"cuda -arch={ARCHS[0]}"), f"{d}/m.so")
    (source, plan), = sources
    assert report.unique_kernels == len(source.func_names)
    return source, plan


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_model_compiles_for_sm80_and_sm90_without_warnings(name, monkeypatch):
    source, plan = _cuda_source(MODELS[name](), monkeypatch)
    # every launch fits the hardware: at most 1024 threads and 48 KiB static shared memory
    for launches in source.launches.values():
        for launch in launches:
            assert 1 <= launch.threads <= 1024 and launch.shared_bytes <= 48 * 1024, launch
    check_cuda_source(source.source, ARCHS)


@pytest.mark.parametrize("model, kind", [("c_small_cnn", "conv"), ("synthetic_bert4_256", "matmul")])
def test_gemm_and_conv_of_a_model_are_tiled(model, kind, monkeypatch):
    """A conv and a matmul of real models, under the default GPU schedules: kernels with
    shared-memory tiles between barriers, block and thread axes, and unrolled register
    tiles (read in the generated source)."""
    source, _ = _cuda_source(MODELS[model](), monkeypatch)
    kernels = {}
    for chunk in source.source.split("__global__")[1:]:
        header = chunk.split("{", 1)[0]
        name = re.findall(r"(\w+)\(", header)[-1]  # after __launch_bounds__(n)
        kernels[name] = chunk
    tiled = {n: k for n, k in kernels.items()
             if kind in n and "__shared__" in k and k.count("__syncthreads()") >= 2}
    assert tiled, f"no {kind} kernel with shared-memory tiles among {list(kernels)}"
    for k in tiled.values():
        assert "blockIdx." in k and "threadIdx.x" in k and "threadIdx.y" in k
        assert "#pragma unroll" in k
