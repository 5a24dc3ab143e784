"""The PyTorch frontend's layer and shape ops (convolutions of any rank and transposed,
pooling, normalization, resampling, padding, splits and layout ops) and small blocks built
from them: tc.compile(module, example_inputs=...) matches PyTorch eager on random inputs;
so does tc.compile of a program exported without decomposition, lowered as it is.
Skipped, with the reason, when torch is not installed (the [torch] extra)."""
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch frontend needs the [torch] extra "
                                           "(pip install -e '.[torch]')")
nn, F = torch.nn, torch.nn.functional

from tc.frontends.torch import export_program  # noqa: E402
from tc.frontends.torch.lowering import exported  # noqa: E402

from .torch_models import assert_matches_eager  # noqa: E402


def _check(module, *inputs, tol=1e-4, program=None):
    """tc's outputs (of ``module``, or of its exported ``program``) against eager's."""
    assert_matches_eager(module, *inputs, rtol=tol, atol=tol, program=program)


class Fn(nn.Module):
    """``fn(self, *inputs)`` as a module; keyword arguments become submodules."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, m in modules.items():
            setattr(self, name, m)

    def forward(self, *xs):
        return self.fn(self, *xs)


def _randomize_norms(module, seed=0):
    """Running statistics away from 0 / 1 and affine parameters away from 1 / 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if getattr(m, "running_mean", None) is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if isinstance(getattr(m, "weight", None), torch.Tensor) and \
                    isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
    return module


def _ops(module, *inputs) -> set:
    program = export_program(module, inputs)
    return {str(n.target) for n in program.graph.nodes if n.op == "call_function"}


# --- convolution --------------------------------------------------------------------------

CONVS = {
    "conv1d_groups_dilation": (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2,
                                                 groups=2), (2, 4, 11)),
    "conv1d_same_valid": (lambda: nn.Sequential(nn.Conv1d(4, 4, 4, padding="same", dilation=2),
                                                nn.Conv1d(4, 3, 3, padding="valid")),
                          (1, 4, 9)),
    "conv2d_same_even_kernel_unbatched": (lambda: Fn(lambda s, x: (s.a(x), s.b(x)),
                                                     a=nn.Conv2d(4, 3, (4, 3), padding="same"),
                                                     b=nn.Conv2d(4, 2, 3, padding=(0, 1))),
                                          (4, 7, 6)),
    "conv3d": (lambda: nn.Conv3d(4, 4, 3, stride=(1, 2, 2), padding=(1, 0, 1), groups=2),
               (1, 4, 5, 6, 6)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                    output_padding=1, groups=2), (2, 4, 5, 4)),
    "conv_transpose1d_dilation": (lambda: nn.ConvTranspose1d(4, 2, 4, stride=3, padding=2,
                                                             dilation=2), (1, 4, 6)),
    "conv_transpose3d_unbatched": (lambda: nn.ConvTranspose3d(4, 2, 2, stride=2, bias=False),
                                   (4, 3, 2, 3)),
}


@pytest.mark.parametrize("name", CONVS)
def test_convolutions(name):
    make, shape = CONVS[name]
    torch.manual_seed(0)
    _check(make(), torch.randn(*shape), tol=1e-3)


# --- pooling ------------------------------------------------------------------------------

