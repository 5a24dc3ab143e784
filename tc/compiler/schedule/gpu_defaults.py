"""Default GPU schedules: every stage bound to CUDA blocks and threads, no tuning needed.

Rules, applied per stage (``default_gpu_schedule``):

1. Injective intermediates (tags of ``defaults.INLINE_TAGS``, conv padding included) are
   inlined into their readers: on a GPU a select in the load costs less than a pass over
   memory.
2. GEMM-shaped stages (tag "matmul": axes ..., i, j; reduce k) and NCHW convolutions
   (tag "conv2d") are tiled for shared memory and registers::

       for b (blockIdx.z), i_o (blockIdx.y), j_o (blockIdx.x):     # a bm x bn block tile
         for ty (threadIdx.y), tx (threadIdx.x):                     # rm x rn per thread
           acc[rm, rn] = 0                                           # registers (local)
           for k_o:
             barrier; A_shared, B_shared <- the block's k step, filled by all threads; barrier
             for k_i: for ri (unrolled): for rj (unrolled): acc[ri, rj] += A_sh * B_sh
           for ri: for rj: C[...] = epilogue(acc[ri, rj])

   The accumulator is the stage itself computed at the thread loop of its elementwise
   epilogue (bias, activation, residual) when it has one, else a ``cache_write`` copy.
   A convolution maps output channels to rows and output pixels to columns; its shared
   tiles hold the block's input window of ``ic_step`` channels and their weights.
3. Row groups: row reductions read only by each other and by one elementwise output over
   the same rows, the reduced axes trailing (softmax, log-softmax, layer norm, with
   their inlined prologue), rows of at least ``ROW_KERNEL_MIN``, are ONE kernel, one
   block per row::

       for row (blockIdx.x):                     # the output's leading axes, fused
         for each statistic (max, sum, ...):     # computed at the row loop, in registers
           for t (threadIdx.x): for c_o: acc = combine(acc, f(row, c_o * threads + t))
           all-reduce acc over the threads       # warp shuffles; every thread has it
         for t (threadIdx.x): for c_o: out[row, c_o * threads + t] = g(stats, ...)

   Rows longer than ``threads`` loop (each thread strides), shorter ones leave threads
   idle (guarded).  Other reductions: with a long reduce extent (at least
   ``BLOCK_REDUCE_MIN``), one block per output element, its threads striding over the
   reduce axes and combining their partials with warp shuffles (``ThreadAllReduce``);
   short reductions (pooling windows) run one thread per output element.
4. Everything else: all spatial axes fused and split into blocks of ``threads`` threads;
   more than ``MAX_BLOCKS`` blocks loop grid-stride style.

Knobs (``knobs.py``), per stage ``s<position>.<tag>.``: GEMM/conv ``block`` [bm, bn],
``reg`` [rm, rn] and ``k_step``; reductions ``threads``; elementwise ``threads``; a row
group one ``threads`` (its first reduction's), shared by its statistics and its output.
"""
from __future__ import annotations

import math

import numpy as np

from .defaults import INLINE_TAGS, _epilogue, _fuse_all, _same_index, _stage_knobs
from ..te import expr as E
from .inline import inline_expand, stage_readers
from .knobs import Knobs, KnobScope
from .schedule import Schedule, Stage, create_schedule

#: threads per block of elementwise stages, and the choices a tuner may try
ELEMWISE_THREADS, ELEMWISE_THREAD_CHOICES = 256, (64, 128, 256, 512, 1024)
#: blocks of one launch before an elementwise stage loops (grid-stride)
MAX_BLOCKS = 65536
#: reduce extents from which one block (not one thread) reduces each output
BLOCK_REDUCE_MIN = 64
REDUCE_THREAD_CHOICES = (32, 64, 128, 256, 512, 1024)
#: row lengths from which row statistics and their output make one kernel (a block per
#: row), and the most rows (blocks) of such a kernel
ROW_KERNEL_MIN, MAX_ROW_BLOCKS = 16, 2 ** 31 - 1
#: GEMM tiles: [bm, bn] per block, [rm, rn] per thread, k columns per shared step
#: (the default is the first that fits; 128-wide blocks and 8x8 register tiles, the
#: classic SGEMM shape, are for the tuner: never the default, as the first 64-wide
#: block fits wherever they do; the last of each is the fallback)
GEMM_BLOCKS = ([64, 64], [32, 64], [64, 32], [32, 32], [128, 128], [128, 64], [64, 128],
               [16, 16])
GEMM_REGS = ([4, 4], [8, 4], [4, 8], [8, 8], [2, 2], [1, 1])
K_STEPS = (8, 16, 32)
MAX_THREADS = 1024
#: a GEMM with fewer rows or columns than this (a matrix-vector product) is a reduction
MIN_TILED_EXTENT = 16
#: static shared memory per block without opting in to more
SHARED_LIMIT_BYTES = 48 * 1024


