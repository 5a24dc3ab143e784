"""The PyTorch frontend's elementwise, activation and reduction ops (convert_elementwise,
convert_activations, convert_reduce) match PyTorch eager on random inputs, including
torch's type promotion of integer inputs.  Skipped when torch is not installed."""
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch frontend needs the [torch] extra "
                                           "(pip install -e '.[torch]')")
nn = torch.nn

from tc.frontends.torch import lowering

from .torch_models import Fn, assert_matches_eager


def check(module, *inputs, rtol=1e-5, atol=1e-5):
    assert_matches_eager(module, *inputs, rtol=rtol, atol=atol)


def _positive(*shape):
    return torch.rand(*shape) + 0.5


def _signed(*shape):
    """Values of both signs away from 0 and from rounding ties."""
    x = torch.randn(*shape) * 3
    return torch.where(x.abs() < 0.1, x + 0.3, x)


@pytest.mark.parametrize("fn", [
    lambda x, y: (x + y, torch.add(x, y, alpha=2), torch.sub(x, 1.5, alpha=2), 1 - x,
                  2.5 * x, x / y, 3 / x),
    lambda x, y: (x ** 2, x ** 2.5, x ** y, 2.0 ** x, torch.minimum(x, y),
                  torch.maximum(x, y), x.clamp(0.8, 1.2), x.clamp(min=1.0),
                  x.clamp(max=1.0), torch.clamp(x, y * 0.9, y * 1.1), torch.clamp(x, max=y)),
], ids=["add_sub_mul_div", "pow_min_max_clamp"])
def test_binary_arithmetic(fn):
    torch.manual_seed(0)
    check(fn, _positive(2, 3), _positive(3))


def test_fmod_remainder_and_rounding_division_follow_torch_signs():
    torch.manual_seed(1)
    x, y = _signed(3, 4), _signed(4)
    check(lambda x, y: (torch.fmod(x, 0.7), torch.remainder(x, -0.7), x % y,
                         torch.fmod(x, y), 2.0 % y,
                         torch.div(x, y, rounding_mode="floor"), x // 0.7,
                         torch.div(x, y, rounding_mode="trunc")), x, y)


