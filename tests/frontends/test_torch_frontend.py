"""The PyTorch frontend: nn.Modules compiled with tc.compile(module, example_inputs=...)
match PyTorch eager on random inputs; unsupported ops are all listed with their module
paths.  Skipped, with the reason, when torch is not installed (the [torch] extra)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch frontend needs the [torch] extra "
                                           "(pip install -e '.[torch]')")
nn = torch.nn

import tc  # noqa: E402
from tc.frontends.torch import UnsupportedTorchOpsError, from_torch  # noqa: E402

from .torch_models import (  # noqa: E402
    MLP,
    ResNet18,
    SmallCNN,
    assert_matches_eager,
    randomize_batchnorm,
)


def _check(module, *inputs, rtol=1e-4, atol=1e-4):
    assert_matches_eager(module, *inputs, rtol=rtol, atol=atol)


def test_mlp_with_gelu_and_softmax():
    torch.manual_seed(0)
    _check(MLP(), torch.randn(4, 64))


def test_small_cnn_with_batchnorm_and_pooling():
    torch.manual_seed(1)
    _check(randomize_batchnorm(SmallCNN()), torch.randn(2, 3, 20, 20))


def test_a_module_in_training_mode_compiles_for_inference_and_stays_in_training_mode():
    torch.manual_seed(6)
    module = randomize_batchnorm(SmallCNN()).train()
    x = torch.randn(1, 3, 12, 12)
    got = tc.compile(module, example_inputs=(x,)).run([x.numpy()])[0]
    assert module.training
    with torch.no_grad():
        want = module.eval()(x)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)


def test_weights_keep_their_module_names():
    torch.manual_seed(2)
    graph = from_torch(SmallCNN().eval(), (torch.randn(1, 3, 16, 16),))
    assert {"conv1.weight", "bn1.running_var", "head.bias"} <= set(graph.constants)


class LogGamma(nn.Module):
    def forward(self, x):
        return torch.lgamma(x)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(8, 8), LogGamma())

    def forward(self, x):
        return torch.digamma(self.inner(x))


def test_unsupported_ops_are_all_listed_with_their_module_paths():
    with pytest.raises(UnsupportedTorchOpsError) as err:
        tc.compile(Unsupported(), example_inputs=(torch.randn(3, 8),))
    message = str(err.value)
    assert "aten.lgamma.default" in message and "aten.digamma.default" in message
    assert "inner.1 (LogGamma)" in message


def test_a_module_without_example_inputs_says_what_to_pass():
    with pytest.raises(ValueError, match="example_inputs"):
        tc.compile(MLP())


def test_resnet18():
    torch.manual_seed(3)
    _check(randomize_batchnorm(ResNet18()), torch.randn(1, 3, 112, 112), rtol=1e-3, atol=1e-3)


def test_transformer_encoder():
    torch.manual_seed(4)
    layer = nn.TransformerEncoderLayer(128, 4, 256, batch_first=True, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    _check(encoder, torch.randn(2, 10, 128), rtol=1e-3, atol=1e-3)


class CausalAttention(nn.Module):
    def forward(self, q, k, v):
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return a[:, :, 1:7:2]


def test_causal_attention_and_slicing():
    torch.manual_seed(5)
    _check(CausalAttention(), *(torch.randn(2, 3, 8, 16) for _ in range(3)))
