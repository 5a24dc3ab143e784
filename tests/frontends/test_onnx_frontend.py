"""from_onnx: the light real models, opset normalization, compile-time values, errors."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tc.compiler.graph import verify
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.passes.eliminate import eliminate
from tc.compiler.passes.fold_constants import fold_constants
from tc.frontends.onnx import (FrontendError, ModelLoadError, UnsupportedOpsError, from_onnx)
from tests.models.light import LIGHT_MODELS, model_path, with_random_weights

from .onnx_models import run_onnxruntime


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_converts_and_verifies(name):
    graph = from_onnx(model_path(name))
    verify(graph)
    assert "ConstantOfShape" in {n.op for n in graph.nodes}  # weights are built, not stored
    folded = eliminate(fold_constants(graph))
    verify(folded)
    assert "ConstantOfShape" not in {n.op for n in folded.nodes}
    assert {v.name for v in folded.inputs} == {v.name for v in graph.inputs}


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet"])
def test_light_model_with_random_weights_matches_onnxruntime(name):
    model = with_random_weights(onnx.load(model_path(name)))
    graph = eliminate(fold_constants(from_onnx(model)))
    verify(graph)
    x = np.random.default_rng(1).uniform(-1, 1, graph.inputs[0].type.shape).astype(np.float32)
    (expected,) = run_onnxruntime(model, {graph.inputs[0].name: x})
    (got,) = evaluate(graph, [x])
    assert np.std(expected) > 0  # random weights: the output is not uniform
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)


def _model(nodes, inputs, outputs, inits=(), opset=13):
    graph = helper.make_graph(nodes, "m", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_unsupported_ops_are_all_listed_at_once():
    # random sampling ops: never part of a compiled inference model
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("Bernoulli", ["a"], ["b"], name="hs1"),
             helper.make_node("Multinomial", ["b"], ["c"], name="e"),
             helper.make_node("Bernoulli", ["c"], ["d"], name="hs2")]
    with pytest.raises(UnsupportedOpsError) as err:
        from_onnx(_model(nodes, [_f32("x", (2, 2))], [_f32("d", (2, 2))], opset=17))
    msg = str(err.value)
    assert "Bernoulli" in msg and "Multinomial" in msg and "Relu" not in msg
    assert "hs1" in msg and "hs2" in msg and "opset 17" in msg
    assert err.value.ops == {"Bernoulli": ["hs1", "hs2"], "Multinomial": ["e"]}
    assert isinstance(err.value, FrontendError) and isinstance(err.value, ValueError)


def test_truncated_file_names_the_file(tmp_path):
    data = open(model_path("squeezenet"), "rb").read()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match="cut.onnx"):
        from_onnx(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ModelLoadError, match="nope.onnx.*does not exist"):
        from_onnx(str(tmp_path / "nope.onnx"))


def test_dynamic_input_dim_needs_input_shapes():
    model = _model([helper.make_node("Relu", ["x"], ["y"])],
                   [_f32("x", ("batch", 3))], [_f32("y", ("batch", 3))])
    with pytest.raises(FrontendError, match=r"'x'.*'batch'.*input_shapes"):
        from_onnx(model)
    graph = from_onnx(model, input_shapes={"x": (4, 3)})
    assert graph.inputs[0].type.shape == (4, 3) and graph.outputs[0].type.shape == (4, 3)
    with pytest.raises(FrontendError, match="does not match"):
        from_onnx(model, input_shapes={"x": (4, 5)})


def test_reshape_shape_computed_from_constants_is_resolved():
    # shape = Concat(Unsqueeze(2), Unsqueeze(ConstantOfShape-derived value)) - all constant
    inits = [numpy_helper.from_array(np.array(2, np.int64), "two"),
             numpy_helper.from_array(np.array([1], np.int64), "one_shape"),
             numpy_helper.from_array(np.array([0], np.int64), "axis0")]
    nodes = [
        helper.make_node("ConstantOfShape", ["one_shape"], ["minus1"],
                         value=numpy_helper.from_array(np.array([-1], np.int64))),
        helper.make_node("Unsqueeze", ["two", "axis0"], ["two_1d"]),
        helper.make_node("Concat", ["two_1d", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    model = _model(nodes, [_f32("x", (2, 3, 4))], [_f32("y", (2, 12))], inits)
    graph = eliminate(fold_constants(from_onnx(model)))
    verify(graph)
    assert [n.op for n in graph.nodes] == ["Reshape"]
    assert graph.nodes[0].attr("shape") == (2, 12)


def test_reshape_shape_from_a_graph_input_is_an_error():
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"])]
    model = _model(nodes, [_f32("x", (2, 3)), helper.make_tensor_value_info(
        "s", TensorProto.INT64, (2,))], [_f32("y", (3, 2))])
    with pytest.raises(FrontendError, match="known at compile time"):
        from_onnx(model)


def test_shape_becomes_a_constant():
    nodes = [helper.make_node("Shape", ["x"], ["s"], start=1)]
    model = _model(nodes, [_f32("x", (2, 3, 4))],
                   [helper.make_tensor_value_info("s", TensorProto.INT64, (2,))], opset=15)
    graph = from_onnx(model)
    assert graph.nodes == () and list(graph.constants["s"]) == [3, 4]


def test_old_softmax_on_an_inner_axis_is_reshaped_to_2d():
    model = _model([helper.make_node("Softmax", ["x"], ["y"], axis=1)],
                   [_f32("x", (2, 3, 4))], [_f32("y", (2, 3, 4))], opset=11)
    graph = from_onnx(model)
    verify(graph)
    assert [(n.op, n.attr_dict) for n in graph.nodes] == [
        ("Reshape", {"shape": (2, 12)}), ("Softmax", {"axis": 1}),
        ("Reshape", {"shape": (2, 3, 4)})]
    assert graph.outputs[0].name == "y"


def test_conv_attributes_are_canonical():
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER",
                                     strides=[2, 2])],
                   [_f32("x", (1, 3, 8, 8))], [_f32("y", (1, 4, 4, 4))], [w])
    (node,) = from_onnx(model).nodes
    assert node.attr_dict == {"strides": (2, 2), "pads": (0, 0, 1, 1), "dilations": (1, 1),
                              "group": 1}


def test_training_batchnorm_outputs_are_rejected():
    params = [numpy_helper.from_array(np.ones(3, np.float32), n) for n in "sbmv"]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"],
                            ["y", "rm", "rv"], training_mode=1)
    model = _model([node], [_f32("x", (1, 3, 2, 2))], [_f32("y", (1, 3, 2, 2)),
                                                      _f32("rm", (3,)), _f32("rv", (3,))],
                   params, opset=15)
    with pytest.raises(FrontendError, match="training mode"):
        from_onnx(model)
