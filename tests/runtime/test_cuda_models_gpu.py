"""On an NVIDIA GPU (tests marked ``gpu``; skipped elsewhere): the BERT-like stacks and
the PyTorch models compiled for ``cuda`` match their references (onnxruntime on the CPU,
PyTorch eager on the GPU with device tensors in and out, or on the CPU with host arrays
where torch is a CPU build).  The light ONNX models are in
test_cuda_compile.py."""
import os
import sys

import numpy as np
import pytest

import tc

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


def _synthetic(name):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    from synthetic_models import SYNTHETIC_MODELS

    return SYNTHETIC_MODELS[name]()


@pytest.mark.parametrize("name", ["bert4_256", "bert_layer"])
def test_bert_like_stack_matches_onnxruntime(name):
    from tests.frontends.onnx_models import run_onnxruntime

    model = _synthetic(name)
    x = np.random.default_rng(0).standard_normal((1, 128, int(
        model.graph.input[0].type.tensor_type.shape.dim[2].dim_value))).astype(np.float32)
    want = run_onnxruntime(model, {"x": x})
    got = tc.compile(model, target="cuda").run([x])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["resnet18", "mlp", "transformer_encoder"])
def test_torch_model_matches_eager_on_the_device(name):
    torch = pytest.importorskip("torch")
    from tests.frontends.torch_models import MLP, ResNet18, randomize_batchnorm

    if name == "resnet18":
        module, x = randomize_batchnorm(ResNet18()), torch.randn(1, 3, 224, 224)
    elif name == "mlp":
        module, x = MLP(), torch.randn(4, 64)
    else:
        layer = torch.nn.TransformerEncoderLayer(128, 4, 512, batch_first=True, dropout=0.0)
        module = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        x = torch.randn(1, 64, 128)
    module = module.eval()
    compiled = tc.compile(module, example_inputs=(x,), target="cuda")
    if not torch.cuda.is_available():  # a CPU build of torch: host arrays, eager on the CPU
        with torch.inference_mode():
            want = module(x).numpy()
        np.testing.assert_allclose(compiled.run([x.numpy()])[0], want, rtol=1e-3, atol=1e-4)
        return
    module, x = module.cuda(), x.cuda()
    with torch.inference_mode():
        want = module(x)
    got = compiled.run([x])[0]
    assert got.is_cuda and got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)
