"""ONNX -> tc graph IR.

``from_onnx`` normalizes opsets 9 to 21 (and later, with the latest semantics) into the
canonical op set documented in ``tc.compiler.ops``: attribute defaults filled, auto_pad
resolved into pads, inputs that became data-dependent across opsets (Reshape's shape,
Unsqueeze/Squeeze axes, Clip bounds, Pad pads, ConstantOfShape's shape) turned back into
attributes, and pre-13 Softmax semantics rewritten. Graph inputs that have an initializer
are constants. Every unsupported op is reported at once, before conversion starts.

The converters live in one ``convert_<family>.py`` module per op family; each registers
itself with ``@converter("OpType", ...)`` and is imported here, whatever its name.
"""
import importlib
import pkgutil

from .importer import (MIN_OPSET, CONVERTERS, Converter, FrontendError, ModelLoadError,
                       NotConstantError, UnsupportedOpsError, converter, from_onnx)

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("convert_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CONVERTERS", "Converter", "FrontendError", "MIN_OPSET", "ModelLoadError", "NotConstantError",
           "UnsupportedOpsError", "converter", "from_onnx"]