def default_gpu_schedule(outputs, target=None, knobs: Knobs | None = None) -> Schedule:
    """A CUDA schedule for ``outputs`` following the module rules; ``knobs`` records the
    template's knobs and supplies configured values (an illegal config raises
    ``InvalidConfig``)."""
    knobs = knobs if knobs is not None else Knobs()
    sch = create_schedule(outputs)
    for st in sch.stages:
        if st.op.tag in INLINE_TAGS and not st.is_output and not st.is_reduction:
            st.compute_inline()
    cache: dict = {}
    readers = stage_readers(sch, cache)
    if _row_kernel(sch, readers, knobs, cache):
        return sch
    for st in list(sch.stages):
        if st.attach != "root" or st.scope is not None:
            continue
        k = _stage_knobs(sch, st, knobs)
        if _is_gemm_like(st) and min(_gemm_extents(st)) >= MIN_TILED_EXTENT:
            ep = _epilogue(sch, st, readers.get(id(st.tensor), []), cache)
            _tiled(sch, st, ep, k)
        elif st.is_reduction:
            _reduction(st, k)
    for st in sch.stages:
        if st.attach == "root" and st.scope is None and not st.annotations and st.op.axes:
            _elementwise(st, _stage_knobs(sch, st, knobs))
    return sch


def _is_gemm_like(st: Stage) -> bool:
    if not st.is_reduction:
        return False
    if st.op.tag == "conv2d":
        return len(st.op.axes) == 4
    return st.op.tag == "matmul" and len(st.op.axes) >= 2


def _gemm_extents(st: Stage) -> tuple[int, int]:
    """(rows, cols) of a GEMM-shaped stage: a matmul's i and j, a conv's output channels
    and output pixels."""
    axes = st.op.axes
    if st.op.tag == "conv2d":
        return axes[1].extent, axes[2].extent * axes[3].extent
    return axes[-2].extent, axes[-1].extent


def _work(st: Stage) -> int:
    return math.prod(a.extent for a in st.op.axes)


