"""Built-in example models, generated in memory (nothing is downloaded).

``small_cnn()`` is what ``tc-build --example`` compiles: a little image classifier with
the ops of the model zoo (Conv+BatchNorm+Relu, a residual Add, MaxPool, GlobalAveragePool,
Flatten, Gemm, Softmax) and seeded random weights.
"""
from __future__ import annotations

import numpy as np


def small_cnn(seed: int = 0):
    """An ``onnx.ModelProto`` (opset 13) taking float32[1, 3, 32, 32], giving float32[1, 10]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = []

    def weight(name, shape, low=-0.5, high=0.5):
        inits.append(numpy_helper.from_array(rng.uniform(low, high, shape).astype(np.float32), name))
        return name

    def bn(prefix, c):
        return [weight(f"{prefix}_scale", (c,), 0.5, 1.5), weight(f"{prefix}_bias", (c,)),
                weight(f"{prefix}_mean", (c,)), weight(f"{prefix}_var", (c,), 0.5, 1.5)]

    nodes = [
        helper.make_node("Conv", ["image", weight("w1", (16, 3, 3, 3)), weight("b1", (16,))], ["c1"],
                         pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", *bn("bn1", 16)], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", weight("w2", (16, 16, 3, 3))], ["c2"], pads=[1, 1, 1, 1],
                         name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Add", ["r1", "r2"], ["res"], name="residual"),
        helper.make_node("MaxPool", ["res"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Conv", ["p1", weight("w3", (32, 16, 3, 3))], ["c3"], strides=[2, 2],
                         pads=[1, 1, 1, 1], name="conv3"),
        helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),
        helper.make_node("GlobalAveragePool", ["r3"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", weight("fc_w", (10, 32), -0.1, 0.1), weight("fc_b", (10,))], ["logits"],
                         transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="tc-example")
    onnx.checker.check_model(model)
    return model
