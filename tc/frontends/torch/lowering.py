"""torch.export and the lowering of an exported program into tc's graph IR; the
converters live in the ``convert_<family>.py`` modules of this package."""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from ...compiler.graph import Graph, GraphBuilder, Value
from ..registry import converter_decorator

#: ATen ops kept whole instead of decomposed: tc has its own kernels for them (the
#: activations would otherwise become several ops each, softplus and mish with a where;
#: non-constant pads and roll gathers)
KEPT_OPS = ("linear", "conv2d", "gelu", "layer_norm", "scaled_dot_product_attention",
            "silu", "hardswish", "hardsigmoid", "softplus", "mish", "celu", "prelu",
            "logsumexp", "pad", "roll")

CONVERTERS: dict[str, Callable] = {}
#: ``@converter("aten.relu.default", ...)`` registers ``fn(cv: Lowering, fx_node)``
converter = converter_decorator(CONVERTERS)


class UnsupportedTorchOpsError(ValueError):
    """The exported program calls ATen ops tc cannot lower; the message lists them all."""


def export_program(module, example_inputs):
    """``torch.export`` of ``module`` in eval mode (tc compiles inference), decomposed to
    core ATen except ``KEPT_OPS``.  The module's train/eval mode is restored afterwards.

    ``example_inputs``: a tuple of ``forward``'s positional arguments (tensors, Python
    numbers, nested tuples, lists and dicts of them), a dict of its keyword arguments, or
    one tensor."""
    import torch

    if isinstance(example_inputs, dict):
        args, kwargs = (), dict(example_inputs)
    elif isinstance(example_inputs, (tuple, list)):
        args, kwargs = tuple(example_inputs), None
    else:
        args, kwargs = (example_inputs,), None
    was_training = module.training
    module.eval()
    try:
        program = torch.export.export(module, args, kwargs=kwargs)
    finally:
        module.train(was_training)
    return decompose(program)


def decompose(program):
    """``program`` decomposed to core ATen, except ``KEPT_OPS`` (a program that is
    already decomposed comes back unchanged)."""
    import torch

    table = torch.export.default_decompositions()
    for name in KEPT_OPS:
        table.pop(getattr(torch.ops.aten, name).default, None)
    return program.run_decompositions(table)


class TorchExportError(ValueError):
    """``torch.export`` rejected the module on its example inputs; the message says which
    inputs and why (the torch error is chained as ``__cause__``)."""


def exported(model, example_inputs=None):
    """The core-ATen program of ``model``: an ``nn.Module`` exported on ``example_inputs``
    (see ``export_program``), or an ``ExportedProgram``, decomposed unless every op it
    calls has a converter already (decomposing again costs about a second on a
    ResNet-18 even when there is nothing left to do)."""
    import torch

    if isinstance(model, torch.export.ExportedProgram):
        nodes = model.graph_module.graph.nodes
        done = all(op_name(n.target) in CONVERTERS for n in nodes
                   if n.op == "call_function" and n.target is not operator.getitem)
        return model if done else decompose(model)
    if example_inputs is None:
        raise ValueError("compiling an nn.Module needs example_inputs (a tuple of its "
                         "forward's arguments to export it on), e.g. tc.compile(model, "
                         "example_inputs=(torch.randn(1, 3, 224, 224),))")
    try:
        return export_program(model, example_inputs)
    except Exception as e:  # torch raises many types: shape errors, unsupported Python
        raise TorchExportError(f"torch.export of {type(model).__name__} on inputs "
                               f"({_describe(example_inputs)}) failed: {type(e).__name__}: "
                               f"{str(e).strip()}") from e


def from_torch(model, example_inputs=None) -> Graph:
    """The graph IR of ``model``: an ``nn.Module`` (exported on ``example_inputs``) or an
    ``ExportedProgram``."""
    return Lowering(exported(model, example_inputs)).run()


def _describe(inputs) -> str:
    """``float32[1, 3, 224, 224], 0.5`` for example inputs (nested ones flattened)."""
    import torch.utils._pytree as pytree

    return ", ".join(f"{dtype_name(t.dtype)}[{', '.join(map(str, t.shape))}]"
                     if hasattr(t, "shape") and hasattr(t, "dtype") else repr(t)
                     for t in pytree.tree_leaves(inputs))


def op_name(target) -> str:
    return str(target) if not hasattr(target, "_schema") else \
        f"aten.{target._schema.name.split('::')[-1]}.{target._overloadname}"


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "<top level>"
    path, cls = list(stack.values())[-1]
    name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
    return f"{path or '<top level>'} ({name.split('.')[-1]})"