POOLS = {
    "max_avg_1d": (lambda s, x: torch.cat([s.a(x), s.b(x)], -1),
                   dict(a=nn.MaxPool1d(3, 2, 1, ceil_mode=True),
                        b=nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
                   (2, 3, 10)),
    "max_avg_3d": (lambda s, x: s.a(x) + s.b(x),
                   dict(a=nn.MaxPool3d(2, (1, 2, 2), (1, 0, 1), ceil_mode=True),
                        b=nn.AvgPool3d(2, (1, 2, 2), (1, 0, 1), ceil_mode=True)),
                   (1, 2, 4, 5, 6)),
    "max_dilation_ceil_unbatched": (lambda s, x: s.a(x),
                                    dict(a=nn.MaxPool2d(3, 2, 1, 2, ceil_mode=True)), (3, 9, 8)),
    # the second's last windows overhang the padded extent: torch counts 6 or 4 taps there
    "avg_divisor_override": (lambda s, x: (F.avg_pool2d(x, 3, 2, 1, divisor_override=5),
                                           F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                        divisor_override=7)),
                             {}, (1, 2, 8, 8)),
    "adaptive_2d": (lambda s, x: (F.adaptive_avg_pool2d(x, (4, 3)),
                                  F.adaptive_max_pool2d(x, (3, 5)),
                                  F.adaptive_avg_pool2d(x, 5),
                                  F.adaptive_max_pool2d(x[0], (4, 4))), {}, (2, 3, 8, 10)),
    "adaptive_1d_3d": (lambda s, x, y: (F.adaptive_avg_pool1d(x, 3), F.adaptive_max_pool1d(x, 4),
                                        F.adaptive_avg_pool3d(y, (2, 3, 2)),
                                        F.adaptive_max_pool3d(y, (1, 2, 3))),
                       {}, (2, 3, 7), (1, 2, 4, 6, 5)),
    "max_with_indices": (lambda s, x: F.max_pool2d(x, 3, 2, 1, return_indices=True), {},
                         (2, 3, 7, 6)),
}


@pytest.mark.parametrize("name", POOLS)
def test_pooling(name):
    fn, modules, *shapes = POOLS[name]
    torch.manual_seed(1)
    _check(Fn(fn, **modules), *(torch.randn(*s) for s in shapes))


def test_adaptive_pools_lower_their_own_aten_ops():
    x = torch.randn(1, 2, 8, 10)
    ops = _ops(Fn(lambda s, x: (F.adaptive_avg_pool2d(x, 3), F.adaptive_max_pool2d(x, 3))), x)
    assert {"aten._adaptive_avg_pool2d.default", "aten.adaptive_max_pool2d.default"} <= ops


# --- normalization ------------------------------------------------------------------------

NORMS = {
    "group_norm": (lambda: Fn(lambda s, x: s.a(x) + s.b(x), a=nn.GroupNorm(2, 6),
                              b=nn.GroupNorm(3, 6, affine=False)), (2, 6, 4, 5)),
    "instance_norm_2d": (lambda: Fn(lambda s, x: s.a(x) * s.b(x),
                                    a=nn.InstanceNorm2d(4, affine=True),
                                    b=nn.InstanceNorm2d(4, track_running_stats=True)),
                         (2, 4, 5, 6)),
    "instance_norm_1d_unbatched": (lambda: nn.InstanceNorm1d(3, affine=True), (3, 7)),
    "batch_norm_without_running_stats": (lambda: nn.BatchNorm2d(4, track_running_stats=False),
                                         (3, 4, 3, 3)),
    "batch_norm_1d_3d": (lambda: Fn(lambda s, x, y, z: (s.a(x), s.b(y), s.c(z)),
                                    a=nn.BatchNorm1d(3), b=nn.BatchNorm1d(3, affine=False),
                                    c=nn.BatchNorm3d(2)), (4, 3), (2, 3, 5), (1, 2, 3, 3, 2)),
}


@pytest.mark.parametrize("name", NORMS)
def test_normalization(name):
    make, *shapes = NORMS[name]
    torch.manual_seed(2)
    _check(_randomize_norms(make()), *(torch.randn(*s) * 2 + 0.5 for s in shapes))


# --- resampling and padding ---------------------------------------------------------------

RESAMPLE = {
    "nearest": lambda x: (F.interpolate(x, scale_factor=2), F.interpolate(x, size=(5, 11)),
                          F.interpolate(x, scale_factor=(1.5, 0.5))),
    "bilinear": lambda x: (F.interpolate(x, scale_factor=2, mode="bilinear"),
                           F.interpolate(x, size=(5, 11), mode="bilinear"),
                           F.interpolate(x, size=(1, 3), mode="bilinear")),
    "bilinear_align_corners": lambda x: (
        F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
        F.interpolate(x, size=(3, 13), mode="bilinear", align_corners=True)),
}


