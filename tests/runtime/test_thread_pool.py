"""tc_parallel_for, through pool_probe.c linked with the runtime object."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import cffi
import numpy as np
import pytest

from tests.runtime import native

CDEF = """
void tc_set_num_threads(int n);
int tc_get_num_threads(void);
int64_t probe_cover(int64_t n, int32_t *hits, int64_t *begins, int64_t *ends, uint64_t *tags);
void probe_nested(int64_t outer, int64_t inner, int32_t *hits);
int64_t probe_many(int64_t regions, int64_t n, const int64_t *data, int64_t expected);
void *probe_alloc(size_t nbytes);
void probe_free(void *p);
"""


@pytest.fixture(scope="module")
def probe_path(tmp_path_factory):
    return native.build_probe_library(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module")
def probe(probe_path):
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(str(probe_path))
    yield ffi, lib
    lib.tc_set_num_threads(0)


def _ptr(ffi, ctype, array):
    return ffi.cast(ctype, array.ctypes.data)


def cover(ffi, lib, n):
    """Run one region over [0, n); return hits per index and the chunks [(begin, end, tag)]."""
    hits = np.zeros(max(n, 1), dtype=np.int32)
    slots = 64
    begins, ends = np.zeros(slots, np.int64), np.zeros(slots, np.int64)
    tags = np.zeros(slots, np.uint64)
    count = lib.probe_cover(n, _ptr(ffi, "int32_t *", hits), _ptr(ffi, "int64_t *", begins),
                            _ptr(ffi, "int64_t *", ends), _ptr(ffi, "uint64_t *", tags))
    chunks = sorted(zip(begins[:count].tolist(), ends[:count].tolist(), tags[:count].tolist()))
    return hits[:n], chunks


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 64, 1001])
def test_every_index_runs_once_in_balanced_contiguous_chunks(probe, threads, n):
    ffi, lib = probe
    lib.tc_set_num_threads(threads)
    assert lib.tc_get_num_threads() == threads
    hits, chunks = cover(ffi, lib, n)
    assert (hits == 1).all()
    expected_chunks = min(n, threads) if n > 1 else n
    assert len(chunks) == expected_chunks
    if chunks:
        # contiguous, covering [0, n), sizes differing by at most one
        assert [c[0] for c in chunks] == [0] + [c[1] for c in chunks[:-1]]
        assert chunks[-1][1] == n
        sizes = [e - b for b, e, _ in chunks]
        assert max(sizes) - min(sizes) <= 1
        # one chunk per thread: each ran on its own stack
        assert len({tag for _, _, tag in chunks}) == len(chunks)


def test_many_back_to_back_regions_are_correct(probe):
    ffi, lib = probe
    data = np.random.default_rng(0).integers(-1000, 1000, size=4099, dtype=np.int64)
    for threads in (2, 3, 4):
        lib.tc_set_num_threads(threads)
        for n in (2, 3, 7, 4099):
            wrong = lib.probe_many(300, n, _ptr(ffi, "int64_t *", data), int(data[:n].sum()))
            assert wrong == 0, (threads, n)


def test_regions_after_workers_fall_asleep(probe):
    """Idle workers sleep after spinning ~0.5 ms; a new region must wake them."""
    ffi, lib = probe
    lib.tc_set_num_threads(3)
    data = np.arange(100, dtype=np.int64)
    for _ in range(5):
        time.sleep(0.003)
        assert lib.probe_many(2, 100, _ptr(ffi, "int64_t *", data), int(data.sum())) == 0
        hits, chunks = cover(ffi, lib, 10)
        assert (hits == 1).all() and len(chunks) == 3


def test_nested_regions_run_serially_inside(probe):
    ffi, lib = probe
    lib.tc_set_num_threads(4)
    hits = np.zeros((7, 33), dtype=np.int32)
    lib.probe_nested(7, 33, _ptr(ffi, "int32_t *", hits))
    assert (hits == 1).all()


def test_concurrent_callers_share_the_pool_safely(probe):
    ffi, lib = probe
    lib.tc_set_num_threads(2)
    data = np.arange(1, 10_001, dtype=np.int64)
    wrong = []

    def work():
        wrong.append(lib.probe_many(200, data.size, _ptr(ffi, "int64_t *", data),
                                    int(data.sum())))

    workers = [threading.Thread(target=work) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert wrong == [0, 0, 0, 0]


def test_alloc_is_64_byte_aligned(probe):
    ffi, lib = probe
    for nbytes in (0, 1, 100, 1 << 20):
        p = lib.probe_alloc(nbytes)
        assert p != ffi.NULL and int(ffi.cast("uintptr_t", p)) % 64 == 0
        lib.probe_free(p)


def _run_script(probe_path, body, env):
    """Run ``body`` in a fresh Python with the probe library loaded as ``lib``."""
    prefix = (f"import cffi, os, sys\nimport numpy as np\nffi = cffi.FFI()\n"
              f"ffi.cdef({CDEF!r})\nlib = ffi.dlopen({str(probe_path)!r})\n"
              "def ptr(t, a):\n    return ffi.cast(t, a.ctypes.data)\n")
    return subprocess.run([sys.executable, "-c", prefix + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=60, env=env)


def _env_without_thread_setting():
    return {k: v for k, v in os.environ.items() if k != "TC_NUM_THREADS"}


def test_default_threads_follow_env_var(probe_path):
    env = {**_env_without_thread_setting(), "TC_NUM_THREADS": "3"}
    proc = _run_script(probe_path, "print(lib.tc_get_num_threads())", env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "3"


def test_default_threads_is_physical_core_count(probe_path):
    proc = _run_script(probe_path, "print(lib.tc_get_num_threads())",
                       _env_without_thread_setting())
    assert proc.returncode == 0, proc.stderr
    cores = set()
    for cpu in os.sched_getaffinity(0):
        topo = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            cores.add((open(topo + "physical_package_id").read(), open(topo + "core_id").read()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    assert int(proc.stdout) == len(cores)


def test_no_threads_until_first_region_and_pool_survives_fork(probe_path):
    proc = _run_script(probe_path, """
        def nthreads():
            return len(os.listdir('/proc/self/task'))
        before = nthreads()
        lib.tc_set_num_threads(3)
        assert nthreads() == before, 'threads started before any region'
        data = np.arange(1000, dtype=np.int64)
        assert lib.probe_many(10, 1000, ptr('int64_t *', data), int(data.sum())) == 0
        assert nthreads() == before + 2
        pid = os.fork()
        if pid == 0:
            ok = lib.probe_many(10, 1000, ptr('int64_t *', data), int(data.sum())) == 0
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        print('ok')
    """, _env_without_thread_setting())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
