"""fuse.partition on a whole model: light ResNet-50's convs take their epilogues, with
BatchNormalization still in the graph or already folded into the convs."""
import onnx
import pytest

from tc.compiler.build import default_pipeline
from tc.compiler.passes.eliminate import eliminate
from tc.compiler.passes.fold_constants import fold_constants
from tc.compiler.passes.fuse import partition
from tc.compiler.passes.manager import run_passes
from tc.frontends.onnx import from_onnx
from tests.models.light import model_path

PIPELINES = {"default": default_pipeline(),
             "batchnorm_kept": [("fold_constants", fold_constants), ("eliminate", eliminate)]}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_resnet50_conv_groups_hold_their_epilogues(pipeline):
    graph, _ = run_passes(from_onnx(onnx.load(model_path("resnet50"))), PIPELINES[pipeline])
    groups = partition(graph)
    assert len(groups) <= 60
    group_of = {id(n): i for i, g in enumerate(groups) for n in g.nodes}
    producers, consumers = graph.producers(), graph.consumers()
    convs = ("Conv", "PackedConv")
    in_conv_group = {i for i, g in enumerate(groups) if any(n.op in convs for n in g.nodes)}
    for node in graph.nodes:
        users = consumers.get(node.outputs[0].name, [])
        if node.op in convs + ("BatchNormalization",):
            # its BatchNormalization or Relu; a residual Sum may sit in the other branch's group
            assert len(users) == 1 and users[0].op in ("BatchNormalization", "Relu", "Sum")
            assert users[0].op == "Sum" or group_of[id(users[0])] == group_of[id(node)]
        if node.op == "Sum":
            # the residual add joins one of its two conv branches, and takes the relu
            assert group_of[id(node)] in in_conv_group
            assert group_of[id(node)] in {group_of[id(producers[v.name])] for v in node.inputs}
            assert [group_of[id(u)] for u in users] == [group_of[id(node)]]
    assert sum(n.op in convs for n in graph.nodes) == len(in_conv_group) == 53
    if pipeline == "batchnorm_kept":
        assert any(n.op == "BatchNormalization" for n in graph.nodes)
