"""Default schedules: a reasonable loop structure for any TE program, no tuning needed.

Rules, applied per stage:

1. Injective intermediates (tags "elemwise", "broadcast", "injective", "pad") are inlined
   into their readers, except the padding stage of a conv or pool: inlined, every tap
   would be a select over a clamped (so per-lane gathered) read; materialized once (as a
   fill and an interior copy, see ``lower.emit_constant_pad``), the inner loop reads it
   with contiguous vector loads.  Casts to a narrow type (tag "narrow_encode") are not
   inlined either: each reads its input many times, so chained they would grow
   exponentially.
2. "conv2d_blocked" (``ops/packed_conv.py``: axes n, ob, oy, ox, b): a register tile of
   rows x columns output positions x the block of channels, vectorized over channels,
   computed at its NCHW epilogue's tile (``_blocked_conv_shape``).
3. "conv2d" (NCHW; axes n, oc, oy, ox; reduce ic, ky, kx), the convs PackedConv does not
   take (depthwise, non-constant weights): ``oc`` blocked by 4 and ``ox`` split by the
   vector width; order ``(n, oc_o, oy) fused+parallel, ox_o, ic, ky,
   kx, oc_i unrolled, ox_i vectorized`` (each input vector feeds 4 output channels).
4. "matmul" (axes ..., i, j; reduce k): when the columns are a multiple of two vectors
   and the rows of one of ``MR_CHOICES``, a register-tiled micro-kernel (MR rows x two
   vectors of accumulators kept in registers across k; see ``_register_tiled``), reading
   B from K x 16 panels when ``pack_weights`` packed it; otherwise ``(..., i, j_o)
   fused+parallel, k, j_i vectorized``.
5. A conv2d/matmul whose only reader is an elementwise epilogue (bias, activation,
   residual) indexing it at the same point is computed at the epilogue's parallel loop,
   so its result lives in a small per-task buffer instead of a whole tensor.
6. Everything else (pool, reduce, softmax parts, outputs of injective groups): the
   innermost spatial axis is split by the vector width (inner part vectorized), the
   outer spatial axes are fused and run in parallel when the stage has enough work, and
   reduce loops go between the two.

Each rule is a template: the decisions a tuner may search go through ``knobs.pick``
(``knobs.py``) with the rule above as the default, so ``default_schedule(outputs,
target)`` is the untuned schedule and ``default_schedule(outputs, target,
Knobs(config))`` a tuned one.  Knob names are ``s<stage position>.<tag>.<knob>``
(stable for one workload, unique within its schedule); per template:

- conv2d_blocked: ``tile`` [rows, cols, vectors] among the register tiles of at least
  ``MIN_TILE_ACCUMULATORS`` accumulators that fit the registers and divide the output
  (fewer vectors than the block holds put a loop over the block's vectors outside the
  reduction); ``order`` "weights_outer" / "spatial_outer"; ``unroll_kx`` (bool) or,
  for a 1x1 kernel, ``unroll_ic`` (a factor of ``UNROLL_FACTORS``); ``parallel`` (bool,
  for the epilogue's loop when there is one).
- conv2d (direct): ``oc_block`` and ``rows`` (dividing; their accumulators must fit the
  registers), ``parallel`` (bool).
- conv2d as GEMM (1x1) and matmul with the register tile: ``mr``, ``nr`` (vectors; the
  accumulators must fit the registers), ``granularity`` of the parallel loop: "all"
  (every tile loop fused into it), "outer" (only the outer one) or "none"; for matmul
  also ``order`` "cols_outer" / "rows_outer" and ``unroll_k`` (a factor of
  ``UNROLL_FACTORS``).
- matmul without the register tile: ``parallel`` (bool).
- everything else: ``vector`` (the inner split factor of the last spatial axis: the
  default, the lane count, twice it, or 1 for none), ``parallel`` (bool),
  ``unroll_reduce`` (the innermost reduce loop, when short).  A materialized constant
  pad only has ``parallel``: ``lower.emit_constant_pad`` ignores its other loops.
"""
from __future__ import annotations

import math

from ..te import expr as E
from ..te.tensor import Tensor
from .inline import inline_expand, stage_readers
from .knobs import Knob, Knobs, KnobScope
from .schedule import Schedule, Stage, create_schedule

