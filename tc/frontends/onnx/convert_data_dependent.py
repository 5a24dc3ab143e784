"""ONNX converters for ops whose output shape depends on input values: Unique, NonMaxSuppression.

tc compiles static shapes, so (like NonZero) these are computed at compile time from inputs
whose values are known then, and their outputs become constants; an input that depends on a
graph input raises ``NotConstantError`` naming it.
"""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from .importer import converter

# --- Unique ------------------------------------------------------------------------------

def unique(x: np.ndarray, axis: int | None, sort: bool):
    """ONNX Unique of ``x``: (Y, indices, inverse_indices, counts).

    Without ``axis`` the elements of flattened ``x`` are compared; with it, the slices of
    ``x`` along ``axis``. ``sort`` orders the uniques ascending (slices lexicographically),
    otherwise they keep the order of their first occurrence.
    """
    if axis is None:
        x, axis = x.reshape(-1), 0
    n = x.shape[axis]
    rows = np.moveaxis(x, axis, 0).reshape(n, -1)
    if rows.dtype.kind not in "biuf":  # e.g. bfloat16: float32 compares it exactly
        rows = rows.astype(np.float32)
    first, inverse, counts = _group_rows(rows)
    if not sort:
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        first, counts, inverse = first[order], counts[order], rank[inverse]
    i64 = np.int64
    return (np.take(x, first, axis=axis), first.astype(i64), inverse.astype(i64),
            counts.astype(i64))


def _group_rows(rows: np.ndarray):
    """For the distinct rows of ``rows`` in ascending lexicographic order: the index of
    each one's first occurrence, each row's group, and each group's size."""
    n = rows.shape[0]
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    # lexsort sorts by its last key first, and is stable: equal rows keep their order
    order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(n)
    ranked = rows[order]
    starts = np.ones(n, bool)
    starts[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    group_of_ranked = np.cumsum(starts) - 1
    inverse = np.empty(n, np.int64)
    inverse[order] = group_of_ranked
    first = order[starts]
    counts = np.diff(np.append(np.flatnonzero(starts), n))
    return first, inverse, counts


@converter("Unique")
def _unique(cv, node, attrs):
    x = cv.const_array(node.input[0], "Unique's input (its output shape depends on it)")
    axis = attrs.get("axis")
    if axis is not None:
        axis = normalize_axis(int(axis), x.ndim)
    outputs = unique(np.asarray(x), axis, bool(attrs.get("sorted", 1)))
    for name, array in zip(node.output, outputs):
        if name:
            cv.constant(array, name)


# --- NonMaxSuppression -------------------------------------------------------------------

def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """[N, 4] boxes as [y_min, x_min, y_max, x_max] (center format [x_c, y_c, w, h])."""
    if center_point_box:
        xc, yc, w, h = boxes.T
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    y1, x1, y2, x2 = boxes.T
    return np.stack([np.minimum(y1, y2), np.minimum(x1, x2),
                     np.maximum(y1, y2), np.maximum(x1, x2)], axis=1)


def _overlaps(box: np.ndarray, others: np.ndarray, iou_threshold) -> np.ndarray:
    """Whether the IoU of ``box`` with each of ``others`` is above ``iou_threshold``;
    empty and degenerate boxes overlap nothing."""
    inter_h = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    inter_w = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = inter_h * inter_w
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    valid = (inter_h > 0) & (inter_w > 0) & (inter > 0) & (area > 0) & (areas > 0) & (union > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return valid & (inter / np.where(valid, union, 1) > iou_threshold)


def _select_class(boxes: np.ndarray, scores: np.ndarray, limit: int, iou_threshold,
                  score_threshold) -> list[int]:
    """The boxes NMS keeps for one batch and class, in selection order."""
    candidates = np.arange(len(scores))
    if score_threshold is not None:
        candidates = candidates[scores > score_threshold]
    # by score descending; among equal scores, the lower index first
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    selected: list[int] = []
    for i in candidates:
        if len(selected) >= limit:
            break
        if not selected or not _overlaps(boxes[i], boxes[selected], iou_threshold).any():
            selected.append(int(i))
    return selected


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_per_class: int,
                        iou_threshold, score_threshold, center_point_box: int) -> np.ndarray:
    """ONNX NonMaxSuppression: [num_selected, 3] int64 rows (batch, class, box).

    ``boxes`` is [B, N, 4], ``scores`` [B, C, N]; ``score_threshold`` None keeps every
    score.  Boxes are kept when their score is above ``score_threshold`` and their IoU
    with every box already selected for that batch and class is at most ``iou_threshold``.
    """
    rows = []
    for b in range(boxes.shape[0]):
        corners = _corners(boxes[b], center_point_box)
        for c in range(scores.shape[1]):
            for i in _select_class(corners, scores[b, c], max_per_class, iou_threshold,
                                   score_threshold):
                rows.append((b, c, i))
    return np.array(rows, np.int64).reshape(-1, 3)


def _scalar_input(cv, node, index: int, what: str):
    """The scalar at optional input ``index``, or None when absent or empty."""
    value = cv.optional_const(node, index, f"NonMaxSuppression's {what} "
                                           "(its output shape depends on it)")
    return None if value is None or value.size == 0 else value.reshape(-1)[0]


@converter("NonMaxSuppression")
def _non_max_suppression(cv, node, attrs):
    what = "(its output shape depends on it)"
    boxes = cv.const_array(node.input[0], f"NonMaxSuppression's boxes {what}")
    scores = cv.const_array(node.input[1], f"NonMaxSuppression's scores {what}")
    limit = _scalar_input(cv, node, 2, "max_output_boxes_per_class")
    iou = _scalar_input(cv, node, 3, "iou_threshold")
    score = _scalar_input(cv, node, 4, "score_threshold")
    selected = non_max_suppression(
        np.asarray(boxes), np.asarray(scores), 0 if limit is None else max(int(limit), 0),
        0.0 if iou is None else iou, score, int(attrs.get("center_point_box", 0)))
    cv.constant(selected, node.output[0])
