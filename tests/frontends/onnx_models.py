"""Build one-node ONNX models and run them with onnxruntime: the oracle of these tests."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def one_node_model(op: str, inputs: list, attrs: dict | None = None, opset: int = 17,
                   n_outputs: int = 1, seed: int = 0):
    """A model of one ``op`` node and the arrays to feed it.

    Each entry of ``inputs`` is a shape (a random non-zero float32 graph input), an
    ndarray (an initializer: a compile-time constant), or None (an absent optional input).
    Returns (model, feeds: dict name -> array).
    """
    rng = np.random.default_rng(seed)
    specs = [spec if spec is None else Const(spec) if isinstance(spec, np.ndarray)
             else (rng.uniform(0.5, 1.5, spec) * rng.choice([-1, 1], spec)).astype(np.float32)
             for spec in inputs]
    return typed_model(op, specs, attrs, opset, n_outputs)


def run_onnxruntime(model, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


class Const:
    """An input of ``typed_model`` given as an initializer (a compile-time constant)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def typed_model(op: str, inputs: list, attrs: dict | None = None, opset: int = 18,
                n_outputs: int = 1, ir_version: int = 8):
    """A model of one ``op`` node over given data, of any dtypes; returns (model, feeds).

    Each entry of ``inputs`` is an ndarray (a graph input fed that array), a ``Const``
    (an initializer), or None (an absent optional input).  Output types come from ONNX's
    own shape inference, so onnxruntime accepts the model.
    """
    graph_inputs, inits, feeds, names = [], [], {}, []
    for i, spec in enumerate(inputs):
        if spec is None:
            names.append("")
            continue
        name = f"in{i}"
        names.append(name)
        if isinstance(spec, Const):
            inits.append(numpy_helper.from_array(spec.array, name))
            continue
        spec = np.asarray(spec)
        feeds[name] = spec
        graph_inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(spec.dtype), spec.shape))
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outs, **(attrs or {}))
    graph = helper.make_graph([node], f"{op}_test", graph_inputs,
                              [onnx.ValueInfoProto(name=o) for o in outs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for out, typed in zip(model.graph.output, inferred.graph.output):
        out.CopyFrom(typed)
    return model, feeds