INLINE_TAGS = ("elemwise", "broadcast", "injective", "pad")
#: below this many loop iterations a stage runs serially (a task must pay for itself)
MIN_PARALLEL_WORK = 16384
DEFAULT_LANES = 8
#: register tile of the matmul micro-kernel: MR rows x NR_VECTORS vectors of accumulators
#: (6 x 2 ymm on AVX2: 12 of the 16 vector registers, leaving room for A and B); MR is the
#: first of MR_CHOICES dividing the row count, so that no row needs a guard (1 for a
#: matrix-vector product: still two accumulators, twice the one of the plain schedule)
MR_CHOICES, NR_VECTORS = (6, 4, 5, 3, 2, 1), 2
#: rows of the 1x1-conv GEMM tile over a plane that is no multiple of two vectors
POINTWISE_MR_CHOICES = (8, 6, 4)
#: the candidates of the GEMM tile's ``mr`` and ``nr`` knobs (those dividing the rows and
#: columns; ``_check_gemm_tile`` rejects the pairs that overflow the registers)
GEMM_MR_CHOICES, NR_CHOICES = (8, 6, 5, 4, 3, 2, 1), (1, 2, 3)
#: output-channel blocks of the direct conv, largest first: each is that many vector
#: accumulators (8 measured no better than 4 here, within this machine's noise)
CONV_OC_BLOCKS = (4, 2)
#: output rows per conv tile: with the channel block, 4 x 2 vector accumulators, each
#: weight broadcast feeding two of them
CONV_ROWS = 2
#: the candidates of the direct conv's ``oc_block`` and ``rows`` knobs
CONV_OC_BLOCK_CHOICES, CONV_ROW_CHOICES = (8, 4, 2, 1), (4, 2, 1)
#: the fewest accumulators of a blocked-conv tile a tuner may try (fewer cannot hide
#: the FMA latency)
MIN_TILE_ACCUMULATORS = 4
#: the longest innermost reduce loop a generic stage may unroll
MAX_UNROLL_REDUCE = 16
#: unroll factors a tuner may try on the reduce loop of a matmul or 1x1 blocked conv
#: (split off as an unrolled inner loop; 1: not unrolled)
UNROLL_FACTORS = (1, 2, 4)
#: K blocks a tuner may try on a register-tiled matmul (``kc``: the divisors of K in this
#: range, smaller than K; "none", the default, keeps K whole inside the tiles)
KC_RANGE = (64, 512)
#: values of a ``granularity`` knob: every tile loop fused into the parallel
#: loop, only the outer one (the inner tile loop runs serially inside a task), or none
GRANULARITIES = ("all", "outer", "none")


def default_schedule(outputs: list[Tensor], target=None, knobs: Knobs | None = None) -> Schedule:
    """A schedule for ``outputs`` following the module rules; ``target`` needs only
    ``vector_width(dtype) -> int`` (None means 8 lanes).  ``knobs`` (default: no config)
    records the template's knobs and supplies the configured values; an illegal config
    raises ``InvalidConfig``.  A "cuda" target takes ``gpu_defaults``' schedules."""
    if getattr(target, "kind", None) == "cuda":
        from .gpu_defaults import default_gpu_schedule

        return default_gpu_schedule(outputs, target, knobs)
    knobs = knobs if knobs is not None else Knobs()
    sch = create_schedule(outputs)
    conv_pads = {id(t) for st in sch.stages if st.op.tag in ("conv2d", "conv2d_blocked", "pool")
                 for t in st.op.input_tensors if getattr(t.op, "tag", "") == "pad"}
    for st in sch.stages:
        if st.op.tag in INLINE_TAGS and not st.is_output and not st.is_reduction:
            if id(st.tensor) in conv_pads:
                continue  # materialized: the conv then reads it with contiguous vector loads
            st.compute_inline()
    cache: dict = {}
    readers = stage_readers(sch, cache)

    epilogue_of: dict[int, Stage] = {}
    for st in sch.stages:
        if st.attach == "inline":
            continue
        if st.op.tag in ("conv2d", "matmul") and _is_conv_or_matmul(st):
            ep = _epilogue(sch, st, readers.get(id(st.tensor), []), cache)
        elif st.op.tag == "conv2d_blocked":
            ep = _unblocking_epilogue(st, readers.get(id(st.tensor), []))
        else:
            ep = None
        if ep is not None and ep not in epilogue_of.values():
            epilogue_of[id(st)] = ep
    is_epilogue = {id(ep) for ep in epilogue_of.values()}

    for st in reversed(sch.stages):
        if st.attach == "inline" or id(st) in is_epilogue:
            continue
        lanes = _lanes(target, st.tensor.dtype)
        k = _stage_knobs(sch, st, knobs)
        epilogue = epilogue_of.get(id(st))
        if st.op.tag == "conv2d_blocked":
            _blocked_conv_shape(st, epilogue, lanes, k)
        elif st.op.tag in ("conv2d", "matmul") and _is_conv_or_matmul(st):
            tile = _pointwise_conv_tile(st, lanes, k)
            if tile is not None:
                _pointwise_conv_shape(st, tile, k)
                if epilogue is not None:
                    _generic(epilogue, lanes, _stage_knobs(sch, epilogue, knobs))
                continue
            params = (_conv_params if st.op.tag == "conv2d" else _matmul_params)(
                st, lanes, k, epilogue is not None)
            shape_fn = _conv_shape if st.op.tag == "conv2d" else _matmul_shape
            attached = False
            if epilogue is not None:
                outer = shape_fn(epilogue, lanes, params, compute=False)
                if outer is not None:
                    st.compute_at(epilogue, outer)
                    attached = True
            shape_fn(st, lanes, params, compute=True, parallel=not attached)
        else:
            _generic(st, lanes, k)
    return sch


