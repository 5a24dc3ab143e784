"""Measurement: build candidate kernels, then time each in a child process with a time limit.

    results = measure([(config, func), ...], reference_func, repeat=5, timeout=10.0)
    results[0].median        # seconds per call (inf when results[0].error is set)
    results[0].error         # None, "build: ...", "timeout after 10 s", "crash: signal 11
                             # (SIGSEGV)", "wrong result: max abs diff ... at [i, j] ..."
    results[0].threads       # the runtime's thread count the timed runs used
    results[0].relative      # median cost / the reference's median, timed in turn with it

A candidate is a ``PrimFunc`` whose params are buffers, inputs then outputs (the buffers
it stores to are its outputs).  For an 'llvm' target each is compiled by LLVM and linked
with tc's C runtime (its thread pool) into a shared library exporting the kernel, which
the child calls directly; for a 'cuda' target each is a one-kernel CUDA artifact
(``cuda_candidate``) timed on the GPU, without host copies.  The reference (the default
config's kernel)
runs first, in a child, on deterministic random inputs and saves its outputs; each
candidate then runs in a child of its own on the same inputs, checks its outputs against
those, and times ``repeat`` runs, each in turn with a run of the reference (``paired``):
two configs are compared by their ratios to the reference, which hold within a few
percent from child to child where their costs alone differ by up to 2x.  The children
are forked from a small server process (``measure_worker``; a fork costs milliseconds,
and one candidate's crash, hang or stray write cannot touch the next) and timed one at a
time, so that they do not disturb each other; the parent waits idle meanwhile.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tc.autotune import measure_worker
from tc.autotune.log import relative_cost
from tc.autotune.measure_worker import KERNEL_SYMBOL, Job, is_float
from tc.compiler.loops import ir as L
from tc.compiler.te import expr as E
from tc.targets.target import Target

#: target kind -> where its candidates run (``Job.device``)
MEASURED_KINDS = {"llvm": "cpu", "cuda": "cuda"}
#: how the CUDA runtime's error for "no GPU or no driver" begins (tc_dev_no_device)
NO_DEVICE = "no usable CUDA device"
MIN_RUN_SECONDS = 1e-3  # a timed run shorter than this repeats the call (see ``number``)
BASE_RTOL = 1e-4        # float32 tolerance for a short reduction; grows with its length
MAX_RTOL = 1e-2
SEED = 0


class MeasureError(RuntimeError):
    """The reference kernel itself could not be built or run: nothing can be checked."""


class DeviceUnavailable(MeasureError):
    """The reference kernel built but no device can run it (no GPU, no driver): no
    candidate of this target can be measured on this machine."""


@dataclass
class MeasureResult:
    """One candidate's measurement: ``costs`` are seconds per call, one per timed run of
    ``number`` calls (empty when ``error`` is set); ``build_seconds`` the time to compile
    and link it, ``run_seconds`` the child's wall time (process start, load, check and
    timing); ``threads`` the thread count of tc's runtime during the timed runs (None
    when not timed); ``baseline_costs`` the reference's costs, timed in turn with these
    (empty when not paired)."""

    config: Any
    costs: list[float] = field(default_factory=list)
    error: str | None = None
    build_seconds: float = 0.0
    run_seconds: float = 0.0
    number: int = 0
    threads: int | None = None
    baseline_costs: list[float] = field(default_factory=list)

    @property
    def relative(self) -> float | None:
        """The median cost over the reference's median, timed in turn with it (None when
        not paired; infinity for a failed candidate)."""
        if self.error or not self.costs:
            return math.inf
        return relative_cost(self.costs, self.baseline_costs)

    @property
    def median(self) -> float:
        """The median cost in seconds; infinity for a failed candidate."""
        return statistics.median(self.costs) if self.costs and not self.error else math.inf

    @property
    def best(self) -> float:
        """The fastest run's cost in seconds (less disturbed by other processes than the
        median on a busy machine); infinity for a failed candidate."""
        return min(self.costs) if self.costs and not self.error else math.inf


def measure(candidates, reference: L.PrimFunc, *, target="llvm", repeat: int = 5,
            number: int | None = None, timeout: float = 10.0, workers: int = 1,
            num_threads: int | None = None, paired: bool = True) -> list[MeasureResult]:
    """Build and time ``candidates`` (a list of (config, PrimFunc), or (config,
    PrimFunc, input steps) for a candidate whose inputs are the reference's in another
    layout: per input None or the ``measure_worker.apply_steps`` steps from the
    reference's), checking each one's outputs against ``reference``'s on the same random
    inputs; one result per candidate, in order.  A candidate that fails to build,
    computes a wrong result, crashes or runs longer than ``timeout`` seconds (its child
    process, start to finish) gets an error record and measurement goes on.

    ``number``: calls per timed run (None: enough for a run to last MIN_RUN_SECONDS).
    ``workers``: processes building in parallel (1: build in this process).
    ``num_threads``: threads the kernels use (None: the runtime's default).
    ``paired``: time each candidate in turn with the reference, in its child (its
    ``baseline_costs``, ``relative``).
    Raises MeasureError when the reference fails, DeviceUnavailable (a MeasureError)
    when that is because no GPU or driver can run it."""
    candidates = list(candidates)
    if not candidates:
        return []
    kind = Target.parse(target).kind
    if kind not in MEASURED_KINDS:
        raise ValueError(f"measure: candidates are built for 'llvm' (this CPU) or 'cuda' "
                         f"(its GPU) targets, not {str(target)!r}")
    if repeat < 1:
        raise ValueError(f"measure: repeat must be at least 1, not {repeat}")
    params = param_specs(reference)
    steps = [tuple(c[2]) if len(c) > 2 and c[2] else () for c in candidates]
    with tempfile.TemporaryDirectory(prefix="tc-measure-") as tmp:
        libs = [os.path.join(tmp, f"candidate{i}.so") for i in range(len(candidates))]
        funcs = [reference] + [c[1] for c in candidates]
        expected = [params] + [stepped_specs(params, s) for s in steps]
        built = _build_all(funcs, [os.path.join(tmp, "reference.so")] + libs, expected, target,
                           workers)
        ref_files = tuple(os.path.join(tmp, f"reference_out{k}.bin")
                          for k in range(sum(out for _, _, out in params)))
        job = Job(library="", params=params, reference_files=ref_files, seed=SEED,
                  rtol=tolerance(reference), repeat=repeat,
                  number=number, min_run_seconds=MIN_RUN_SECONDS, num_threads=num_threads,
                  timeout=timeout, device=MEASURED_KINDS[kind])
        with MeasureServer() as server:
            ref_error, ref_lib, _ = built[0]
            if ref_error is None:
                ref_error = server.run(replace(job, library=ref_lib, save_outputs=True)
                                       )[0].get("error")
            if ref_error is not None:
                if NO_DEVICE in ref_error:
                    raise DeviceUnavailable(f"cannot measure kernels for target "
                                            f"\"{target}\" on this machine: {ref_error}")
                raise MeasureError(f"the reference kernel {reference.name} failed: {ref_error}")
            results = []
            for candidate, (error, lib, seconds), own in zip(candidates, built[1:], steps):
                result = MeasureResult(candidate[0], error=error, build_seconds=seconds)
                if error is None:
                    out, result.run_seconds = server.run(
                        replace(job, library=lib, baseline=ref_lib if paired else "",
                                input_steps=own))
                    result.error, result.costs = out.get("error"), out.get("costs", [])
                    result.number = out.get("number", 0)
                    result.threads = out.get("threads")
                    result.baseline_costs = out.get("baseline_costs", [])
                results.append(result)
    return results


def stepped_specs(params, steps) -> tuple:
    """``params`` (``param_specs``) with each input's shape after its ``steps`` (per
    input, None for none; see ``measure_worker.apply_steps``)."""
    if not steps:
        return params
    out, pending = [], iter(steps)
    for shape, dtype, is_output in params:
        own = None if is_output else next(pending)
        if own:
            shape = measure_worker.apply_steps(np.zeros(shape, np.int8), own).shape
        out.append((tuple(shape), dtype, is_output))
    return tuple(out)


def param_specs(func: L.PrimFunc) -> tuple[tuple[tuple[int, ...], str, bool], ...]:
    """(shape, dtype, is_output) of each of ``func``'s params, in order: the params it
    stores to are its outputs."""
    written = stored_buffers(func.body)
    return tuple((tuple(int(d) for d in b.shape), b.dtype, id(b) in written)
                 for b in func.params)


def stored_buffers(stmt: L.Stmt) -> set[int]:
    """The ids of every buffer some Store in ``stmt`` writes."""
    return {id(s.buffer) for s, _ in _stores(stmt, ())}


def tolerance(func: L.PrimFunc) -> float:
    """The relative tolerance for ``func``'s float outputs: BASE_RTOL (or 4 ulps of its
    coarsest float dtype, if more) times sqrt(reduction length / 16), at least 1x and at
    most MAX_RTOL: the error of a sum of n terms in another order grows like sqrt(n)."""
    eps = max((float(np.finfo(np.dtype(b.dtype)).eps) for b in func.params
               if is_float(b.dtype)), default=0.0)
    scale = max(1.0, math.sqrt(reduction_length(func) / 16))
    return min(MAX_RTOL, max(BASE_RTOL, 4 * eps) * scale)


def reduction_length(func: L.PrimFunc) -> int:
    """The longest accumulation in ``func``: over the Stores that update their own
    element (``B[i] = B[i] op ...``), the product of the constant extents of the
    enclosing loops (inside the buffer's Allocate, for a local) that the index does not
    use.  1 when nothing accumulates."""
    longest = 1
    for store, loops in _stores(func.body, ()):
        if not _updates_itself(store):
            continue
        used = {id(n) for n in E.walk(store.index) if isinstance(n, E.Var)}
        n = 1
        for loop in loops:
            if loop is None:  # the store's buffer is allocated here: outer loops restart it
                n = 1
            elif id(loop.var) not in used and isinstance(loop.extent, E.Const):
                n *= int(loop.extent.value)
        longest = max(longest, n)
    return longest


def _updates_itself(store: L.Store) -> bool:
    value = store.value
    operands = (value.a, value.b) if isinstance(value, E.Binary) else ()
    return any(isinstance(x, L.Load) and x.buffer is store.buffer for x in operands)


def _stores(stmt, loops: tuple):
    """Yield (Store, enclosing loops outermost first) for every Store in ``stmt``; an
    Allocate of the store's own buffer appears among the loops as None."""
    if isinstance(stmt, L.Store):
        yield stmt, tuple(None if isinstance(x, L.Allocate) else x for x in loops
                          if not isinstance(x, L.Allocate) or x.buffer is stmt.buffer)
    elif isinstance(stmt, (L.For, L.Allocate)):
        yield from _stores(stmt.body, loops + (stmt,))
    elif isinstance(stmt, L.LetStmt):
        yield from _stores(stmt.body, loops)
    elif isinstance(stmt, L.IfThenElse):
        yield from _stores(stmt.then_case, loops)
        if stmt.else_case is not None:
            yield from _stores(stmt.else_case, loops)
    elif isinstance(stmt, L.Seq):
        for s in stmt.stmts:
            yield from _stores(s, loops)


def build_library(func: L.PrimFunc, target, path: str) -> float:
    """Build ``func`` for ``target`` into the shared library at ``path`` that a
    measurement child loads; returns the seconds it took.  For an 'llvm' target, compiled
    with LLVM and linked with tc's C runtime, exporting it as KERNEL_SYMBOL (and
    tc_set/get_num_threads): no AOT entry, the child calls the kernel itself.  For a
    'cuda' target, a one-kernel CUDA artifact (``cuda_candidate``)."""
    if Target.parse(str(target)).kind == "cuda":
        from tc.autotune.cuda_candidate import build_cuda_candidate

        return build_cuda_candidate(func, target, path)
    from tc.runtime import toolchain
    from tc.targets.llvm import build_llvm

    t0 = time.perf_counter()
    obj = build_llvm([replace(func, name=KERNEL_SYMBOL)], target).object_code
    obj_path, script = Path(f"{path}.o"), Path(f"{path}.map")
    try:
        obj_path.write_bytes(obj)
        script.write_text(f"{{ global: {KERNEL_SYMBOL}; tc_set_num_threads; "
                          "tc_get_num_threads; local: *; };\n")
        toolchain.run_compiler(
            [*toolchain.shared_library_flags(script), "-o", path, str(obj_path),
             str(toolchain.runtime_object()), *toolchain.LINK_LIBS],
            f"linking {os.path.basename(path)}")
    finally:
        obj_path.unlink(missing_ok=True)
        script.unlink(missing_ok=True)
    return time.perf_counter() - t0


def _build_one(func, target, params, path) -> tuple[str | None, str, float]:
    """(error or None, library path, seconds) for one candidate."""
    t0 = time.perf_counter()
    try:
        problem = _signature_mismatch(func, params)
        if problem:
            return f"build: {problem}", path, 0.0
        return None, path, build_library(func, target, path)
    except Exception as exc:  # codegen, link, a malformed PrimFunc: this candidate only
        return f"build: {type(exc).__name__}: {_short(exc)}", path, time.perf_counter() - t0


def _build_all(funcs, paths, params, target, workers: int) -> list[tuple[str | None, str, float]]:
    """Build every function (the reference first) sequentially or in a process pool;
    ``params``: the param specs each must have."""
    target = str(target)
    if workers <= 1:
        return [_build_one(f, target, ps, p) for f, ps, p in zip(funcs, params, paths)]
    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_build_one, f, target, ps, p)
                   for f, ps, p in zip(funcs, params, paths)]
        out = []
        for fut, p in zip(futures, paths):
            try:
                out.append(fut.result())
            except Exception as exc:  # the builder process died (e.g. LLVM aborted)
                out.append((f"build: {type(exc).__name__}: {_short(exc)}", p, 0.0))
        return out