@pytest.mark.parametrize("name", RESAMPLE)
def test_resampling(name):
    torch.manual_seed(3)
    _check(Fn(lambda s, x: RESAMPLE[name](x)), torch.randn(2, 3, 6, 8))


def test_constant_padding_pads_and_crops():
    torch.manual_seed(4)
    _check(Fn(lambda s, x: (F.pad(x, (1, 2, 0, 3), value=0.5), F.pad(x, (-1, 2, 1, -2)),
                            F.pad(x, (0, 0, 0, 0, 1, 1)))), torch.randn(2, 3, 5, 6))


# --- shape ops ----------------------------------------------------------------------------

SHAPES = {
    "split_chunk_unbind": (lambda x: (*torch.split(x, [2, 4], 1), *torch.chunk(x, 4, 1),
                                      *torch.unbind(x, -1), *x.split(4, 1)), (2, 6, 3)),
    "stack_squeeze_repeat": (lambda x: (torch.stack([x, x * 2], 1).squeeze(),
                                        x.repeat(2, 1, 3, 1), x.tile((2,))), (1, 3, 1, 4)),
    "flip_narrow_movedim_unflatten": (lambda x: (x.flip(0, -1), x.narrow(1, 1, 3),
                                                 x.movedim(1, -1), x.unflatten(1, (2, 3))),
                                      (2, 6, 4)),
    "slices": (lambda x: (x[:, 1::2, -3:100], x[:, -5:-1], x[:, 5:2], x[..., 7:],
                          x[:, -1], x[-2, :, 1]), (2, 6, 4)),
    "expand_pixel_shuffle": (lambda x: (x[:, :1].expand(2, -1, 4, -1) + 1,
                                        F.pixel_shuffle(x, 2), F.pixel_unshuffle(x, 2)),
                             (2, 4, 4, 6)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shape_ops(name):
    fn, shape = SHAPES[name]
    torch.manual_seed(6)
    _check(Fn(lambda s, x: fn(x)), torch.randn(*shape))


# --- blocks -------------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    """MobileNetV2's block: pointwise expand, depthwise 3x3, pointwise project, residual."""

    def __init__(self, c=8, expand=3):
        super().__init__()
        h = c * expand
        self.body = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class UNetUp(nn.Module):
    """A UNet decoder step: upsample by a transposed conv, concatenate the skip, conv,
    and an interpolated side output."""

    def __init__(self, c=6):
        super().__init__()
        self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.conv = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.GroupNorm(2, c),
                                  nn.ReLU())

    def forward(self, x, skip):
        y = self.conv(torch.cat([self.up(x), skip], 1))
        return y + F.interpolate(x[:, :y.shape[1]], scale_factor=2, mode="bilinear")


class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(3, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(8, 8, 3, padding="same", dilation=2), nn.BatchNorm1d(8), nn.ReLU(),
            nn.AdaptiveAvgPool1d(3))
        self.head = nn.Linear(24, 4)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class ShuffleBlock(nn.Module):
    """ShuffleNetV2's stride-1 unit: split channels, branch, concatenate, channel shuffle
    (view + transpose + view)."""

    def __init__(self, c=8):
        super().__init__()
        h = c // 2
        self.branch = nn.Sequential(
            nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h),
            nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        y = torch.cat([a, self.branch(b)], 1)
        n, c, hh, ww = y.shape
        return y.view(n, 2, c // 2, hh, ww).transpose(1, 2).contiguous().view(n, c, hh, ww)


BLOCKS = {
    "mobilenet_v2_block": (InvertedResidual, (2, 8, 6, 6)),
    "unet_decoder_step": (UNetUp, (1, 12, 4, 5), (1, 6, 8, 10)),
    "conv1d_net": (Conv1dNet, (2, 3, 16)),
    "shufflenet_block": (ShuffleBlock, (2, 8, 5, 5)),
}


@pytest.mark.parametrize("name", BLOCKS)
def test_blocks(name):
    make, *shapes = BLOCKS[name]
    torch.manual_seed(8)
    _check(_randomize_norms(make()), *(torch.randn(*s) for s in shapes), tol=1e-3)


# --- programs exported without decomposition ----------------------------------------------

RAW = {
    "convolutions": (lambda s, x, y, z: (
        s.c1(x), s.c2(x), s.t1(x), s.t2(y), s.c3(z), s.t3(z)),
        dict(c1=nn.Conv1d(4, 4, 4, padding="same", dilation=2), c2=nn.Conv1d(4, 3, 3, 2),
             t1=nn.ConvTranspose1d(4, 2, 3, stride=2), c3=nn.Conv3d(2, 2, 3, padding="valid"),
             t2=nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
             t3=nn.ConvTranspose3d(2, 2, 2, stride=2, groups=2)),
        (2, 4, 9), (2, 4, 6, 5), (1, 2, 4, 4, 4)),
    "norms_and_pools": (lambda s, x, y, z: (
        s.bn(y), s.bn_batch(y), s.gn(y), s.inst(y), s.inst_running(y),
        F.max_pool1d(x, 3, 2, 1), F.avg_pool1d(x, 3, 2, 1, ceil_mode=True),
        F.max_pool3d(z, 2, 1), F.adaptive_avg_pool2d(y, 3), F.adaptive_max_pool1d(x, 3),
        F.adaptive_avg_pool1d(x, 4), F.adaptive_avg_pool3d(z, (2, 3, 3))),
        dict(bn=nn.BatchNorm2d(4), bn_batch=nn.BatchNorm2d(4, track_running_stats=False),
             gn=nn.GroupNorm(2, 4), inst=nn.InstanceNorm2d(4, affine=True),
             inst_running=nn.InstanceNorm2d(4, track_running_stats=True)),
        (2, 4, 9), (2, 4, 6, 5), (1, 2, 4, 4, 4)),
    "resampling": (lambda s, x, y, z: (
        F.interpolate(x, scale_factor=2), F.interpolate(x, size=7, mode="linear"),
        F.interpolate(x, scale_factor=1.5, mode="linear", align_corners=True),
        F.interpolate(y, size=(4, 9), mode="nearest-exact"),
        F.interpolate(y, scale_factor=2, mode="bicubic"),
        F.interpolate(y, size=(5, 7), mode="bicubic", align_corners=True),
        F.interpolate(z, scale_factor=(1, 2, 1.5)),
        F.interpolate(z, size=(3, 5, 6), mode="trilinear")),
        {}, (2, 4, 9), (2, 4, 6, 5), (1, 2, 4, 4, 4)),
    "shape_and_padding": (lambda s, x, y, z: (
        *x.split(4, 1), *y.chunk(3, -1), *x.unbind(1), torch.stack([x, x + 1], -1),
        z[:, :1].squeeze(), x.narrow(-1, -4, 3), y.movedim((1, 3), (-1, 0)),
        y.unflatten(1, (2, 2)), x.tile(2), x.tile((2, 1, 1, 1)),
        F.pixel_shuffle(z, 2), F.pixel_unshuffle(y[..., :4], 2),
        torch.roll(x, 3, -1), torch.roll(y, (1, -2), (0, 2)), torch.roll(x, -4),
        s.reflect(y), s.replicate(y), F.pad(y, (1, 2, 2, 1), mode="circular"),
        F.pad(x, (2, 1), mode="reflect"), F.pad(x, (-1, 2, 1, 0), value=0.5)),
        dict(reflect=nn.ReflectionPad2d((1, 2, 2, 1)),
             replicate=nn.ReplicationPad2d((2, 0, 1, 3))),
        (2, 4, 9), (2, 4, 6, 5), (1, 2, 4, 4, 4)),
}


@pytest.mark.parametrize("name", RAW)
def test_programs_exported_without_decomposition_are_lowered_as_they_are(name):
    fn, modules, *shapes = RAW[name]
    torch.manual_seed(9)
    module = _randomize_norms(Fn(fn, **modules)).eval()
    inputs = tuple(torch.randn(*s) for s in shapes)
    program = torch.export.export(module, inputs)
    assert exported(program) is program  # every op it calls has a converter
    _check(module, *inputs, program=program)
