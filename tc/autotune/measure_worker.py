"""The child side of measurement: a small fork server that runs each job (load one
candidate's library, a CPU kernel or a CUDA artifact, run it on random inputs, check its
outputs against the reference's, time it, alternating with the baseline kernel when one
is given) in a forked child under a time limit.

``tc.autotune.measure`` starts it as ``python -c ...`` running this file by path, so it
imports only numpy, ml_dtypes and ctypes (not tc, nor the tuner's __main__), and talks
JSON lines over stdin/stdout: one job in, one result out.  Each job runs in a fresh fork
of the server (milliseconds to start): a crash, a hang or a stray write costs that child
only.  The results: {"costs": [seconds per call, one per timed run], "number": calls per
run, "threads": the runtime's thread count, and with a baseline "baseline_costs"}, {} for
the reference, or {"error": "run: ..."
| "wrong result: ..." | "timeout after 10 s" | "crash: signal 11 (SIGSEGV)"}.
"""
from __future__ import annotations

import ctypes
import json
import math
import os
import select
import signal
import sys
import time
from dataclasses import dataclass

import ml_dtypes  # noqa: F401  (makes np.dtype("bfloat16") etc. resolve)
import numpy as np

_ALIGN = 64  # bytes; the same alignment tc gives its workspace and temporaries
WARMUP_SECONDS = 0.05  # untimed calls before timing (see _do)
KERNEL_SYMBOL = "tc_measured_kernel"  # what a measured library exports (the kernel)


@dataclass(frozen=True)
class Job:
    """What one child does.  ``library``: for ``device`` "cpu" it exports
    KERNEL_SYMBOL, ``void f(T0 *, T1 *, ...)``; for "cuda" it is a one-kernel CUDA
    artifact (see ``_CudaModel``).  ``params``: the kernel's buffers in order, each
    (shape, dtype, is_output).  With
    ``save_outputs`` (the reference), the outputs are written to ``reference_files``
    (one per output) and nothing is timed; otherwise they are compared with those files
    (``rtol``: see ``compare``) and then timed.  ``timeout``: seconds from the fork to
    the result."""

    library: str
    params: tuple
    reference_files: tuple
    save_outputs: bool = False
    seed: int = 0
    rtol: float = 1e-4
    repeat: int = 5
    number: int | None = None
    min_run_seconds: float = 1e-3
    num_threads: int | None = None
    timeout: float = 10.0
    baseline: str = ""
    input_steps: tuple = ()
    device: str = "cpu"


def serve() -> None:
    """Answer each JSON job on stdin with one JSON result line on stdout, until EOF."""
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (ours or a library's) must not corrupt the replies
    for line in sys.stdin:
        if line.strip():
            replies.write(json.dumps(run_forked(Job(**json.loads(line)))) + "\n")
            replies.flush()


def run_forked(job: Job) -> dict:
    """Run ``job`` in a forked child; kill it at ``job.timeout`` seconds."""
    read_end, write_end = os.pipe()
    deadline = time.monotonic() + job.timeout
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        status = 0
        try:
            try:
                result = _do(job)
            except Exception as exc:  # anything short of a crash is reported, not raised
                text = " ".join(str(exc).split())[:300]
                result = {"error": f"run: {type(exc).__name__}: {text}"}
            data = json.dumps(result).encode()
            while data:
                data = data[os.write(write_end, data):]
        except BaseException:
            status = 1
        os._exit(status)  # no atexit handlers or library destructors: they could hang
    os.close(write_end)
    chunks, timed_out = [], False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"error": f"timeout after {job.timeout:g} s"}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:  # nothing, or a partial result: it died while writing
        pass
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return {"error": f"crash: signal {sig} ({signal.Signals(sig).name})"}
        except ValueError:
            return {"error": f"crash: signal {sig}"}
    return {"error": f"crash: exit code {os.WEXITSTATUS(status)}"}


