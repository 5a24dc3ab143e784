"""If / Loop / Scan with compile-time structure, inlined and unrolled by the ONNX frontend:
compiled results against onnxruntime on random data."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tc.frontends.onnx import FrontendError, NotConstantError, UnsupportedOpsError
from tests.frontends.onnx_models import run_onnxruntime

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _check(model, feeds, rtol=1e-6):
    got = tc.compile(model).run(list(feeds.values()))
    want = run_onnxruntime(model, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)


def _if_model(cond_value=None):
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [3, 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [3, 4])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)
    inputs = [helper.make_tensor_value_info("x", F, [3, 4])]
    inits = []
    if cond_value is None:
        inputs.append(helper.make_tensor_value_info("c", TensorProto.BOOL, []))
    else:
        inits.append(numpy_helper.from_array(np.array(cond_value), "c"))
    return _model([node], inputs, [helper.make_tensor_value_info("y", F, [3, 4])], inits)


@pytest.mark.parametrize("cond", [True, False])
def test_if_with_a_constant_condition_inlines_the_branch(cond):
    x = np.random.default_rng(0).uniform(-2, 2, (3, 4)).astype(np.float32)
    _check(_if_model(cond), {"x": x})


def test_if_on_a_graph_input_names_it():
    with pytest.raises(NotConstantError, match="'c'") as e:
        tc.compile(_if_model())
    assert e.value.inputs == ("c",)


def _loop_model(trips: int):
    """y_k = y_{k-1} * x + i; the scan output stacks every y."""
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["i_f"], to=F),
         helper.make_node("Mul", ["y_in", "x"], ["m"]),
         helper.make_node("Add", ["m", "i_f"], ["y_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["y_out"], ["scan"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_in", F, [2, 3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_out", F, [2, 3]),
         helper.make_tensor_value_info("scan", F, [2, 3])])
    node = helper.make_node("Loop", ["M", "", "y0"], ["y", "ys"], body=body)
    return _model([node], [helper.make_tensor_value_info("x", F, [2, 3]),
                           helper.make_tensor_value_info("y0", F, [2, 3])],
                  [helper.make_tensor_value_info("y", F, [2, 3]),
                   helper.make_tensor_value_info("ys", F, [trips, 2, 3])],
                  [numpy_helper.from_array(np.array(trips, np.int64), "M")])


def test_loop_is_unrolled_with_carried_values_and_scan_outputs():
    rng = np.random.default_rng(1)
    feeds = {"x": rng.uniform(0.5, 1.5, (2, 3)).astype(np.float32),
             "y0": rng.uniform(-1, 1, (2, 3)).astype(np.float32)}
    _check(_loop_model(4), feeds, rtol=1e-5)


def test_loop_beyond_the_unroll_limit_is_refused():
    from tc.frontends.onnx.convert_control_flow import MAX_UNROLL

    with pytest.raises(FrontendError, match="more than"):
        tc.compile(_loop_model(MAX_UNROLL + 1))


@pytest.mark.parametrize("directions", [(0, 0), (1, 0), (0, 1)])
def test_scan_runs_every_element_in_either_direction(directions):
    """A running sum (state) and a scaled copy of each element (scan output)."""
    in_dir, out_dir = directions
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "e"], ["s_out"]),
         helper.make_node("Mul", ["e", "s_out"], ["o"])],
        "body",
        [helper.make_tensor_value_info("s_in", F, [4]), helper.make_tensor_value_info("e", F, [4])],
        [helper.make_tensor_value_info("s_out", F, [4]), helper.make_tensor_value_info("o", F, [4])])
    node = helper.make_node("Scan", ["s0", "xs"], ["s", "os"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_input_directions=[in_dir],
                            scan_output_axes=[-1], scan_output_directions=[out_dir])
    model = _model([node], [helper.make_tensor_value_info("s0", F, [4]),
                            helper.make_tensor_value_info("xs", F, [4, 5])],
                   [helper.make_tensor_value_info("s", F, [4]),
                    helper.make_tensor_value_info("os", F, [4, 5])])
    rng = np.random.default_rng(2)
    _check(model, {"s0": rng.uniform(-1, 1, 4).astype(np.float32),
                   "xs": rng.uniform(-1, 1, (4, 5)).astype(np.float32)}, rtol=1e-5)


def test_an_if_nested_in_a_loop_reads_the_current_iteration():
    """The inner If's branches read the loop body's own values."""
    then_g = helper.make_graph([helper.make_node("Add", ["acc", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [3])])
    else_g = helper.make_graph([helper.make_node("Sub", ["acc", "x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [3])])
    body = helper.make_graph(
        [helper.make_node("Mod", ["i", "two"], ["r"]),
         helper.make_node("Equal", ["r", "zero"], ["even"]),
         helper.make_node("If", ["even"], ["acc_out"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Identity", ["c"], ["c_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", F, [3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F, [3])],
        [numpy_helper.from_array(np.array(2, np.int64), "two"),
         numpy_helper.from_array(np.array(0, np.int64), "zero")])
    node = helper.make_node("Loop", ["M", "", "a0"], ["a"], body=body)
    model = _model([node], [helper.make_tensor_value_info("x", F, [3]),
                            helper.make_tensor_value_info("a0", F, [3])],
                   [helper.make_tensor_value_info("a", F, [3])],
                   [numpy_helper.from_array(np.array(5, np.int64), "M")])
    rng = np.random.default_rng(3)
    _check(model, {"x": rng.uniform(-1, 1, 3).astype(np.float32),
                   "a0": rng.uniform(-1, 1, 3).astype(np.float32)})


def test_unsupported_ops_inside_bodies_are_listed_with_the_rest():
    then_g = helper.make_graph([helper.make_node("StringNormalizer", ["x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [3, 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [3, 4])])
    nodes = [helper.make_node("If", ["c"], ["y"], name="branchy", then_branch=then_g,
                              else_branch=else_g),
             helper.make_node("TfIdfVectorizer", ["y"], ["z"], name="tfidf")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [3, 4]),
                                           helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("z", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedOpsError) as e:
        tc.compile(model)
    assert "StringNormalizer" in str(e.value) and "TfIdfVectorizer" in str(e.value)
    assert "branchy/then_branch/" in str(e.value)
