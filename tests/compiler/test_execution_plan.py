"""The execution plan: graph outputs that no kernel writes are copied into place."""
import numpy as np

import tc


def test_graph_output_that_folds_to_a_constant_is_copied_out():
    from onnx import TensorProto, helper, numpy_helper

    c = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Neg", ["r"], ["y"])]
    graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
                              [numpy_helper.from_array(c, "c")])
    mod = tc.compile(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert mod.build_report.kernels == 0
    np.testing.assert_array_equal(mod.run([])[0], -np.maximum(c, 0))