def _signature_mismatch(func: L.PrimFunc, params) -> str | None:
    """Why ``func`` cannot stand in for the reference, whose ``param_specs`` are
    ``params``, or None."""
    if len(func.params) != len(params):
        return f"{len(func.params)} parameters, the reference has {len(params)}"
    for i, (buf, (shape, dtype, _)) in enumerate(zip(func.params, params)):
        if (tuple(int(d) for d in buf.shape), buf.dtype) != (shape, dtype):
            return (f"parameter {i} is {buf.dtype}{list(buf.shape)}, the reference's is "
                    f"{dtype}{list(shape)}")
    return None


class MeasureServer:
    """The fork server of ``measure_worker``, started on first use: ``run(job)`` runs one
    job in a fresh fork of it and returns (the result dict, wall seconds).

    The server is this Python running the worker's file by path: it imports neither tc
    nor this program's __main__ (which multiprocessing's spawn and forkserver children
    re-import), so it starts once in a fraction of a second and forks in milliseconds."""

    GRACE_SECONDS = 10.0  # past a job's own timeout, the server itself is deemed stuck

    def __init__(self):
        self._proc: subprocess.Popen | None = None

    def run(self, job: Job) -> tuple[dict, float]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = _start_server()
        proc, t0 = self._proc, time.perf_counter()
        try:
            proc.stdin.write(json.dumps(asdict(job)) + "\n")
            proc.stdin.flush()
            ready = select.select([proc.stdout], [], [], job.timeout + self.GRACE_SECONDS)[0]
            line = proc.stdout.readline() if ready else ""
        except OSError:  # BrokenPipeError: the server died
            line = ""
        if not line:
            self.close(kill=True)
            return ({"error": f"timeout after {job.timeout:g} s (the measurement server "
                              "stopped answering)"}, time.perf_counter() - t0)
        return json.loads(line), time.perf_counter() - t0

    def close(self, kill: bool = False) -> None:
        """Stop the server: it exits at the end of its input; with ``kill``, or if it
        does not, it is killed with the child it may be running (its process group)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            if not kill:
                proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            kill = True
        if kill:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(kill=exc_type is not None)


def _start_server() -> subprocess.Popen:
    # del sys.path[0]: the current folder ('' under -c) must not shadow any module
    code = ("import runpy, sys; del sys.path[0]; "
            f"runpy.run_path({measure_worker.__file__!r})['serve']()")
    # the forked children do not use BLAS: keep its thread pool out of the server
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # a session of its own: Ctrl-C in the terminal reaches the tuner only, and killing
    # the group kills the server with its child
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
