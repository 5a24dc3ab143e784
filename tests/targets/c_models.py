"""Test helpers: small ONNX graphs with random weights, compiled with ``target="c"`` and
checked against onnxruntime.

    g = GraphBuilder(seed=0)
    x = g.input("x", g.rand(1, 3, 8, 8))
    y = g.op("Relu", [g.op("Conv", [x, g.weight((4, 3, 3, 3))], pads=[1, 1, 1, 1])])
    g.output(y)
    check_c_target(g.model(), g.feeds)
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

import tc


class GraphBuilder:
    """Accumulates nodes, initializers, graph inputs (with their feeds) and outputs."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.feeds: dict[str, np.ndarray] = {}
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def rand(self, *shape, dtype="float32", low=0.5, high=1.5) -> np.ndarray:
        """Random non-zero values of either sign, |v| in [low, high)."""
        v = self.rng.uniform(low, high, shape) * self.rng.choice([-1, 1], shape)
        return v.astype(dtype)

    def input(self, name: str, array: np.ndarray) -> str:
        self.feeds[name] = array
        self.inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape))
        return name

    def const(self, array, hint: str = "c") -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, shape, scale: float | None = None) -> str:
        """Random float32 weights scaled by 1/sqrt(fan-in) (keeps activations O(1))."""
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = scale if scale is not None else 1 / np.sqrt(fan_in)
        return self.const(self.rand(*shape) * np.float32(scale), "w")

    def op(self, op: str, inputs: list[str], n_outputs: int = 1, **attrs):
        outs = [self.name(op.lower()) for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs[0] if n_outputs == 1 else outs

    def output(self, *names: str) -> None:
        self.outputs.extend(names)

    def model(self, opset: int = 17) -> onnx.ModelProto:
        """The model, output types from ONNX shape inference (strict)."""
        graph = helper.make_graph(self.nodes, "c_target_test", self.inputs,
                                  [onnx.ValueInfoProto(name=o) for o in self.outputs],
                                  self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        for out, typed in zip(model.graph.output, inferred.graph.output):
            out.CopyFrom(typed)
        return model


def onnxruntime_outputs(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check_c_target(model: onnx.ModelProto, feeds: dict, rtol=1e-4, atol=1e-5):
    """Compile ``model`` for target "c" (kernels from the C generator, built by the host C
    compiler with warnings as errors), run it and compare every output with onnxruntime.
    Returns the compiled module."""
    mod = tc.compile(model, target="c")
    assert mod.metadata["target"] == "c"
    got = mod.run([feeds[i.name] for i in model.graph.input])
    want = onnxruntime_outputs(model, feeds)
    names = [o.name for o in model.graph.output]
    for name, g, w in zip(names, got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (name, g.dtype, g.shape, w.dtype, w.shape)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)
    return mod