def random_inputs(specs, seed: int) -> list[np.ndarray]:
    """Deterministic, non-zero inputs: floats of magnitude in [0.1, 1) with random signs;
    integers in [1, 4) (non-zero so that integer division cannot trap, non-negative so
    that they are valid small indices); random booleans."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, dtype in specs:
        dt = np.dtype(dtype)
        if is_float(dt):
            mag = rng.uniform(0.1, 1.0, shape)
            arr = np.where(rng.random(shape) < 0.5, -mag, mag)
        elif dt.kind in "iu":
            arr = rng.integers(1, 4, shape)
        elif dt.kind == "b":
            arr = rng.random(shape) < 0.5
        else:
            raise TypeError(f"cannot make random inputs of dtype {dt}")
        out = aligned_empty(shape, dt)
        out[...] = arr
        arrays.append(out)
    return arrays


def aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialized C-contiguous array whose data is 64-byte aligned (so timings do
    not depend on where malloc happened to put it)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    offset = (-raw.ctypes.data) % _ALIGN
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def poisoned_outputs(specs) -> list[np.ndarray]:
    """Output arrays filled with a value a kernel is unlikely to write (NaN for floats),
    so that an element the kernel forgets shows up as a wrong result."""
    arrays = []
    for shape, dtype in specs:
        arr = aligned_empty(shape, dtype)
        dt = np.dtype(dtype)
        arr[...] = np.nan if is_float(dt) else (np.iinfo(dt).min if dt.kind in "iu" else True)
        arrays.append(arr)
    return arrays


def compare(out: np.ndarray, ref: np.ndarray, rtol: float) -> str | None:
    """None if ``out`` matches ``ref``, else a short description of the worst element.

    Floats: |out - ref| <= rtol * (|ref| + max|ref|), i.e. relative with an absolute floor
    at the output's scale (accumulation order moves small sums by the rounding error of
    the big terms that cancelled in them); NaNs must match NaNs.  Others: exact."""
    o, r = out.astype(np.float64), np.asarray(ref).astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(o - r)
        if is_float(out.dtype):
            finite = np.isfinite(r)
            scale = float(np.abs(r[finite]).max()) if finite.any() else 0.0
            ok = (diff <= rtol * (np.abs(r) + scale)) | (o == r) | (np.isnan(o) & np.isnan(r))
        else:
            ok = np.asarray(out == ref)
    if ok.all():
        return None
    bad_diff = np.where(ok, -1.0, np.nan_to_num(diff, nan=np.inf))
    flat = int(np.argmax(bad_diff))
    at = [int(i) for i in np.unravel_index(flat, out.shape)]
    tol = f"; rtol {rtol:.2g}" if is_float(out.dtype) else ""
    return (f"max abs diff {bad_diff.flat[flat]:.3g} at {at} "
            f"(got {o.flat[flat]:.6g}, expected {r.flat[flat]:.6g}{tol})")


def is_float(dtype) -> bool:
    """Whether ``dtype`` is a floating-point type (numpy's or ml_dtypes' bfloat16, float8)."""
    dt = np.dtype(dtype)
    return dt.kind == "f" or (dt.kind == "V" and "float" in dt.name)


def apply_steps(array: np.ndarray, steps) -> np.ndarray:
    """``array`` after ``steps``, each ["transpose", axes] or ["reshape", shape] (a
    layout change, e.g. weights repacked in other blocks; see tc.autotune.packing)."""
    for op, arg in steps:
        if op == "transpose":
            array = array.transpose(arg)
        elif op == "reshape":
            array = array.reshape(arg)
        else:
            raise ValueError(f"unknown array step {op!r}")
    return np.ascontiguousarray(array)


def _aligned_copy(array: np.ndarray) -> np.ndarray:
    out = aligned_empty(array.shape, array.dtype)
    out[...] = array
    return out


def _arguments(params, inputs, outputs) -> list:
    """The kernel's pointer arguments: ``inputs`` and ``outputs`` in ``params``' order."""
    pending_in, pending_out = iter(inputs), iter(outputs)
    arrays = [next(pending_out) if out else next(pending_in) for _, _, out in params]
    return [ctypes.c_void_p(a.ctypes.data) for a in arrays]


def _load_kernel(path: str, nparams: int):
    lib = ctypes.CDLL(path)
    kernel = getattr(lib, KERNEL_SYMBOL)
    kernel.restype = None
    kernel.argtypes = [ctypes.c_void_p] * nparams
    return lib, kernel


class _CpuKernel:
    """A CPU candidate's library: KERNEL_SYMBOL called with every buffer's pointer."""

    def __init__(self, path: str, params):
        self.params = params
        self.lib, self.kernel = _load_kernel(path, len(params))

    def bind(self, inputs, outputs) -> None:
        self.args = _arguments(self.params, inputs, outputs)

    def first(self) -> None:
        self.kernel(*self.args)

    def calls(self, n: int) -> None:
        for _ in range(n):
            self.kernel(*self.args)

    def threads(self) -> int | None:
        return int(self.lib.tc_get_num_threads())


class _CudaModel:
    """A CUDA candidate's one-kernel artifact (tc.autotune.cuda_candidate): the first
    run goes through tc_model_run with host arrays (copies in, kernels, copies out: the
    checked run); timed calls through tc_cuda_rerun (the kernels again on the device
    copies, then a wait), so that no host copy is timed."""

    def __init__(self, path: str, params):
        self.lib = ctypes.CDLL(path)
        self.lib.tc_model_run.argtypes = [ctypes.c_void_p] * 3
        self.lib.tc_model_run.restype = ctypes.c_int
        self.lib.tc_cuda_rerun.argtypes = [ctypes.c_int]
        self.lib.tc_cuda_rerun.restype = ctypes.c_int
        self.lib.tc_last_error.restype = ctypes.c_char_p

    def bind(self, inputs, outputs) -> None:
        self.inputs = (ctypes.c_void_p * max(len(inputs), 1))(*[a.ctypes.data for a in inputs])
        self.outputs = (ctypes.c_void_p * max(len(outputs), 1))(
            *[a.ctypes.data for a in outputs])

    def first(self) -> None:
        self._check(self.lib.tc_model_run(self.inputs, self.outputs, None), "tc_model_run")

    def calls(self, n: int) -> None:
        self._check(self.lib.tc_cuda_rerun(n), "tc_cuda_rerun")

    def threads(self) -> int | None:
        return None

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed: {self.lib.tc_last_error().decode()}")


_RUNNERS = {"cpu": _CpuKernel, "cuda": _CudaModel}


def _do(job: Job) -> dict:
    runner = _RUNNERS[job.device](job.library, job.params)
    if job.num_threads is not None:
        runner.lib.tc_set_num_threads(ctypes.c_int(job.num_threads))
    inputs = random_inputs([(s, d) for s, d, out in job.params if not out], job.seed)
    outputs = poisoned_outputs([(s, d) for s, d, out in job.params if out])
    own = inputs
    if job.input_steps:
        own = [x if steps is None else _aligned_copy(apply_steps(x, steps))
               for x, steps in zip(inputs, job.input_steps)]
    runner.bind(own, outputs)

    runner.first()  # the first call, whose outputs are checked
    if job.save_outputs:  # raw bytes: np.save cannot describe ml_dtypes' types
        for arr, path in zip(outputs, job.reference_files):
            arr.tofile(path)
        return {}
    for k, (arr, path) in enumerate(zip(outputs, job.reference_files)):
        problem = compare(arr, np.fromfile(path, arr.dtype).reshape(arr.shape), job.rtol)
        if problem is not None:
            where = f"output {k} " if len(outputs) > 1 else ""
            return {"error": f"wrong result: {where}{problem}"}
    timers = [_Timer(runner, job)]
    if job.baseline:  # loaded after the check: its writes must not hide the candidate's
        baseline = _RUNNERS[job.device](job.baseline, job.params)
        baseline.bind(inputs, outputs)
        baseline.first()
        timers.append(_Timer(baseline, job))
    # A forked child pays a page fault for each page of the parent's Python heap it
    # touches first (copy on write): its first thousands of calls ran 3-10x slower than
    # later ones (a 2 us pool kernel measured 20 us).  Call until WARMUP_SECONDS passed.
    deadline = time.perf_counter() + WARMUP_SECONDS
    while time.perf_counter() < deadline:
        for timer in timers:
            timer.run()
    # in turn, and each pair in the other order than the last: a slow spell of the
    # machine, or running second, falls on both alike
    for r in range(job.repeat):
        for timer in (timers if r % 2 == 0 else timers[::-1]):
            timer.costs.append(timer.run() / timer.number)
    result = {"costs": timers[0].costs, "number": timers[0].number,
              "threads": runner.threads()}
    if job.baseline:
        result["baseline_costs"] = timers[1].costs
    return result


class _Timer:
    """Times runs of ``number`` calls of one runner: enough calls per run that one run
    lasts ``job.min_run_seconds`` unless ``job.number`` says how many."""

    def __init__(self, runner, job: Job):
        self.runner, self.costs = runner, []
        number, warm = job.number, True
        if number is None:
            once = self.calls(1)
            if once < job.min_run_seconds:  # short calls: the best of 3 (one may be preempted)
                once = min(once, self.calls(1), self.calls(1))
            number = max(1, min(100_000, math.ceil(job.min_run_seconds / max(once, 1e-7))))
            warm = number > 1  # else that call was a full-length run already
        self.number = number
        if warm:  # one untimed run at full length: wakes the thread pool, warms the caches
            self.run()

    def calls(self, n: int) -> float:
        t0 = time.perf_counter()
        self.runner.calls(n)
        return time.perf_counter() - t0

    def run(self) -> float:
        return self.calls(self.number)


if __name__ == "__main__":
    serve()
