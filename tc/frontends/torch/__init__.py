"""The PyTorch frontend: an ``nn.Module`` (or a ``torch.export`` program) into tc's graph IR.

    graph = from_torch(module, example_inputs=(x,))

The module is exported with ``torch.export.export`` and decomposed to core ATen, except
for a few high-level ops that tc has better kernels for (``KEPT_OPS``: linear, conv2d,
gelu, layer_norm, scaled_dot_product_attention), which stay whole.  Each ATen call is
lowered into canonical tc nodes by one converter of ``CONVERTERS``, keyed by the op's
overload name (``aten.conv2d.default``); the converters live in one
``convert_<family>.py`` module per op family.  Parameters and buffers become constants
under their module names (``layer1.0.conv1.weight``), so a printed graph reads like the
model; non-persistent buffers and lifted tensor constants come from the program's
``constants``.

Inputs and outputs: ``example_inputs`` is a tuple of ``forward``'s positional arguments,
a dict of its keyword arguments, or one tensor.  Nested tuples, lists and dicts are
flattened in torch's pytree order (positional arguments first, then keyword arguments;
dict entries in insertion order): the compiled model takes and returns that flat list.
Inputs keep the placeholder names torch gives them (``x``, ``batch_mask`` for
``batch["mask"]``); outputs are named by their pytree path (``output`` for one tensor,
``output0``, ``output1`` for a tuple, ``logits`` or ``pair.0`` inside dicts and
``ModelOutput`` classes).  Python numbers among the inputs are specialized at export
(the compiled model keeps the example's value) and are not inputs of the compiled
model; an output that is a Python number is refused.

An unsupported op raises ``UnsupportedTorchOpsError`` listing every one at once with the
module path it came from.  Not supported: data-dependent shapes (boolean-mask indexing,
nonzero), dynamic shapes (the export is for the example's shapes), in-place updates of
inputs or buffers (KV caches), training-mode ops.

torch is optional: importing tc never imports it; this module imports it on first use.
"""
import importlib
import pkgutil

from .lowering import (
    CONVERTERS,
    KEPT_OPS,
    Lowering,
    TorchExportError,
    UnsupportedTorchOpsError,
    converter,
    export_program,
    exported,
    from_torch,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("convert_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CONVERTERS", "KEPT_OPS", "Lowering", "TorchExportError", "UnsupportedTorchOpsError", "converter",
           "export_program", "exported", "from_torch"]
