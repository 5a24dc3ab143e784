"""ONNX converters for NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (LogSoftmax
over the class axis, then NegativeLogLikelihoodLoss)."""
from __future__ import annotations

from .importer import converter


def _loss_attrs(attrs) -> dict:
    ii = attrs.get("ignore_index")
    return {"reduction": str(attrs.get("reduction", "mean")),
            "ignore_index": None if ii is None else int(ii)}


@converter("NegativeLogLikelihoodLoss")
def _nll(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    cv.emit("NegativeLogLikelihoodLoss", ins, _loss_attrs(attrs), node)


@converter("SoftmaxCrossEntropyLoss")
def _sce(cv, node, attrs):
    ins = cv.inputs(node)
    scores, labels = ins[:2]
    weight = ins[2] if len(ins) > 2 else None
    log_prob_name = (node.output[1] if len(node.output) > 1 and node.output[1]
                     else f"{node.output[0]}_log_prob")
    log_prob, = cv.emit("LogSoftmax", [scores], {"axis": 1}, node, [log_prob_name])
    nll_in = [log_prob, labels] + ([weight] if weight is not None else [])
    cv.emit("NegativeLogLikelihoodLoss", nll_in, _loss_attrs(attrs), node, node.output[:1])
