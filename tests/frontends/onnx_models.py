"""Build one-node ONNX models and run them with onnxruntime: the oracle of these tests."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def one_node_model(op: str, inputs: list, attrs: dict | None = None, opset: int = 17,
                   n_outputs: int = 1, seed: int = 0):
    """A model of one ``op`` node and the arrays to feed it.

    Each entry of ``inputs`` is a shape (a random non-zero float32 graph input), an
    ndarray (an initializer: a compile-time constant), or None (an absent optional input).
    Returns (model, feeds: dict name -> array).
    """
    rng = np.random.default_rng(seed)
    graph_inputs, inits, feeds, names = [], [], {}, []
    for i, spec in enumerate(inputs):
        name = f"in{i}"
        if spec is None:
            names.append("")
            continue
        names.append(name)
        if isinstance(spec, np.ndarray):
            inits.append(numpy_helper.from_array(spec, name))
            continue
        array = rng.uniform(0.5, 1.5, spec) * rng.choice([-1, 1], spec)
        feeds[name] = array.astype(np.float32)
        graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, spec))
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outs, name=f"{op.lower()}_node", **(attrs or {}))
    graph = helper.make_graph([node], f"{op}_test", graph_inputs,
                              [onnx.ValueInfoProto(name=o) for o in outs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    # output types come from ONNX's own inference, so onnxruntime accepts the model
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    types = {v.name: v for v in inferred.graph.value_info}
    for out in model.graph.output:
        if not out.HasField("type"):
            out.CopyFrom(types.get(out.name, inferred.graph.output[list(outs).index(out.name)]))
    return model, feeds


def run_onnxruntime(model, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)