def schedule_space(outputs: list[Tensor], target=None) -> dict[str, Knob]:
    """The knobs of ``outputs``' schedule template: {name: Knob(choices, default)}, in
    the order the template picks them."""
    knobs = Knobs()
    default_schedule(outputs, target, knobs)
    return knobs.space


def _stage_knobs(sch: Schedule, st: Stage, knobs: Knobs) -> KnobScope:
    """The knobs of one stage, named after its position and tag (``s2.conv2d_blocked.``)."""
    return knobs.scope(f"s{sch.stages.index(st)}.{st.op.tag or 'compute'}.")


def _lanes(target, dtype: str) -> int:
    if target is None:
        return DEFAULT_LANES
    return max(int(target.vector_width(dtype)), 1)


def _is_conv_or_matmul(st: Stage) -> bool:
    if not st.is_reduction:
        return False
    if st.op.tag == "conv2d":
        return len(st.op.axes) == 4
    return len(st.op.axes) >= 2


def _epilogue(sch: Schedule, st: Stage, readers: list[Stage], cache: dict) -> Stage | None:
    """The single elementwise stage reading ``st`` at its own indices, if there is one."""
    if st.is_output or len(readers) != 1:
        return None
    ep = readers[0]
    if ep.attach != "root" or ep.is_reduction or tuple(ep.tensor.shape) != tuple(st.tensor.shape):
        return None
    for n in E.walk(inline_expand(sch, ep, cache)):
        if isinstance(n, E.TensorRead) and n.tensor is st.tensor:
            if len(n.indices) != len(ep.op.axes) or not all(
                    _same_index(i, a) for i, a in zip(n.indices, ep.op.axes)):
                return None
    return ep


def _same_index(index: E.Expr, axis) -> bool:
    """``index`` is ``axis``'s own variable, or 0 on an axis of extent 1 (as broadcasting
    computes write a size-1 dimension)."""
    if index is axis.var:
        return True
    return axis.extent == 1 and isinstance(index, E.Const) and index.value == 0


