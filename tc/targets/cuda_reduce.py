"""``ThreadAllReduce`` in CUDA: warp shuffles, then one pass through shared memory.

Every thread of the block holds a partial in ``buf[0]``; the first ``extent`` threads of
threadIdx.x take part (blockDim.y == blockDim.z == 1).  Each warp folds its lanes with
``__shfl_down_sync``; with more than one warp, lane 0 of each warp holding partials writes
its result to a shared array, warp 0 folds those, and every thread reads the total::

    v = buf[0]
    for off in 16, 8, 4, 2, 1: o = shfl_down(v, off); if (lane + off < lanes) v = v + o
    red[warp] = v (lane 0)        __syncthreads()
    warp 0: v = red[lane]; fold the warps' results the same way; red[warps] = v (lane 0)
    __syncthreads(); buf[0] = red[warps]

A lane combines only values of lanes that exist and take part (``lane + off < lanes``),
so no identity element is needed, warps may be partial and ``extent`` may be any number
up to 1024.  The total goes to a slot of its own, read after the second barrier: the
next all-reduce's partials (written before its first barrier) never overwrite it while
a thread still reads it.  With one warp the total is broadcast by ``__shfl_sync``.
"""
from __future__ import annotations

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from .c_helpers import C_TYPE, MEM_TYPE, canonical
from .errors import CodegenError

_COMBINE = {"sum": "+", "prod": "*", "max": "max", "min": "min"}
_FULL = "0xffffffffu"
#: value types __shfl_*_sync takes as they are; others are shuffled as int
_SHUFFLED = ("float", "double", "int32_t", "uint32_t", "int64_t", "uint64_t")
_VALUE_BYTES = {"bool": 1, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2,
                "double": 8, "int64_t": 8, "uint64_t": 8}


def emit_all_reduce(em, s: L.ThreadAllReduce) -> None:
    """Emit ``s`` through ``em`` (a cuda_kernel.KernelEmitter)."""
    kernel, (dx, dy, dz) = em.func.name, em.block_dims
    if s.axis != "threadIdx.x" or dy != 1 or dz != 1:
        raise CodegenError(f"kernel {kernel}: all-reduce over {s.axis} in a block of "
                           f"{dx} x {dy} x {dz} threads; only threadIdx.x in blocks with "
                           f"blockDim.y == blockDim.z == 1 is supported: bind the reduce axis "
                           f"to threadIdx.x and the other axes to blocks")
    n = int(s.extent)
    if not 1 <= n <= dx:
        raise CodegenError(f"kernel {kernel}: all-reduce over {n} threads of threadIdx.x, "
                           f"but the kernel launches {dx}")
    if s.combiner not in _COMBINE:
        raise CodegenError(f"kernel {kernel}: unknown all-reduce combiner {s.combiner!r}")
    if s.buffer not in em.private:
        raise CodegenError(f"kernel {kernel}: all-reduce of {s.buffer.name!r}, which is not a "
                           f"per-thread (local) buffer of the kernel")
    if dx == 1:
        em.line(f"/* all-reduce of {s.buffer.name} over one thread: nothing to combine */")
        return
    _AllReduce(em, s, n, dx).emit()


