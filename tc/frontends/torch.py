"""The PyTorch frontend: an ``nn.Module`` (or a ``torch.export`` program) into tc's graph IR.

    graph = from_torch(module, example_inputs=(x,))

The module is exported with ``torch.export.export`` and decomposed to core ATen, except
for a few high-level ops that tc has better kernels for (``KEPT_OPS``: linear, conv2d,
gelu, layer_norm, scaled_dot_product_attention), which stay whole.  Each ATen call is
lowered by one converter of ``CONVERTERS`` (keyed by the op's overload name, e.g.
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
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from ..compiler.graph import Graph, GraphBuilder, Value
from ..compiler.ops.common import normalize_axis
from .registry import converter_decorator

#: ATen ops kept whole instead of decomposed: tc has its own kernels for them
KEPT_OPS = ("linear", "conv2d", "gelu", "layer_norm", "scaled_dot_product_attention")

CONVERTERS: dict[str, Callable] = {}
#: ``@converter("aten.relu.default", ...)`` registers ``fn(cv: _Lowering, fx_node)``
converter = converter_decorator(CONVERTERS)


class UnsupportedTorchOpsError(ValueError):
    """The exported program calls ATen ops tc cannot lower; the message lists them all."""


def export_program(module, example_inputs):
    """``torch.export`` of ``module`` on ``example_inputs`` (a tuple) in eval mode (tc
    compiles inference), decomposed to core ATen except ``KEPT_OPS``.  The module's
    train/eval mode is restored afterwards."""
    import torch

    was_training = module.training
    module.eval()
    try:
        program = torch.export.export(module, tuple(example_inputs))
    finally:
        module.train(was_training)
    table = torch.export.default_decompositions()
    for name in KEPT_OPS:
        table.pop(getattr(torch.ops.aten, name).default, None)
    return program.run_decompositions(table)


def from_torch(model, example_inputs=None) -> Graph:
    """The graph IR of ``model``: an ``nn.Module`` (exported on ``example_inputs``) or an
    ``ExportedProgram``."""
    import torch

    if isinstance(model, torch.export.ExportedProgram):
        program = model
    else:
        if example_inputs is None:
            raise ValueError("from_torch needs example_inputs (a tuple of tensors) to export "
                             "an nn.Module, e.g. from_torch(model, (torch.randn(1, 3, 224, 224),))")
        program = export_program(model, example_inputs)
    return _Lowering(program).run()


def _op_name(target) -> str:
    return str(target) if not hasattr(target, "_schema") else \
        f"aten.{target._schema.name.split('::')[-1]}.{target._overloadname}"


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "<top level>"
    path, cls = list(stack.values())[-1]
    name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
    return f"{path or '<top level>'} ({name.split('.')[-1]})"


class _Lowering:
    def __init__(self, program):
        self.program = program
        self.b = GraphBuilder("torch_model")
        self.env: dict[str, Any] = {}

    def run(self) -> Graph:
        graph = self.program.graph_module.graph
        self._check_supported(graph)
        self._placeholders(graph)
        outputs: list[Value] = []
        for node in graph.nodes:
            if node.op == "call_function":
                self.env[node.name] = self._call(node)
            elif node.op == "output":
                outputs = [self.value(a) for a in _flatten(node.args[0])]
        return self.b.build(outputs)

    def _check_supported(self, graph) -> None:
        missing: dict[str, list[str]] = {}
        for node in graph.nodes:
            if node.op != "call_function" or node.target is operator.getitem:
                continue
            name = _op_name(node.target)
            if name not in CONVERTERS:
                missing.setdefault(name, []).append(_module_path(node))
        if missing:
            lines = [f"  {op}: used by {', '.join(sorted(set(paths)))}"
                     for op, paths in sorted(missing.items())]
            raise UnsupportedTorchOpsError(
                f"tc cannot lower {len(missing)} ATen op(s) of this model yet:\n"
                + "\n".join(lines)
                + "\nrewrite those parts with supported ops, or export the model to ONNX "
                  "(torch.onnx.export) and compile the .onnx file")

    def _placeholders(self, graph) -> None:
        sig = self.program.graph_signature
        params, buffers = sig.inputs_to_parameters, sig.inputs_to_buffers
        lifted = getattr(sig, "inputs_to_lifted_tensor_constants", {})
        state, constants = self.program.state_dict, self.program.constants
        for node in graph.nodes:
            if node.op != "placeholder":
                continue
            if node.name in params or node.name in buffers or node.name in lifted:
                fqn = params.get(node.name) or buffers.get(node.name) or lifted[node.name]
                tensor = state[fqn] if fqn in state else constants[fqn]
                self.env[node.name] = self.b.constant(_numpy(tensor), fqn)
            else:
                val = node.meta["val"]
                self.env[node.name] = self.b.input(node.name, tuple(val.shape),
                                                   _dtype(val.dtype))

    def _call(self, node):
        if node.target is operator.getitem:
            return self.env[node.args[0].name][node.args[1]]
        return CONVERTERS[_op_name(node.target)](self, node)

    # --- helpers for converters -------------------------------------------------------

    def value(self, arg) -> Any:
        """The tc Value of an fx node argument (other arguments pass through)."""
        return self.env[arg.name] if hasattr(arg, "name") and hasattr(arg, "op") else arg

    def tensor(self, arg, like: Value) -> Value:
        """``arg`` as a Value: a Python number becomes a constant of ``like``'s dtype."""
        v = self.value(arg)
        if isinstance(v, Value):
            return v
        return self.b.constant(np.asarray(v, dtype=like.type.dtype), "scalar")

    def emit(self, op: str, inputs: list, attrs: dict | None, node) -> Value:
        """Append a one-output ``op`` node named after the fx ``node``."""
        return self.b.op(op, inputs, attrs or {}, name=node.name)[0]

    @staticmethod
    def out_shape(node) -> tuple:
        return tuple(int(d) for d in node.meta["val"].shape)