def _elementwise(st: Stage, knobs: KnobScope) -> None:
    """Rule 4: ``fused // threads`` blocks of ``threads`` threads (grid-stride beyond
    MAX_BLOCKS blocks); reduce axes, if any, stay serial loops inside."""
    if not st.op.axes:
        return  # a scalar: one thread (a short reduction, or a single value)
    n = _work(st)
    choices = [t for t in ELEMWISE_THREAD_CHOICES if t <= max(n, 32)] or [32]
    default = min(ELEMWISE_THREADS, choices[-1])
    threads = knobs.pick("threads", choices, default)
    fused = _fuse_all(st, list(st.op.axes))
    if n <= threads:
        st.bind(fused, "threadIdx.x")
        return
    blocks, thread = st.split(fused, threads)
    if -(-n // threads) > MAX_BLOCKS:
        _, blocks = st.split(blocks, MAX_BLOCKS)
    st.reorder(*[a for a in st.leaf_axes if a.kind == "spatial"],
               *[a for a in st.leaf_axes if a.kind == "reduce"])
    st.bind(blocks, "blockIdx.x")
    st.bind(thread, "threadIdx.x")


def _reduction(st: Stage, knobs: KnobScope) -> None:
    """Rule 3: one block per output element with a thread-strided reduction, or one
    thread per output element for short reductions."""
    extent = math.prod(a.extent for a in st.op.reduce_axes)
    if extent < BLOCK_REDUCE_MIN:
        _elementwise(st, knobs)
        return
    threads = _reduction_threads(knobs, extent)
    spatial = _fuse_all(st, list(st.op.axes))
    reduce = _fuse_all(st, list(st.op.reduce_axes))
    outer, thread = st.split(reduce, threads)
    st.reorder(thread, outer)
    if spatial is not None:
        st.bind(spatial, "blockIdx.x")
    st.bind(thread, "threadIdx.x")


def _reduction_threads(knobs: KnobScope, extent: int) -> int:
    """The ``threads`` knob of a block reduction over ``extent`` elements: about four
    elements per thread, 32 to 256 threads."""
    choices = [t for t in REDUCE_THREAD_CHOICES if t <= max(extent, 32)]
    default = min(256, max(t for t in choices if t <= max(extent // 4, 32)))
    return knobs.pick("threads", choices, default)


def _row_kernel(sch: Schedule, readers: dict, knobs: Knobs, cache: dict) -> bool:
    """Rule 3, row groups: row reductions feeding an elementwise output over the same rows
    (softmax, log-softmax, layer norm) as one kernel.  Returns False, changing nothing,
    when the group is not of that shape."""
    match = _row_group(sch, readers, cache)
    if match is None:
        return False
    out, reductions, rows = match
    columns = math.prod(a.extent for a in out.op.axes[rows:])
    threads = _reduction_threads(_stage_knobs(sch, reductions[0], knobs), columns)
    row = _fuse_all(out, list(out.op.axes[:rows]))
    outer, thread = out.split(_fuse_all(out, list(out.op.axes[rows:])), threads)
    out.reorder(thread, outer)  # thread t takes columns t, t + threads, ...: coalesced
    out.bind(row, "blockIdx.x")
    out.bind(thread, "threadIdx.x")
    for st in reductions:
        st.compute_at(out, row)
        outer, thread = st.split(_fuse_all(st, list(st.op.reduce_axes)), threads)
        st.reorder(thread, outer)
        st.bind(thread, "threadIdx.x")
    return True


def _row_group(sch: Schedule, readers: dict, cache: dict):
    """``(output stage, reduction stages, number of row axes)`` when the stages not
    inlined are row reductions read only by each other and by one elementwise output,
    which reads each at its own row (the reduced axes trailing, kept as 1 or dropped);
    else None."""
    live = [st for st in sch.stages if st.attach != "inline"]
    reductions = [st for st in live if st.is_reduction]
    rest = [st for st in live if not st.is_reduction]
    if not reductions or len(rest) != 1 or not rest[0].is_output or len(sch.outputs) != 1:
        return None
    out = rest[0]
    shape = tuple(out.tensor.shape)
    width = math.prod(a.extent for a in reductions[0].op.reduce_axes)
    # the fewest trailing axes holding a row (a size-1 axis before them is a row axis)
    rows = max((r for r in range(1, len(shape)) if math.prod(shape[r:]) == width),
               default=None)
    if rows is None or width < ROW_KERNEL_MIN or math.prod(shape[:rows]) > MAX_ROW_BLOCKS:
        return None
    body = inline_expand(sch, out, cache)
    for st in reductions:
        if (st.scope is not None or _is_gemm_like(st) or
                math.prod(a.extent for a in st.op.reduce_axes) != width or
                any(r is not out and r not in reductions
                    for r in readers.get(id(st.tensor), [])) or
                not _reads_rows(body, st.tensor, out.op.axes, rows)):
            return None
    return out, reductions, rows


def _reads_rows(body, tensor, axes, rows: int) -> bool:
    """Whether ``body`` reads ``tensor`` (shape ``axes[:rows]``, then 1s or nothing) and
    only at the row of ``axes`` it computes."""
    shape = tuple(tensor.shape)
    head = tuple(a.extent for a in axes[:rows])
    if shape[:rows] != head or any(n != 1 for n in shape[rows:]) \
            or len(shape) not in (rows, len(axes)):
        return False
    reads = [n for n in E.walk(body) if isinstance(n, E.TensorRead) and n.tensor is tensor]
    return bool(reads) and all(
        all(_same_index(i, a) for i, a in zip(r.indices, axes[:rows]))
        and all(isinstance(i, E.Const) and i.value == 0 for i in r.indices[rows:])
        for r in reads)


def _tile_knobs(knobs: KnobScope, rows: int, cols: int, depth: int):
    """The block tile, register tile and k step of a GEMM-shaped stage, checked against
    the thread limits (``InvalidConfig`` otherwise)."""
    blocks = [b for b in GEMM_BLOCKS if b[0] <= _ceil_pow2(rows) and b[1] <= _ceil_pow2(cols)]
    blocks = blocks or [[16, 16]]
    default_block = next((b for b in blocks if rows % b[0] == 0 and cols % b[1] == 0), blocks[-1])
    bm, bn = knobs.pick("block", blocks, default_block)
    regs = [r for r in GEMM_REGS if bm % r[0] == 0 and bn % r[1] == 0]
    default_reg = next((r for r in regs if 64 <= (bm // r[0]) * (bn // r[1]) <= MAX_THREADS),
                       regs[-1])
    rm, rn = knobs.pick("reg", regs, default_reg)
    steps = [s for s in K_STEPS if s <= max(depth, K_STEPS[0])]
    kstep = knobs.pick("k_step", steps, 16 if 16 in steps else steps[-1])
    threads = (bm // rm) * (bn // rn)
    if threads > MAX_THREADS:
        raise knobs.invalid("block/reg", f"{threads} threads per block (at most {MAX_THREADS})")
    if threads < 32:
        raise knobs.invalid("block/reg", f"{threads} threads per block: less than one warp")
    return bm, bn, rm, rn, kstep


def _ceil_pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _tiled(sch: Schedule, st: Stage, epilogue: Stage | None, knobs: KnobScope) -> None:
    """Rule 2 for a matmul (rows i, cols j) or an NCHW conv (rows: output channels,
    cols: output pixels)."""
    conv = st.op.tag == "conv2d"
    rows, cols = _gemm_extents(st)
    depth = math.prod(a.extent for a in st.op.reduce_axes)
    itemsize = np.dtype(st.tensor.dtype).itemsize
    bm, bn, rm, rn, kstep = _tile_knobs(knobs, rows, cols, depth)

    # the stage accumulates in registers: computed at its epilogue's thread loop, or
    # through a local copy written out by the stage itself
    if epilogue is None:
        out, acc = st, sch.cache_write(st.tensor, "local")
    else:
        out, acc = epilogue, st
    tx = (_conv_output_tiles if conv else _gemm_output_tiles)(out, bm, bn, rm, rn)
    acc.compute_at(out, tx)

    reduce = list(acc.op.reduce_axes)
    if conv:  # one shared step: kstep input channels, all kernel taps
        ko, ki = acc.split(reduce[0], max(1, kstep // max(1, math.prod(r.extent for r in reduce[1:]))))
        inner_reduce = [ki] + reduce[1:]
    else:
        ko, ki = acc.split(reduce[0], kstep)
        inner_reduce = [ki]
    a_axes = list(acc.op.axes)
    acc.reorder(ko, *inner_reduce, *a_axes)
    # the register tile: unrolled loops over the per-thread rows and columns
    for a in a_axes:
        if a.extent > 1:
            acc.unroll(a)

    threads_x, threads_y = bn // rn, bm // rm
    shared_bytes = 0
    # copy what the stage indexes itself (a conv's padded or phase-split input, a
    # matmul's transposed operand), not the placeholders behind those inlined stages:
    # the tile's region is then a rectangle of the stage's own index space
    for tensor in sch.inputs_of(acc.tensor):
        if tensor.ndim < 2:
            continue
        tile = sch.cache_read(tensor, "shared", [acc])
        tile.compute_at(acc, ko)
        fused = _fuse_all(tile, list(tile.leaf_axes))
        rest, t_x = tile.split(fused, threads_x)
        _, t_y = tile.split(rest, threads_y)
        tile.bind(t_x, "threadIdx.x")
        tile.bind(t_y, "threadIdx.y")
        shared_bytes += _tile_elements(conv, bm, bn, kstep) * itemsize
    if shared_bytes > SHARED_LIMIT_BYTES:
        raise knobs.invalid("block/k_step", f"about {shared_bytes} bytes of shared tiles "
                            f"(at most {SHARED_LIMIT_BYTES})")


def _gemm_output_tiles(out: Stage, bm: int, bn: int, rm: int, rn: int):
    """Blocks of bm x bn outputs (batch axes fused on blockIdx.z), rm x rn per thread;
    returns the threadIdx.x loop."""
    axes = list(out.op.axes)
    bi, bj, ii, jj = out.tile(axes[-2], axes[-1], bm, bn)
    ty, ri = out.split(ii, rm)
    tx, rj = out.split(jj, rn)
    batch = _fuse_all(out, axes[:-2])
    out.reorder(*([batch] if batch is not None else []), bi, bj, ty, tx, ri, rj)
    _bind_tiles(out, batch, bi, bj, ty, tx)
    return tx


def _conv_output_tiles(out: Stage, bm: int, bn: int, rm: int, rn: int):
    """Blocks of bm output channels x bn pixels, the pixels a th x tw patch (tw: the
    row, up to bn; rows of the image stay separate axes so that the input window each
    block reads is a small rectangle); rm channels x rn pixels of a row per thread.
    Returns the threadIdx.x loop (the patch's rows and column groups, fused)."""
    n, oc, oy, ox = out.op.axes
    tw = min(bn, _ceil_pow2(ox.extent))
    tw = max(tw, rn)
    th = max(bn // tw, 1)
    bi, ii = out.split(oc, bm)
    ty, ri = out.split(ii, rm)
    boy, oy_i = out.split(oy, th)
    box, ox_i = out.split(ox, tw)
    ox_t, rj = out.split(ox_i, rn)
    out.reorder(n, boy, bi, box, ty, oy_i, ox_t, ri, rj)
    batch = out.fuse(n, boy)
    tx = out.fuse(oy_i, ox_t)
    _bind_tiles(out, batch, bi, box, ty, tx)
    return tx


def _bind_tiles(out: Stage, batch, bi, bj, ty, tx) -> None:
    if batch is not None:
        out.bind(batch, "blockIdx.z")
    out.bind(bi, "blockIdx.y")
    out.bind(bj, "blockIdx.x")
    out.bind(ty, "threadIdx.y")
    out.bind(tx, "threadIdx.x")


def _tile_elements(conv: bool, bm: int, bn: int, kstep: int) -> int:
    """An upper estimate of one shared tile's elements (the lowering computes the exact
    region; this only rejects configs far over the limit before lowering)."""
    if not conv:
        return max(bm, bn) * kstep
    return max(bm, bn) * kstep * 4
