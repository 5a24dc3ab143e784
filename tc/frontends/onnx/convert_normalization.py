"""ONNX converters for LayerNormalization, RMSNormalization, GroupNormalization,
InstanceNormalization, MeanVarianceNormalization and LpNormalization."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .importer import FrontendError, converter, np_dtype


def _stash(node, attrs) -> str:
    dtype = np_dtype(int(attrs.get("stash_type", 1)))
    if not dtype.startswith("float"):
        raise FrontendError(f"{node.op_type} {node.name!r}: stash_type {dtype} is not a float "
                            "type tc computes in")
    return dtype


def _used_outputs(cv, node) -> int:
    """How many leading outputs the model uses (1 or all 3)."""
    extra = [o for o in node.output[1:] if o and o in cv.used]
    return 3 if extra else 1


@converter("LayerNormalization")
def _layer_norm(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    rank = len(ins[0].type.shape)
    n = _used_outputs(cv, node)
    outputs = [o or f"{node.output[0]}_unused{i}" for i, o in enumerate(node.output[:n])]
    cv.emit("LayerNormalization", ins,
            {"axis": normalize_axis(attrs.get("axis", -1), rank),
             "epsilon": float(attrs.get("epsilon", 1e-5)), "stash_dtype": _stash(node, attrs),
             "num_outputs": n}, node, outputs)


@converter("RMSNormalization")
def _rms_norm(cv, node, attrs):
    ins = cv.inputs(node)
    cv.emit("RMSNormalization", ins,
            {"axis": normalize_axis(attrs.get("axis", -1), len(ins[0].type.shape)),
             "epsilon": float(attrs.get("epsilon", 1e-5)), "stash_dtype": _stash(node, attrs)},
            node)


@converter("GroupNormalization")
def _group_norm(cv, node, attrs):
    cv.emit("GroupNormalization", cv.inputs(node),
            {"num_groups": int(attrs["num_groups"]), "epsilon": float(attrs.get("epsilon", 1e-5)),
             "stash_dtype": _stash(node, attrs)}, node)


@converter("InstanceNormalization")
def _instance_norm(cv, node, attrs):
    cv.emit("InstanceNormalization", cv.inputs(node),
            {"epsilon": float(attrs.get("epsilon", 1e-5))}, node)


@converter("MeanVarianceNormalization")
def _mvn(cv, node, attrs):
    (x,) = cv.inputs(node)
    rank = len(x.type.shape)
    axes = attrs.get("axes", [0, 2, 3])
    cv.emit("MeanVarianceNormalization", [x],
            {"axes": tuple(sorted({normalize_axis(a, rank) for a in axes}))}, node)


@converter("LpNormalization")
def _lp_norm(cv, node, attrs):
    (x,) = cv.inputs(node)
    cv.emit("LpNormalization", [x],
            {"axis": normalize_axis(attrs.get("axis", -1), len(x.type.shape)),
             "p": int(attrs.get("p", 2))}, node)