def _flatten(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flatten(o)
    else:
        yield obj


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().contiguous().numpy().copy()


def _dtype(torch_dtype) -> str:
    return str(torch_dtype).replace("torch.", "")


def _arg(node, i: int, name: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


# --- converters ----------------------------------------------------------------------

_ELEMENTWISE = {"aten.add.Tensor": "Add", "aten.sub.Tensor": "Sub", "aten.mul.Tensor": "Mul",
                "aten.div.Tensor": "Div", "aten.add.Scalar": "Add", "aten.sub.Scalar": "Sub",
                "aten.mul.Scalar": "Mul", "aten.div.Scalar": "Div"}


@converter(*_ELEMENTWISE)
def _binary(cv: _Lowering, node):
    a, b = cv.value(node.args[0]), cv.value(node.args[1])
    like = a if isinstance(a, Value) else b
    a, b = cv.tensor(a, like), cv.tensor(b, like)
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        b = cv.emit("Mul", [b, cv.tensor(alpha, like)], None, node)
    return cv.emit(_ELEMENTWISE[_op_name(node.target)], [a, b], None, node)


_UNARY = {"aten.relu.default": "Relu", "aten.sigmoid.default": "Sigmoid",
          "aten.tanh.default": "Tanh", "aten.exp.default": "Exp", "aten.neg.default": "Neg",
          "aten.sqrt.default": "Sqrt"}


@converter(*_UNARY)
def _unary(cv: _Lowering, node):
    return cv.emit(_UNARY[_op_name(node.target)], [cv.value(node.args[0])], None, node)


@converter("aten.rsqrt.default")
def _rsqrt(cv: _Lowering, node):
    root = cv.emit("Sqrt", [cv.value(node.args[0])], None, node)
    return cv.emit("Reciprocal", [root], None, node)


@converter("aten.gelu.default")
def _gelu(cv: _Lowering, node):
    return cv.emit("Gelu", [cv.value(node.args[0])],
                   {"approximate": node.kwargs.get("approximate", "none")}, node)


@converter("aten.clone.default", "aten.alias.default", "aten.detach.default",
           "aten.dropout.default", "aten.contiguous.default")
def _identity(cv: _Lowering, node):
    return cv.value(node.args[0])


@converter("aten.linear.default")
def _linear(cv: _Lowering, node):
    x, w = cv.value(node.args[0]), cv.value(node.args[1])
    bias = cv.value(_arg(node, 2, "bias"))
    wt = cv.emit("Transpose", [w], {"perm": (1, 0)}, node)  # folded for constant weights
    y = cv.emit("MatMul", [x, wt], None, node)
    return y if bias is None else cv.emit("Add", [y, bias], None, node)


@converter("aten.addmm.default")
def _addmm(cv: _Lowering, node):
    bias, a, b = (cv.value(a) for a in node.args[:3])
    return cv.emit("Add", [cv.emit("MatMul", [a, b], None, node), bias], None, node)


@converter("aten.mm.default", "aten.bmm.default", "aten.matmul.default")
def _matmul(cv: _Lowering, node):
    return cv.emit("MatMul", [cv.value(node.args[0]), cv.value(node.args[1])], None, node)


@converter("aten.conv2d.default", "aten.convolution.default")
def _conv(cv: _Lowering, node):
    x, w = cv.value(node.args[0]), cv.value(node.args[1])
    bias = cv.value(_arg(node, 2, "bias"))
    stride = tuple(_arg(node, 3, "stride", (1, 1)))
    padding = _arg(node, 4, "padding", (0, 0))
    dilation = tuple(_arg(node, 5, "dilation", (1, 1)))
    if _op_name(node.target) == "aten.convolution.default":
        if _arg(node, 6, "transposed", False):
            raise UnsupportedTorchOpsError(f"{node.name}: transposed convolution is not "
                                           "supported by the PyTorch frontend yet")
        groups = int(_arg(node, 8, "groups", 1))
    else:
        groups = int(_arg(node, 6, "groups", 1))
    if isinstance(padding, str):
        raise UnsupportedTorchOpsError(f"{node.name}: padding={padding!r} is not supported yet; "
                                       "give the padding as numbers")
    padding = tuple(padding)
    attrs = {"strides": stride, "pads": padding + padding, "dilations": dilation,
             "group": groups}
    return cv.emit("Conv", [x, w] + ([bias] if bias is not None else []), attrs, node)


@converter("aten._native_batch_norm_legit_no_training.default")
def _batch_norm(cv: _Lowering, node):
    x, w, b, mean, var = (cv.value(a) for a in node.args[:5])
    eps = float(node.args[6])
    y = cv.emit("BatchNormalization", [x, w, b, mean, var], {"epsilon": eps}, node)
    return (y, None, None)


def _pool_attrs(kernel, stride, padding, dilation, ceil_mode) -> dict:
    kernel = tuple(kernel)
    stride = tuple(stride) or kernel
    padding = tuple(padding)
    return {"kernel_shape": kernel, "strides": stride, "pads": padding + padding,
            "dilations": tuple(dilation), "ceil_mode": int(bool(ceil_mode))}


@converter("aten.max_pool2d_with_indices.default", "aten.max_pool2d.default")
def _max_pool(cv: _Lowering, node):
    x = cv.value(node.args[0])
    attrs = _pool_attrs(_arg(node, 1, "kernel_size"), _arg(node, 2, "stride", ()),
                        _arg(node, 3, "padding", (0, 0)), _arg(node, 4, "dilation", (1, 1)),
                        _arg(node, 5, "ceil_mode", False))
    y = cv.emit("MaxPool", [x], attrs, node)
    return (y, None) if "with_indices" in _op_name(node.target) else y


@converter("aten.avg_pool2d.default")
def _avg_pool(cv: _Lowering, node):
    x = cv.value(node.args[0])
    if _arg(node, 6, "divisor_override") is not None:
        raise UnsupportedTorchOpsError(f"{node.name}: avg_pool2d with divisor_override is "
                                       "not supported yet")
    attrs = _pool_attrs(_arg(node, 1, "kernel_size"), _arg(node, 2, "stride", ()),
                        _arg(node, 3, "padding", (0, 0)), (1, 1), _arg(node, 4, "ceil_mode", False))
    attrs["count_include_pad"] = int(bool(_arg(node, 5, "count_include_pad", True)))
    return cv.emit("AveragePool", [x], attrs, node)


@converter("aten.mean.dim", "aten.sum.dim_IntList", "aten.amax.default")
def _reduce(cv: _Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    dims = _arg(node, 1, "dim") or list(range(rank))
    axes = tuple(sorted({normalize_axis(d, rank) for d in dims}))
    op = {"aten.mean.dim": "ReduceMean", "aten.sum.dim_IntList": "ReduceSum",
          "aten.amax.default": "ReduceMax"}[_op_name(node.target)]
    return cv.emit(op, [x], {"axes": axes, "keepdims": int(bool(_arg(node, 2, "keepdim", False)))},
                   node)


@converter("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default",
           "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims",
           "aten.flatten.using_ints")
def _reshape(cv: _Lowering, node):
    return cv.emit("Reshape", [cv.value(node.args[0])], {"shape": cv.out_shape(node)}, node)


@converter("aten.expand.default")
def _expand(cv: _Lowering, node):
    return cv.emit("Expand", [cv.value(node.args[0])], {"shape": cv.out_shape(node)}, node)


@converter("aten.permute.default")
def _permute(cv: _Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    return cv.emit("Transpose", [x], {"perm": tuple(normalize_axis(d, rank)
                                                    for d in node.args[1])}, node)


@converter("aten.t.default", "aten.transpose.int")
def _transpose(cv: _Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    perm = list(range(rank))
    if rank >= 2:
        i = normalize_axis(_arg(node, 1, "dim0", 0), rank)
        j = normalize_axis(_arg(node, 2, "dim1", 1), rank)
        perm[i], perm[j] = perm[j], perm[i]
    return cv.emit("Transpose", [x], {"perm": tuple(perm)}, node)


@converter("aten._softmax.default", "aten.softmax.int")
def _softmax(cv: _Lowering, node):
    x = cv.value(node.args[0])
    return cv.emit("Softmax", [x], {"axis": normalize_axis(node.args[1], len(x.type.shape))},
                   node)


@converter("aten.cat.default")
def _cat(cv: _Lowering, node):
    xs = [cv.value(t) for t in node.args[0]]
    axis = normalize_axis(_arg(node, 1, "dim", 0), len(xs[0].type.shape))
    return cv.emit("Concat", xs, {"axis": axis}, node)


@converter("aten.layer_norm.default")
def _layer_norm(cv: _Lowering, node):
    x = cv.value(node.args[0])
    shape = tuple(node.args[1])
    weight, bias = cv.value(_arg(node, 2, "weight")), cv.value(_arg(node, 3, "bias"))
    eps = float(_arg(node, 4, "eps", 1e-5))
    rank = len(x.type.shape)
    if weight is None:
        weight = cv.b.constant(np.ones(shape, x.type.dtype), "layer_norm_scale")
    ins = [x, weight] + ([bias] if bias is not None else [])
    return cv.emit("LayerNormalization", ins,
                   {"axis": rank - len(shape), "epsilon": eps, "stash_dtype": "float32",
                    "num_outputs": 1}, node)


@converter("aten.select.int")
def _select(cv: _Lowering, node):
    x = cv.value(node.args[0])
    shape = x.type.shape
    dim = normalize_axis(node.args[1], len(shape))
    index = int(node.args[2]) % shape[dim]
    starts = tuple(index if d == dim else 0 for d in range(len(shape)))
    sizes = tuple(1 if d == dim else n for d, n in enumerate(shape))
    part = cv.emit("Slice", [x], {"starts": starts, "steps": (1,) * len(shape),
                                  "sizes": sizes}, node)
    return cv.emit("Reshape", [part], {"shape": cv.out_shape(node)}, node)


@converter("aten.slice.Tensor")
def _slice(cv: _Lowering, node):
    x = cv.value(node.args[0])
    shape = x.type.shape
    dim = normalize_axis(_arg(node, 1, "dim", 0), len(shape))
    step = int(_arg(node, 4, "step", 1))
    start = _arg(node, 2, "start", 0) or 0
    start = max(min(start + shape[dim] if start < 0 else start, shape[dim]), 0)
    size = cv.out_shape(node)[dim]
    starts = tuple(start if d == dim else 0 for d in range(len(shape)))
    steps = tuple(step if d == dim else 1 for d in range(len(shape)))
    sizes = tuple(size if d == dim else n for d, n in enumerate(shape))
    return cv.emit("Slice", [x], {"starts": starts, "steps": steps, "sizes": sizes}, node)


@converter("aten.scaled_dot_product_attention.default")
def _sdpa(cv: _Lowering, node):
    """softmax(q @ k^T * scale + mask) @ v, from tc's matmul and softmax kernels."""
    q, k, v = (cv.value(a) for a in node.args[:3])
    mask = cv.value(_arg(node, 3, "attn_mask"))
    if float(_arg(node, 4, "dropout_p", 0.0)) != 0.0:
        raise UnsupportedTorchOpsError(f"{node.name}: scaled_dot_product_attention with "
                                       "dropout; export the model in eval mode")
    if node.kwargs.get("enable_gqa", False):
        raise UnsupportedTorchOpsError(f"{node.name}: grouped-query attention is not "
                                       "supported yet")
    rank, dtype = len(q.type.shape), q.type.dtype
    scale = node.kwargs.get("scale") or 1.0 / float(np.sqrt(q.type.shape[-1]))
    perm = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    kt = cv.emit("Transpose", [k], {"perm": perm}, node)
    scores = cv.emit("MatMul", [q, kt], None, node)
    scores = cv.emit("Mul", [scores, cv.tensor(scale, q)], None, node)
    length, source = q.type.shape[-2], k.type.shape[-2]
    if _arg(node, 5, "is_causal", False):
        causal = np.tril(np.ones((length, source), bool))
        mask = cv.b.constant(causal, "causal_mask") if mask is None else mask
    if mask is not None:
        if mask.type.dtype == "bool":
            low = cv.b.constant(np.asarray(-np.inf, dtype), "masked")
            scores = cv.emit("Where", [mask, scores, low], None, node)
        else:
            scores = cv.emit("Add", [scores, mask], None, node)
    weights = cv.emit("Softmax", [scores], {"axis": rank - 1}, node)
    return cv.emit("MatMul", [weights, v], None, node)
