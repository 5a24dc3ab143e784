"""Finding the C compiler and building/caching the runtime object."""
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor

import pytest

from tc.runtime import toolchain


@pytest.fixture
def fresh_compiler_lookup():
    toolchain.find_c_compiler.cache_clear()
    yield
    toolchain.find_c_compiler.cache_clear()


def test_cc_env_var_is_honoured(monkeypatch, fresh_compiler_lookup):
    monkeypatch.setenv("CC", "gcc -O1")
    assert toolchain.find_c_compiler()[1:] == ("-O1",)
    assert os.path.basename(toolchain.find_c_compiler()[0]) == "gcc"


def test_bad_cc_env_var(monkeypatch, fresh_compiler_lookup):
    monkeypatch.setenv("CC", "no-such-compiler-xyz")
    with pytest.raises(toolchain.ToolchainError, match="CC='no-such-compiler-xyz'"):
        toolchain.find_c_compiler()


def test_no_compiler_at_all(monkeypatch, tmp_path, fresh_compiler_lookup):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(toolchain.ToolchainError,
                       match="tc needs a C compiler to link artifacts; install gcc or set CC"):
        toolchain.find_c_compiler()


def test_runtime_sources_build_warning_free(tmp_path):
    for src in toolchain.runtime_sources():
        toolchain.run_compiler(["-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror",
                                "-pedantic", "-c", str(src), "-o", str(tmp_path / "x.o")],
                               f"compiling {src.name}")


def _build_in(cache_dir):
    os.environ["TC_CACHE_DIR"] = cache_dir
    return str(toolchain.runtime_object())


def test_runtime_object_is_built_once_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("TC_CACHE_DIR", str(tmp_path))
    obj = toolchain.runtime_object()
    assert obj.is_relative_to(tmp_path / "runtime") and obj.stat().st_size > 0
    stamp = obj.stat().st_mtime_ns
    assert toolchain.runtime_object() == obj and obj.stat().st_mtime_ns == stamp
    assert [p.name for p in obj.parent.iterdir()] == ["tc_runtime.o"]  # no temp left


def test_concurrent_builds_agree(tmp_path):
    with ProcessPoolExecutor(4) as pool:
        paths = set(pool.map(_build_in, [str(tmp_path)] * 4))
    assert len(paths) == 1
    obj = paths.pop()
    # the object is whole: it links into a shared library
    toolchain.run_compiler(["-shared", "-o", str(tmp_path / "t.so"), obj, "-lpthread"], "link")


def test_import_is_inert(tmp_path):
    """Importing tc.runtime builds nothing and starts no threads."""
    script = textwrap.dedent("""
        import os
        import numpy, cffi  # numpy's BLAS may start threads of its own
        before = len(os.listdir('/proc/self/task'))
        import tc.runtime, tc.compiler.artifact
        assert len(os.listdir('/proc/self/task')) == before
        print('ok')
    """)
    env = {**os.environ, "TC_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cache").exists()
