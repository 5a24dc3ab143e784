"""Tensors made from nothing: full, zeros, ones, empty (and their _like / new_ forms),
scalar_tensor, arange.  Filled tensors are ConstantOfShape nodes (no array in the
artifact; constant folding decides), aranges constants."""
from __future__ import annotations

import numpy as np

from .lowering import Lowering, arg, converter

# op -> its fill value, read from the fx node (``empty`` gives zeros: its contents are
# undefined, and zeros make a missed write visible)
_FILL = {"full": lambda n: n.args[1], "full_like": lambda n: n.args[1],
         "new_full": lambda n: n.args[2], "scalar_tensor": lambda n: n.args[0],
         "zeros": lambda n: 0, "zeros_like": lambda n: 0, "new_zeros": lambda n: 0,
         "ones": lambda n: 1, "ones_like": lambda n: 1, "new_ones": lambda n: 1,
         "empty": lambda n: 0, "empty_like": lambda n: 0, "new_empty": lambda n: 0}


@converter(*(f"aten.{op}.{'memory_format' if op == 'empty' else 'default'}" for op in _FILL))
def _full(cv: Lowering, node):
    value = _FILL[node.target._schema.name.split("::")[-1]](node)
    return cv.emit("ConstantOfShape", [], {"shape": cv.out_shape(node), "value": value,
                                           "dtype": cv.out_dtype(node)}, node)


@converter("aten.arange.default", "aten.arange.start", "aten.arange.start_step")
def _arange(cv: Lowering, node):
    if "start" in node.target._overloadname:
        start, end = node.args[0], node.args[1]
    else:
        start, end = 0, node.args[0]
    step = arg(node, 2, "step", 1) if node.target._overloadname == "start_step" else 1
    values = np.arange(start, end, step).astype(cv.out_dtype(node))
    return cv.b.constant(values, node.name)
