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


def _check(module, *inputs, rtol=1e-4, atol=1e-4):
    module = module.eval()
    with torch.no_grad():
        want = module(*inputs)
    compiled = tc.compile(module, example_inputs=inputs)
    got = compiled.run([t.numpy() for t in inputs])
    wants = want if isinstance(want, (tuple, list)) else (want,)
    assert len(got) == len(wants)
    for g, w in zip(got, wants):
        np.testing.assert_allclose(g, w.numpy(), rtol=rtol, atol=atol)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(64, 128), nn.Linear(128, 128), nn.Linear(128, 10)

    def forward(self, x):
        h = nn.functional.gelu(self.fc1(x))
        h = nn.functional.gelu(self.fc2(h), approximate="tanh")
        return torch.softmax(self.fc3(h), dim=-1)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(32, 7)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))
        x = nn.functional.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x) * 0.5 - 1.0


def _randomize_batchnorm(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))
    return module


def test_mlp_with_gelu_and_softmax():
    torch.manual_seed(0)
    _check(MLP(), torch.randn(4, 64))


def test_small_cnn_with_batchnorm_and_pooling():
    torch.manual_seed(1)
    _check(_randomize_batchnorm(SmallCNN()), torch.randn(2, 3, 20, 20))


def test_a_module_in_training_mode_compiles_for_inference_and_stays_in_training_mode():
    torch.manual_seed(6)
    module = _randomize_batchnorm(SmallCNN()).train()
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


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(8, 8), nn.Hardtanh())

    def forward(self, x):
        return torch.cumsum(self.inner(x), dim=0)


def test_unsupported_ops_are_all_listed_with_their_module_paths():
    with pytest.raises(UnsupportedTorchOpsError) as err:
        tc.compile(Unsupported(), example_inputs=(torch.randn(3, 8),))
    message = str(err.value)
    assert "aten.cumsum.default" in message and "aten.hardtanh.default" in message
    assert "inner.1 (Hardtanh)" in message


def test_a_module_without_example_inputs_says_what_to_pass():
    with pytest.raises(ValueError, match="example_inputs"):
        tc.compile(MLP())


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18 layout, written out (no torchvision), random init."""

    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, layers, cin = (64, 128, 256, 512), [], 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def test_resnet18():
    torch.manual_seed(3)
    _check(_randomize_batchnorm(ResNet18()), torch.randn(1, 3, 112, 112), rtol=1e-3, atol=1e-3)


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