@pytest.mark.parametrize("fn, data", [
    (lambda x: (x.abs(), x.log(), torch.log1p(x), torch.expm1(x), torch.exp2(x),
                torch.log2(x), torch.log10(x), x.rsqrt(), x.reciprocal(), x.sqrt()), _positive),
    (lambda x: (torch.erf(x), torch.erfc(x), x.sin(), x.cos(), torch.tan(x * 0.3),
                torch.atan(x), torch.sinh(x), torch.asinh(x)), _signed),
    (lambda x: (x.floor(), x.ceil(), x.round(), torch.round(x, decimals=1),
                torch.round(x * 100, decimals=-1), x.trunc(), x.sign(), x.neg()), _signed),
], ids=["exp_log", "trig_erf", "rounding_sign"])
def test_unary_math(fn, data):
    torch.manual_seed(2)
    check(fn, data(2, 5), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("module", [
    nn.Sequential(nn.Hardtanh(-0.5, 0.8), nn.LeakyReLU(0.2)),
    nn.ReLU6(), nn.ELU(0.7), nn.SELU(), nn.SiLU(), nn.Hardswish(), nn.Hardsigmoid(),
    nn.LogSoftmax(dim=-1), nn.GELU(approximate="tanh"),
], ids=lambda m: type(m).__name__)
def test_activations(module):
    torch.manual_seed(3)
    check(module, torch.randn(2, 4, 5) * 4)


def _prelu(channels):
    """nn.PReLU with a different random slope per channel."""
    module = nn.PReLU(channels)
    with torch.no_grad():
        module.weight.copy_(torch.rand(channels, generator=torch.Generator().manual_seed(8)))
    return module


#: activations that decompose into where(x > c, ...) and friends (lowered by the logic
#: and creation converters); kept whole, they map onto tc's activation kernels
_WHERE_ACTIVATIONS = [
    nn.Softplus(), nn.Softplus(beta=2.0, threshold=3.0), nn.Mish(), nn.CELU(0.5),
    _prelu(4), _prelu(1), Fn(lambda x: torch.logsumexp(x, dim=(0, -1), keepdim=True)),
]
_KEPT_WHOLE = ("softplus", "mish", "celu", "prelu", "logsumexp", "silu", "hardswish",
               "hardsigmoid")


def _exported_ops(module, *inputs):
    """The ATen ops of ``module``'s exported program, in order."""
    program = lowering.export_program(module, inputs)
    return [lowering.op_name(n.target) for n in program.graph.nodes if n.op == "call_function"]


@pytest.mark.parametrize("module", _WHERE_ACTIVATIONS + [nn.SiLU(), nn.Hardswish(),
                                                          nn.Hardsigmoid()],
                         ids=lambda m: type(m).__name__)
def test_activations_kept_whole(module):
    """KEPT_OPS keeps these whole, for tc's activation kernels."""
    ops = _exported_ops(module, torch.randn(2, 4, 5))
    assert any(op.split(".")[1] in _KEPT_WHOLE for op in ops), ops
    torch.manual_seed(4)
    check(module, torch.randn(2, 4, 5) * 4, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("module", _WHERE_ACTIVATIONS, ids=lambda m: type(m).__name__)
def test_activations_decomposed(module, monkeypatch):
    """Decomposed (as a program exported elsewhere may hold them), they lower too."""
    monkeypatch.setattr(lowering, "KEPT_OPS", tuple(op for op in lowering.KEPT_OPS
                                                    if op not in _KEPT_WHOLE))
    assert not any(op.split(".")[1] in _KEPT_WHOLE
                   for op in _exported_ops(module, torch.randn(2, 4, 5)))
    torch.manual_seed(4)
    check(module, torch.randn(2, 4, 5) * 4, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("fn", [
    lambda x: (x.sum(), x.mean(), x.sum(dim=(0, 2)), x.mean(-1, keepdim=True),
               x.amax(1), x.amin(-2, keepdim=True), x.prod(1), x.prod(), x.max(), x.min()),
    lambda x: (x.var(1), x.std(-1, keepdim=True, correction=0), x.var(),
               torch.var_mean(x, dim=(0, 2)), torch.var_mean(x, -1, keepdim=True)),
    lambda x: (x.max(1), x.min(-1, keepdim=True), x.argmax(1), x.argmin(-1, keepdim=True),
               x.argmax(), x.argmin(keepdim=True)),
    lambda x: (x.norm(dim=1), torch.linalg.vector_norm(x, 1, dim=-1, keepdim=True),
               x.norm(), torch.linalg.vector_norm(x, float("inf"), dim=(0, 1)),
               torch.linalg.vector_norm(x, -float("inf")), torch.linalg.vector_norm(x, 3, -1),
               torch.linalg.vector_norm(x, 0, 1)),
    lambda x: (x.cumsum(1), x.cumprod(-1), x.sum(1, dtype=torch.float64),
               x.cumsum(0, dtype=torch.float64)),
], ids=["sum_mean_prod_minmax", "var_std", "max_min_argmax", "vector_norm", "scans"])
def test_reductions(fn):
    torch.manual_seed(5)
    check(fn, _signed(2, 3, 4) * 0.5, rtol=1e-5, atol=1e-5)


def test_any_of_bool_and_float_tensors():
    torch.manual_seed(6)
    flags = torch.rand(3, 4) > 0.7
    x = torch.randn(3, 4) * (torch.rand(3, 4) > 0.5)
    check(lambda f, x: (f.any(), f.any(1), f.any(-1, keepdim=True), x.any(0)), flags, x)


def test_integer_inputs_promote_as_in_torch():
    torch.manual_seed(7)
    x = torch.randint(-9, 10, (3, 4))
    x = torch.where(x == 0, torch.ones_like(x), x)
    check(lambda x: (x * 0.5, x / 2, x + 1.5, 2.0 ** x.abs().clamp(max=3), x.abs().sqrt(),
                      torch.sigmoid(x), x.reciprocal(), x ** 2,
                      x.clamp(-2.5, 3.5), x.clamp(-2, 3), x // 3, x % 3, torch.fmod(x, 3),
                      torch.div(x, 4, rounding_mode="trunc"), x.floor(), x.abs(), x.sign(),
                      x.sum(1), x.prod(0), x.max(-1), x.cumsum(1), x.amax(0),
                      torch.minimum(x, torch.tensor(0.5))), x)