def vector_factor(extent: int, lanes: int) -> int | None:
    """The inner split factor for vectorizing an axis of ``extent``: the lane count when
    it divides, the whole axis when it is short, else a divisor in [lanes/2, lanes]
    (no tail), else the lane count (with a tail).  None when not worth vectorizing."""
    if lanes <= 1 or extent < 2:
        return None
    if extent % lanes == 0:
        return lanes
    if extent <= lanes:
        return extent
    for d in range(lanes, max(lanes // 2, 2) - 1, -1):
        if extent % d == 0:
            return d
    return lanes


def _vector_choices(extent: int, lanes: int, default: int) -> list[int]:
    """Inner split factors a tuner may try for vectorizing an axis of ``extent``: the
    default, one or two vectors (when the axis holds them) and 1 (not vectorized)."""
    wanted = {default, 1} | ({lanes, 2 * lanes} if lanes > 1 else set())
    return sorted((f for f in wanted if f <= max(extent, 1)), reverse=True)


def _split_vector(st: Stage, axis, lanes: int, factor: int | None = None):
    """Split ``axis`` for vectors (by ``factor``, default ``vector_factor``; 1 means
    not at all); returns (outer or None, inner or None)."""
    f = vector_factor(axis.extent, lanes) if factor is None else factor
    if f is None or f == 1:
        return axis, None
    if f == axis.extent:
        return None, axis
    return st.split(axis, f)


def _fuse_all(st: Stage, axes: list):
    axes = [a for a in axes if a is not None]
    if not axes:
        return None
    fused = axes[0]
    for a in axes[1:]:
        fused = st.fuse(fused, a)
    return fused


def _fuse_tiles(st: Stage, batch: list, tiles: list, granularity: str):
    """Fuse ``batch`` and the tile loops for a ``granularity`` knob; returns
    (the loop to run in parallel, the innermost tile loop, where a producer is computed).
    "outer" fuses only ``batch`` and the first tile loop: the others stay serial loops."""
    if granularity != "outer" or len(tiles) < 2:
        fused = _fuse_all(st, batch + tiles)
        return fused, fused
    return _fuse_all(st, batch + tiles[:1]), tiles[-1]


def _work(st: Stage) -> int:
    n = 1
    for a in st.root_axes:
        n *= a.extent
    return n


def _parallel_default(st: Stage, has_epilogue: bool) -> bool:
    """Whether a conv/matmul's outer loop runs in parallel by default: always at an
    epilogue (the conv is computed per tile inside it), else when the work pays for it."""
    return has_epilogue or _work(st) >= MIN_PARALLEL_WORK


def _conv_params(st: Stage, lanes: int, knobs: KnobScope, has_epilogue: bool) -> dict:
    """The direct conv's knobs: output-channel block, rows per tile (1: no split) and
    whether the outer loop (the epilogue's, when there is one) runs in parallel."""
    _, oc, oy, _ = st.op.axes
    block = next((b for b in CONV_OC_BLOCKS if oc.extent % b == 0 and oc.extent > b), 1)
    rows = CONV_ROWS if oy.extent % CONV_ROWS == 0 and oy.extent > CONV_ROWS else 1
    block = knobs.pick("oc_block", [b for b in CONV_OC_BLOCK_CHOICES if oc.extent % b == 0], block)
    rows = knobs.pick("rows", [r for r in CONV_ROW_CHOICES if oy.extent % r == 0], rows)
    if block * rows + rows + 1 > VECTOR_REGISTERS:
        raise knobs.invalid("oc_block/rows", f"{block} x {rows} vector accumulators, plus "
                            f"the inputs, need more than {VECTOR_REGISTERS} registers")
    return {"block": block, "rows": rows,
            "parallel": knobs.pick("parallel", (True, False), _parallel_default(st, has_epilogue))}


def _conv_shape(st: Stage, lanes: int, params: dict, compute: bool, parallel: bool = True):
    """Shape a conv2d stage (or its epilogue, ``compute=False``); returns the parallel axis."""
    n, oc, oy, ox = st.op.axes
    reduce = list(st.op.reduce_axes) if compute else []
    block, rows = params["block"], params["rows"]
    oc_o, oc_i = st.split(oc, block) if block > 1 else (oc, None)
    oy_o, oy_i = st.split(oy, rows) if rows > 1 else (oy, None)
    ox_o, ox_i = _split_vector(st, ox, lanes)
    order = [n, oc_o, oy_o, ox_o] + reduce + [oc_i, oy_i, ox_i]
    st.reorder(*[a for a in order if a is not None])
    outer = _fuse_all(st, [n, oc_o, oy_o])
    if oc_i is not None and compute:
        st.unroll(oc_i)
    if oy_i is not None and compute:
        st.unroll(oy_i)
    if ox_i is not None:
        st.vectorize(ox_i)
    if parallel and params["parallel"]:
        st.parallel(outer)
    # an epilogue task covers a band of rows; the conv is computed per tile within it
    # (a task per tile is too little work: a depthwise 3x3 tile is 72 FMAs)
    return outer if compute or ox_o is None else ox_o


#: vector registers of the target (AVX2: 16 ymm); a blocked conv tile holds its
#: accumulators, one register per weight vector of a tap and one input broadcast
VECTOR_REGISTERS = 16
#: the most output rows of a blocked-conv tile
MAX_TILE_ROWS = 4


def register_tiles(out_h: int, out_w: int, vector_counts) -> list[tuple[int, int, int]]:
    """Every (rows, columns, vectors) register tile of a blocked conv: rows (at most
    ``MAX_TILE_ROWS``) and columns dividing the output, one of ``vector_counts`` vectors,
    and ``rows x columns x vectors`` accumulators, the weight vectors and one input
    broadcast fitting ``VECTOR_REGISTERS``; in order of vector counts, rows, columns."""
    tiles = []
    for vectors in vector_counts:
        for rows in range(1, min(out_h, MAX_TILE_ROWS) + 1):
            for cols in range(1, out_w + 1):
                acc = rows * cols * vectors
                if out_h % rows or out_w % cols or acc + vectors + 1 > VECTOR_REGISTERS:
                    continue
                tiles.append((rows, cols, vectors))
    return tiles


def blocked_conv_tile(out_h: int, out_w: int, channels_per_group: int,
                      lanes: int = DEFAULT_LANES, taps: int = 1) -> tuple[int, int, int] | None:
    """(rows, columns, vectors) of the blocked-conv register tile: ``rows x columns``
    output positions times ``vectors`` vectors of output channels, rows and columns
    dividing the output (no tile needs a guard) and everything fitting the registers.
    The most accumulators win (at least 6, to hide the FMA latency), then two vectors
    (half the broadcasts), then fewer rows; except that a kernel of several ``taps``
    takes a two-vector tile of at least 8 accumulators first (measured interleaved:
    3x3, 128 ch @28: 73 -> 85 GFLOP/s for 2 x 2 x 2 over 1 x 14 x 1; for 1x1 convs
    neither wins everywhere).  None when no tile reaches 6."""
    best, best_key = None, None
    vector_counts = [v for v in (2, 1) if channels_per_group % (v * lanes) == 0]
    for rows, cols, vectors in register_tiles(out_h, out_w, vector_counts):
        acc = rows * cols * vectors
        key = (taps > 1 and vectors == 2 and acc >= 8, acc, vectors, -rows)
        if best_key is None or key > best_key:
            best, best_key = (rows, cols, vectors), key
    return best if best is not None and best_key[1] >= 6 else None


def _unblocking_epilogue(st: Stage, readers: list[Stage]) -> Stage | None:
    """The single stage turning a blocked conv back into NCHW (with whatever elementwise
    epilogue was fused into it), if there is one."""
    n, nblocks, oh, ow, block = (a.extent for a in st.op.axes)
    group_channels = dict(st.op.attrs)["group_channels"]
    groups = nblocks // -(-group_channels // block)
    if st.is_output or len(readers) != 1:
        return None
    ep = readers[0]
    if ep.attach != "root" or ep.is_reduction \
            or tuple(ep.tensor.shape) != (n, groups * group_channels, oh, ow):
        return None
    return ep


def _blocked_conv_tile_knob(st: Stage, lanes: int, knobs: KnobScope) -> tuple[int, int, int]:
    """The ``tile`` knob of a blocked conv: (rows, cols, vectors), vectors dividing the
    block's ``block / lanes``; by default ``blocked_conv_tile``'s rows and columns (1 x 1
    when it finds none) over the whole block."""
    _, _, oy, ox, b = st.op.axes
    _, ky, kx = st.op.reduce_axes
    block = b.extent
    vectors = block // lanes if block > lanes and block % lanes == 0 else 1
    tile = blocked_conv_tile(oy.extent, ox.extent, block, lanes, ky.extent * kx.extent)
    default = (tile[0], tile[1], vectors) if tile is not None else (1, 1, vectors)
    counts = [v for v in range(vectors, 0, -1) if vectors % v == 0]
    choices = [t for t in register_tiles(oy.extent, ox.extent, counts)
               if math.prod(t) >= MIN_TILE_ACCUMULATORS]
    return tuple(knobs.pick("tile", choices if default in choices else [default] + choices,
                            default))


def _blocked_conv_shape(st: Stage, epilogue: Stage | None, lanes: int, knobs: KnobScope) -> None:
    """A blocked conv (``ops/packed_conv.py``) as a register tile of ``rows x cols``
    output positions x ``block`` channels (``blocked_conv_tile``)::

        (n, ob, oy_o, ox_o) fused+parallel
          ic, ky, kx
            oy_i, ox_i unrolled, b_m unrolled, b_v vectorized   # acc[y][x][b] += in * w[b]

    computed at the epilogue's loop over the same tile (``n, c_o, y_o, x_o`` fused and
    parallel, then ``c_i, y_i, x_i``), which turns it back into NCHW from a tile-sized
    buffer still in L1.  A ``tile`` knob of fewer vectors than the block holds puts a
    loop ``b_o`` over the block's parts between the tile loops and ``ic``."""
    n, ob, oy, ox, b = st.op.axes
    block = b.extent
    lanes = min(lanes, block)  # half-width vectors for blocks of 4
    rows, cols, vectors = _blocked_conv_tile_knob(st, lanes, knobs)
    default_order = "weights_outer" if _weights_outweigh_input(st) else "spatial_outer"
    weights_outer = knobs.pick("order", ("weights_outer", "spatial_outer"),
                               default_order) == "weights_outer"
    ic, ky, kx = st.op.reduce_axes
    unroll_kx = kx.extent > 1 and knobs.pick("unroll_kx", (False, True), False)
    unroll_ic = 1 if ky.extent * kx.extent > 1 else knobs.pick(
        "unroll_ic", [u for u in UNROLL_FACTORS if ic.extent % u == 0], 1)
    parallel = knobs.pick("parallel", (True, False), _work(epilogue or st) >= MIN_PARALLEL_WORK)
    oy_o, oy_i = st.split(oy, rows)
    ox_o, ox_i = st.split(ox, cols)
    whole = block % lanes != 0 or vectors * lanes == block  # the tile covers the block
    b_o, b_r = (None, b) if whole else st.split(b, vectors * lanes)
    b_m, b_v = st.split(b_r, lanes) if vectors > 1 else (None, b_r)
    ic_o, ic_i = st.split(ic, unroll_ic) if unroll_ic > 1 else (ic, None)
    tiles = [n, ob, oy_o, ox_o] if weights_outer else [n, oy_o, ox_o, ob]
    order = tiles + [b_o, ic_o, ic_i, ky, kx, oy_i, ox_i, b_m, b_v]
    st.reorder(*[a for a in order if a is not None])
    for axis in (oy_i, ox_i, b_m):
        if axis is not None:
            st.unroll(axis)
    st.vectorize(b_v)
    for axis, unroll in ((kx, unroll_kx), (ic_i, ic_i is not None)):
        if unroll:
            st.unroll(axis)
    if epilogue is None:
        outer = _fuse_all(st, tiles)
        if parallel:
            st.parallel(outer)
        return
    en, ec, ey, ex = epilogue.op.axes
    group_channels = dict(st.op.attrs)["group_channels"]
    # a tile of channels is a block, or a whole group when blocks are zero-padded
    # (a block-sized tile would then straddle two blocks)
    ec_o, ec_i = epilogue.split(ec, block if group_channels % block == 0 else group_channels)
    ey_o, ey_i = epilogue.split(ey, rows)
    ex_o, ex_i = epilogue.split(ex, cols)
    ep_tiles = [en, ec_o, ey_o, ex_o] if weights_outer else [en, ey_o, ex_o, ec_o]
    epilogue.reorder(*ep_tiles, ec_i, ey_i, ex_i)
    outer = _fuse_all(epilogue, ep_tiles)
    if cols > 1:
        epilogue.vectorize(ex_i)
    st.compute_at(epilogue, outer)
    if parallel:
        epilogue.parallel(outer)


def _weights_outweigh_input(st: Stage) -> bool:
    """Whether a blocked conv's weights take more bytes than its input: then the tiles
    of output channels go outermost (each weight block streams once while the input is
    re-read from cache), else the spatial tiles (the input streams once)."""
    sizes = {len(t.shape): math.prod(t.shape) for t in st.op.input_tensors}
    return sizes.get(5, 0) > sizes.get(4, 0)  # W_blocks is 5-D, the (padded) input 4-D


def _pointwise_conv_tile(st: Stage, lanes: int, knobs: KnobScope) -> tuple[int, int, int] | None:
    """(rows, vectors, vector width) of the register tile when ``st`` is a 1x1, unpadded,
    ungrouped conv2d, i.e. the GEMM W (OC x IC) @ X (IC x H*W); None otherwise.

    A plane of a multiple of two vectors takes rows x 2 full vectors (as the GEMM);
    another plane (14 x 14, 7 x 7) one vector of a width dividing it (7 lanes) under
    more rows, so that no tile needs a guard.  ``knobs`` may change the rows (``mr``)
    and vectors (``nr``) within those that divide."""
    if st.op.tag != "conv2d" or lanes <= 1:
        return None
    attrs = dict(st.op.attrs)
    _, oc, oy, ox = st.op.axes
    # a strided 1x1 conv reads its input's phase split, contiguous in (oy, ox) as well
    if any(attrs.get("pads", (1,))) or attrs.get("group") != 1 \
            or any(r.extent != 1 for r in st.op.reduce_axes[1:]):
        return None
    plane = oy.extent * ox.extent
    if plane % (lanes * NR_VECTORS) == 0:
        mr = next((m for m in MR_CHOICES if oc.extent % m == 0), None)
        tile = None if mr is None else (mr, NR_VECTORS, lanes)
    else:
        width = vector_factor(plane, lanes)
        mr = next((m for m in POINTWISE_MR_CHOICES if oc.extent % m == 0), None)
        if width is None or plane % width or width < max(lanes // 2, 2) or mr is None:
            return None
        tile = (mr, 1, width)
    if tile is None:
        return None
    mr, nr, width = tile
    mr = knobs.pick("mr", [m for m in GEMM_MR_CHOICES if oc.extent % m == 0], mr)
    nr = knobs.pick("nr", [v for v in NR_CHOICES if plane % (v * width) == 0], nr)
    _check_gemm_tile(knobs, mr, nr)
    return mr, nr, width


def _check_gemm_tile(knobs: KnobScope, mr: int, nr: int) -> None:
    """InvalidConfig unless ``mr x nr`` accumulators, ``nr`` B vectors and one A
    broadcast fit the vector registers."""
    if mr * nr + nr + 1 > VECTOR_REGISTERS:
        raise knobs.invalid("mr/nr", f"{mr} x {nr} vector accumulators, plus the operands, "
                            f"need more than {VECTOR_REGISTERS} registers")


def _pointwise_conv_shape(st: Stage, tile: tuple[int, int, int], knobs: KnobScope) -> None:
    """A 1x1 conv as the GEMM micro-kernel over the flattened plane p = (oy, ox):
    ``(n, p_o, oc_o) fused+parallel, ic, oc_i unrolled, p_m unrolled, p_v vectorized``.
    Computed whole (not at its epilogue: a p tile may straddle rows, and the region of
    (oy, ox) a compute_at would give it is a bounding box, i.e. redundant work)."""
    mr, vectors, width = tile
    granularity = knobs.pick("granularity", GRANULARITIES,
                             "all" if _work(st) >= MIN_PARALLEL_WORK else "none")
    n, oc, oy, ox = st.op.axes
    p = st.fuse(oy, ox)
    p_o, p_r = st.split(p, vectors * width)
    p_m, p_v = st.split(p_r, width)
    oc_o, oc_i = st.split(oc, mr)
    st.reorder(n, p_o, oc_o, *st.op.reduce_axes, oc_i, p_m, p_v)
    outer, _ = _fuse_tiles(st, [n], [p_o, oc_o], granularity)
    st.unroll(oc_i)
    st.unroll(p_m)
    st.vectorize(p_v)
    if granularity != "none":
        st.parallel(outer)


def _matmul_params(st: Stage, lanes: int, knobs: KnobScope, has_epilogue: bool) -> dict:
    """The matmul's knobs: the register tile (``mr`` rows x ``nr`` vectors; None when
    the columns or rows admit none), the order of its tile loops, the parallel
    granularity, the reduce loop's unrolling and K blocking (``kc``, see
    ``_register_tiled``); without the tile, whether the outer loop runs in parallel."""
    i, j = st.op.axes[-2], st.op.axes[-1]
    mr = next((m for m in MR_CHOICES if i.extent % m == 0), None)
    parallel = _parallel_default(st, has_epilogue)
    if not (lanes > 1 and j.extent % (lanes * NR_VECTORS) == 0 and mr is not None):
        return {"mr": None, "parallel": knobs.pick("parallel", (True, False), parallel)}
    mr = knobs.pick("mr", [m for m in GEMM_MR_CHOICES if i.extent % m == 0], mr)
    nr = knobs.pick("nr", [v for v in NR_CHOICES if j.extent % (v * lanes) == 0], NR_VECTORS)
    _check_gemm_tile(knobs, mr, nr)
    k = st.op.reduce_axes[-1]
    params = {"mr": mr, "nr": nr,
              "order": knobs.pick("order", ("cols_outer", "rows_outer"), "cols_outer"),
              "granularity": knobs.pick("granularity", GRANULARITIES,
                                        "all" if parallel else "none"),
              "unroll_k": knobs.pick("unroll_k",
                                     [u for u in UNROLL_FACTORS if k.extent % u == 0], 1),
              "kc": "none"}
    blocks = [b for b in range(KC_RANGE[0], min(KC_RANGE[1], k.extent - 1) + 1)
              if k.extent % b == 0]
    if blocks:
        params["kc"] = knobs.pick("kc", ["none"] + blocks, "none")
        if params["kc"] != "none" and params["kc"] % params["unroll_k"]:
            raise knobs.invalid("kc/unroll_k", f"a K block of {params['kc']} is no multiple "
                                f"of the unrolling {params['unroll_k']}")
    return params


def _matmul_shape(st: Stage, lanes: int, params: dict, compute: bool, parallel: bool = True):
    """Shape a matmul stage (or its epilogue); returns the axis a producer is computed
    at (the parallel one, or the inner tile loop)."""
    spatial = list(st.op.axes)
    reduce = list(st.op.reduce_axes) if compute else []
    if params["mr"] is not None:
        attach = _register_tiled(st, spatial, reduce, lanes, params,
                                 params["granularity"] if parallel else "none")
        # blocked over K, the matmul is computed whole before its epilogue: each tile's
        # sum is complete only after the last K block, which runs outside every tile
        return attach if compute or params["kc"] == "none" else None
    j_o, j_i = _split_vector(st, spatial[-1], lanes)
    order = spatial[:-1] + [j_o] + reduce + [j_i]
    st.reorder(*[a for a in order if a is not None])
    outer = _fuse_all(st, spatial[:-1] + [j_o])
    if j_i is not None:
        st.vectorize(j_i)
    if parallel and outer is not None and params["parallel"]:
        st.parallel(outer)
    return outer


def _register_tiled(st: Stage, spatial: list, reduce: list, lanes: int, params: dict,
                    granularity: str):
    """mr x nr register tile: ``(batch, j_o, i_o) fused+parallel, k, i_i unrolled, j_m
    unrolled, j_v vectorized``; the mr * nr accumulators stay in vector registers
    across k (LLVM promotes them: their addresses do not change with k).  Column tiles
    outside row tiles (``order`` "cols_outer"): one K x NR panel of B serves every row
    tile from L1/L2 while A's rows stream (at 1024^3 this order runs 83% of peak, the
    other one 53%).

    ``kc`` (not "none"): K is split into blocks of ``kc``, the block loop outermost,
    outside the tile loops: every tile accumulates one K block of A and B (a kc x NR
    panel of B that fits L1, kc columns of A that fit L2) before the next block starts,
    the accumulators going through C between blocks."""
    i, j = spatial[-2], spatial[-1]
    mr, nr = params["mr"], params["nr"]
    j_o, j_r = st.split(j, lanes * nr)
    j_m, j_v = st.split(j_r, lanes) if nr > 1 else (None, j_r)
    i_o, i_i = st.split(i, mr)
    k_blocks = []
    if reduce and params["kc"] != "none":
        k_c, k_r = st.split(reduce[-1], params["kc"])
        k_blocks, reduce = [k_c], reduce[:-1] + [k_r]
    k_i = None
    if reduce and params["unroll_k"] > 1:
        k_o, k_i = st.split(reduce[-1], params["unroll_k"])
        reduce = reduce[:-1] + [k_o, k_i]
    tiles = [j_o, i_o] if params["order"] == "cols_outer" else [i_o, j_o]
    st.reorder(*(k_blocks + spatial[:-2] + tiles + reduce
                 + [a for a in (i_i, j_m, j_v) if a is not None]))
    outer, attach = _fuse_tiles(st, spatial[:-2], tiles, granularity)
    for axis in (i_i, j_m, k_i):
        if axis is not None:
            st.unroll(axis)
    st.vectorize(j_v)
    if granularity != "none":
        st.parallel(outer)
    return attach


def _generic(st: Stage, lanes: int, knobs: KnobScope) -> None:
    """Rule 6: ``(outer spatial axes, last_o) fused+parallel, reduce axes, last_i
    vectorized`` (knobs: ``vector``, ``unroll_reduce``, ``parallel``)."""
    spatial = list(st.op.axes)
    if not spatial:
        return
    reduce = list(st.op.reduce_axes)
    last = spatial[-1]
    factor = vector_factor(last.extent, lanes) or 1
    # a materialized constant pad is emitted as dense copies (``lower.emit_constant_pad``)
    # that only honour its parallel annotation: a vector knob would change nothing
    if not ("pad_begin" in dict(st.op.attrs) and st.attach == "root"):
        factor = knobs.pick("vector", _vector_choices(last.extent, lanes, factor), factor)
    unroll = bool(reduce) and 2 <= reduce[-1].extent <= MAX_UNROLL_REDUCE \
        and knobs.pick("unroll_reduce", (False, True), False)
    outer_last, inner = _split_vector(st, last, lanes, factor)
    order = spatial[:-1] + [outer_last] + reduce + [inner]
    st.reorder(*[a for a in order if a is not None])
    outer = _fuse_all(st, spatial[:-1] + [outer_last])
    if inner is not None:
        st.vectorize(inner)
    if outer is not None and knobs.pick("parallel", (True, False), _work(st) >= MIN_PARALLEL_WORK):
        st.parallel(outer)
    if unroll:
        st.unroll(reduce[-1])