class _AllReduce:
    def __init__(self, em, s: L.ThreadAllReduce, n: int, dx: int):
        self.em, self.s, self.n, self.dx = em, s, n, dx
        dtype = canonical(s.buffer.dtype)
        self.ctype = C_TYPE[dtype]
        self.shuffle_type = self.ctype if self.ctype in _SHUFFLED else "int"
        base = s.buffer.name
        self.v, self.o = em.fresh(f"{base}_v"), em.fresh(f"{base}_o")
        a, b = E.Var("a", s.buffer.dtype), E.Var("b", s.buffer.dtype)
        em.ex.data_vars.update((a, b))  # integer sums wrap, as on the other targets
        with em.bound(a, self.v), em.bound(b, self.o):
            self.combined = em.ex.expr(E.Binary(_COMBINE[s.combiner], a, b)).text
        self.lane = em.fresh(f"{base}_lane")

    def emit(self) -> None:
        em, s, n, dx = self.em, self.s, self.n, self.dx
        em.line(f"{{ /* all-reduce ({s.combiner}) of {s.buffer.name} over threadIdx.x < {n} "
                f"of {dx} threads */")
        em.depth += 1
        value = em.ex.expr(L.Load(s.buffer, E.const(0))).text
        em.line(f"{self.ctype} {self.v} = {value};")
        last = dx % 32
        partial = n < dx or last != 0  # some lanes of a warp do not take part
        if n > 1:
            em.line(f"{self.ctype} {self.o};")
        if (partial and n > 1) or dx > 32:
            em.line(f"const int {self.lane} = (int)(threadIdx.x & 31u);")
        if dx <= 32:
            mask = _FULL if dx == 32 else f"0x{(1 << dx) - 1:x}u"
        elif last:
            mask = em.fresh(f"{s.buffer.name}_mask")
            em.line(f"const unsigned {mask} = threadIdx.x >= {dx - last}u ? "
                    f"0x{(1 << last) - 1:x}u : {_FULL}; /* the last warp is partial */")
        else:
            mask = _FULL
        # lanes taking part in this thread's warp (all 32 when every warp is full)
        lanes = None
        if partial and n > 1:
            lanes = em.fresh(f"{s.buffer.name}_lanes")
            em.line(f"const int {lanes} = {n} - (int)(threadIdx.x & ~31u);")
        self.fold(mask, min(n, 32), lanes)
        if dx <= 32:
            em.line(f"{self.v} = {self.shuffle('__shfl_sync', _FULL if dx == 32 else mask, '0')};")
        else:
            self.across_warps()
        em.line(f"{em.ex.buffer(s.buffer)}[0] = {self.stored(self.v)};")
        em.depth -= 1
        em.line("}")

    def shuffle(self, fn: str, mask: str, arg: str) -> str:
        call = f"{fn}({mask}, {self.cast(self.shuffle_type, self.v)}, {arg})"
        return self.cast(self.ctype, call)

    def cast(self, ctype: str, x: str) -> str:
        return x if ctype == self.shuffle_type == self.ctype else f"({ctype}){x}"

    def fold(self, mask: str, width: int, lanes: str | None) -> None:
        """Fold the values of ``width`` lanes into lane 0 (``lanes``: how many take part
        in this warp, when not all of them)."""
        if width <= 1:
            return
        off = 1
        while off * 2 < width:
            off *= 2
        while off >= 1:
            self.em.line(f"{self.o} = {self.shuffle('__shfl_down_sync', mask, str(off))};")
            if lanes is None:
                self.em.line(f"{self.v} = {self.combined};")
            else:
                self.em.line(f"if ({self.lane} + {off} < {lanes}) {self.v} = {self.combined};")
            off //= 2

    def across_warps(self) -> None:
        em, s, n = self.em, self.s, self.n
        warps = -(-n // 32)
        red = em.fresh(f"{s.buffer.name}_warps")
        em.declare_shared(self.ctype, red, warps + 1,
                          f"all-reduce of {s.buffer.name}: {warps} warps' results, the total",
                          (warps + 1) * _VALUE_BYTES.get(self.ctype, 4))
        guard = "" if n == self.dx else f" && threadIdx.x < {n}u"
        em.line(f"if ({self.lane} == 0{guard}) {red}[threadIdx.x >> 5] = {self.v};")
        em.line("__syncthreads();")
        em.line("if (threadIdx.x < 32u) {")
        em.depth += 1
        if warps > 1:
            em.line(f"if ({self.lane} < {warps}) {self.v} = {red}[{self.lane}];")
            self.fold(_FULL, warps, str(warps) if warps < 32 else None)
        else:
            em.line(f"{self.v} = {red}[0];")
        em.line(f"if ({self.lane} == 0) {red}[{warps}] = {self.v};")
        em.depth -= 1
        em.line("}")
        em.line("__syncthreads();")
        em.line(f"{self.v} = {red}[{warps}];")

    def stored(self, value: str) -> str:
        """``value`` converted to the buffer's memory type."""
        if canonical(self.s.buffer.dtype) == "float16":
            return f"{self.em.ex.lib.need('f32_to_f16')}({value})"
        mem = MEM_TYPE[canonical(self.s.buffer.dtype)]
        return value if mem == self.ctype else f"({mem}){value}"
