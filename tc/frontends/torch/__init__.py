"""The PyTorch frontend: an ``nn.Module`` (or a ``torch.export`` program) into tc's graph IR.

    graph = from_torch(module, example_inputs=(x,))

The module is exported with ``torch.export.export`` and decomposed to core ATen, except
for a few high-level ops that tc has better kernels for (``KEPT_OPS``: linear, conv2d,
gelu, layer_norm, scaled_dot_product_attention), which stay whole.  Each ATen call is
lowered by one converter of ``CONVERTERS`` (one ``convert_<family>.py`` module per op
family) (keyed by the op's overload name, e.g.
``aten.conv2d.default``) into canonical tc nodes.  Parameters and buffers become
constants under their module names (``layer1.0.conv1.weight``), so a printed graph
reads like the model; non-persistent buffers and lifted tensor constants come from the
program's ``constants``.  User inputs keep their argument names.

Work in progress (issue 6): the ops of MLPs and CNNs (conv, batch norm, pooling,
linear, activations, elementwise arithmetic, reshapes) are covered; attention, pytree
inputs and outputs, scalars and ``tc-build`` integration are not yet.  An unsupported op
raises ``UnsupportedTorchOpsError`` listing every one at once with the module path it
came from.

torch is optional: importing tc never imports it; this module imports it on first use.
"""
import importlib
import pkgutil

from .lowering import (
    CONVERTERS,
    KEPT_OPS,
    Lowering,
    UnsupportedTorchOpsError,
    converter,
    export_program,
    from_torch,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("convert_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CONVERTERS", "KEPT_OPS", "Lowering", "UnsupportedTorchOpsError", "converter",
           "export_program", "from_torch"]