class Lowering:
    def __init__(self, program):
        self.program = program
        self.b = GraphBuilder("torch_model")
        self.env: dict[str, Any] = {}

    def run(self) -> Graph:
        graph = self.program.graph_module.graph
        self._check_supported(graph)
        self._placeholders(graph)
        leaves: list = []
        for node in graph.nodes:
            if node.op == "call_function":
                self.env[node.name] = self._call(node)
            elif node.op == "output":
                leaves = self._user_outputs(list(_flatten(node.args[0])))
        names = _output_names(self.program, len(leaves))
        outputs = []
        for name, leaf in zip(names, leaves):
            value = self.value(leaf)
            if not isinstance(value, Value):
                raise UnsupportedTorchOpsError(
                    f"output {name!r} is the Python value {value!r}, not a tensor; tc models "
                    "return tensors only: return it as a tensor or drop it from the outputs")
            # an Identity gives the output its pytree name (the passes fold it away)
            outputs.append(self.b.op("Identity", [value], name=name, output_names=[name])[0])
        return self.b.build(outputs)

    def _user_outputs(self, leaves: list) -> list:
        """The model's outputs among the program's: refuses a model that updates its
        buffers, parameters or inputs in place (a compiled model keeps no state)."""
        specs = self.program.graph_signature.output_specs
        mutated = [f"{spec.kind.name.lower().replace('_', ' ')} {spec.target!r}"
                   for spec in specs if spec.kind.name != "USER_OUTPUT"]
        if mutated:
            raise UnsupportedTorchOpsError(
                f"the model updates state in place in forward ({', '.join(mutated)}); a "
                "compiled tc model keeps no state between calls: return the new value as "
                "an output and pass it back in as an input instead")
        return leaves

    def _check_supported(self, graph) -> None:
        missing: dict[str, list[str]] = {}
        for node in graph.nodes:
            if node.op != "call_function" or node.target is operator.getitem:
                continue
            name = op_name(node.target)
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
            elif hasattr(node.meta["val"], "shape"):
                val = node.meta["val"]
                self.env[node.name] = self.b.input(node.name, tuple(val.shape),
                                                   dtype_name(val.dtype))
            else:  # a Python number: torch.export specialized the program to its value
                self.env[node.name] = node.meta["val"]

    def _call(self, node):
        if node.target is operator.getitem:
            return self.env[node.args[0].name][node.args[1]]
        result = CONVERTERS[op_name(node.target)](self, node)
        _check_result(node, result)
        return result

    # --- helpers for converters -------------------------------------------------------

    def value(self, arg) -> Any:
        """The tc Value of an fx node argument (other arguments pass through)."""
        return self.env[arg.name] if hasattr(arg, "name") and hasattr(arg, "op") else arg

    def scalar(self, number, dtype: str) -> Value:
        """A Python number as a 0-d constant of ``dtype``."""
        return self.b.constant(np.asarray(number, dtype=dtype), "scalar")

    def cast(self, x: Value, dtype: str, node) -> Value:
        """``x`` converted to ``dtype`` (a Cast only where the dtypes differ)."""
        return x if x.type.dtype == dtype else self.emit("Cast", [x], {"to": dtype}, node)

    def operands(self, node, *args, dtype: str | None = None) -> list[Value]:
        """``args`` (fx nodes or Python numbers) as Values of ``dtype``, by default the
        dtype torch recorded for ``node``'s result: the operands of arithmetic are cast
        to the promoted type (an int64 tensor times 0.5 is computed in float32) and
        Python numbers become constants of it."""
        dtype = dtype or self.out_dtype(node, 0)
        values = [self.value(a) for a in args]
        return [self.cast(v, dtype, node) if isinstance(v, Value) else self.scalar(v, dtype)
                for v in values]

    @staticmethod
    def promoted_dtype(a, b) -> str:
        """The dtype torch's type promotion gives fx args or Python numbers ``a`` and
        ``b`` (what a comparison compares in; its result is bool)."""
        import torch

        vals = [x.meta["val"] if hasattr(x, "meta") else x for x in (a, b)]
        return dtype_name(torch.result_type(*vals))

    def emit(self, op: str, inputs: list, attrs: dict | None, node) -> Value:
        """Append a one-output ``op`` node named after the fx ``node``."""
        return self.b.op(op, inputs, attrs or {}, name=node.name)[0]

    @staticmethod
    def out_shape(node) -> tuple:
        """The output shape torch recorded for ``node``."""
        return tuple(int(d) for d in node.meta["val"].shape)

    @staticmethod
    def out_dtype(node, i: int | None = None) -> str:
        """The dtype torch recorded for ``node``'s result (a numpy name); ``i`` picks an
        output of a multi-output op (``0`` also accepts a single result)."""
        val = node.meta["val"]
        if isinstance(val, (tuple, list)):
            val = val[i or 0]
        return dtype_name(val.dtype)


def _output_names(program, count: int) -> list[str]:
    """A name per flattened output, from its pytree path: ``output`` for one tensor,
    ``output0``, ``output1`` for a tuple, ``logits`` or ``pair.0`` inside dicts and
    dataclass-like outputs."""
    import torch.utils._pytree as pytree

    spec = program.call_spec.out_spec
    try:
        leaves = pytree.tree_flatten_with_path(pytree.tree_unflatten(list(range(count)), spec))[0]
        paths = [[_key_text(k) for k in path] for path, _ in leaves]
    except Exception:  # an output type pytree cannot rebuild: fall back to positions
        paths = [[str(i)] for i in range(count)]
    if count == 1 and len(paths[0]) <= 1 and (not paths[0] or paths[0][0].isdigit()):
        return ["output"]
    names = []
    for path in paths:
        head, rest = path[0], path[1:]
        names.append(".".join([f"output{head}" if head.isdigit() else head] + rest))
    return names


def _key_text(key) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _check_result(node, result) -> None:
    """A converter must produce the shape and dtype torch recorded for the node; a
    mismatch is a bug in that converter, caught here rather than as wrong numbers."""
    vals = node.meta.get("val")
    pairs = zip(vals, result) if isinstance(vals, (tuple, list)) else [(vals, result)]
    for val, value in pairs:
        if not isinstance(value, Value) or not hasattr(val, "shape"):
            continue
        want = (tuple(int(d) for d in val.shape), dtype_name(val.dtype))
        got = (tuple(value.type.shape), value.type.dtype)
        if want != got:
            raise AssertionError(f"converter of {op_name(node.target)} ({node.name}) made "
                                 f"{got[1]}{list(got[0])}, torch expects {want[1]}{list(want[0])}")


def _flatten(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flatten(o)
    else:
        yield obj


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().contiguous().numpy().copy()


def dtype_name(torch_dtype) -> str:
    """The numpy name of a torch dtype (``torch.float32`` -> ``float32``)."""
    return str(torch_dtype).replace("torch.", "")


def arg(node, i: int, name: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)
