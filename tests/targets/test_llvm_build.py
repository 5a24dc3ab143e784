"""build_llvm as a whole: errors, objects for other targets, linking into a shared library."""
import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

from tc.compiler.loops.ir import Allocate, Buffer, For, Load, PrimFunc, Seq, Store
from tc.compiler.te.expr import Call, TensorRead, Var, const
from tc.targets import CodegenError, Target, build_llvm
from tc.targets import llvm_func

rng = np.random.default_rng(2)


def axpy(name="axpy", n=64, kind="vectorized", dtype="float32"):
    X, Y = Buffer("X", (n,), dtype), Buffer("Y", (n,), dtype)
    i = Var("i")
    return PrimFunc(name, (X, Y), For(i, 0, n, kind,
                                      Store(Y, i, Load(Y, i) + const(2.5, dtype) * Load(X, i))))


def test_several_functions_in_one_module():
    art = build_llvm([axpy("f1"), axpy("f2", kind="parallel")], Target.parse("llvm"))
    assert art.func_names == ("f1", "f2")
    assert "define void @f1(" in art.ir and "define void @f2(" in art.ir
    assert "noalias" in art.unoptimized_ir
    assert art.target.startswith("llvm -mtriple=")


def _bad(body, params=()):
    return PrimFunc("broken_kernel", tuple(params), body)


X = Buffer("X", (8,), "float32")
I32 = Buffer("I", (8,), "int32")
BOOL = Buffer("M", (8,), "bool")
i = Var("i")


@pytest.mark.parametrize("func, fragment", [
    (_bad(Store(X, Var("k"), const(1.0)), [X]), "variable 'k'"),
    (_bad(Store(X, 0, const(1.0)), []), "buffer 'X' is neither a parameter"),
    (_bad(Store(X, 0, const(1, "int32")), [X]), "insert a cast"),
    (_bad(Store(I32, 0, Call("exp", (Load(I32, 0),))), [I32]), "needs a float argument"),
    (_bad(Store(Buffer("C", (2,), "complex64"), 0, const(1.0)), [Buffer("C", (2,), "complex64")]),
     "not supported"),
    (_bad(Store(X, Load(X, 0), const(1.0)), [X]), "indices must be integers"),
    (_bad(Store(BOOL, 0, Load(BOOL, 0) + Load(BOOL, 0)), [BOOL]), "not defined on bool"),
    (_bad(Allocate(X, Allocate(X, Store(X, 0, const(1.0))))), "allocated twice"),
    (_bad(Store(X, 0, const(1.0)), [X, X]), "appears twice"),
])
def test_bad_functions_raise_codegen_error_naming_the_function(func, fragment):
    with pytest.raises(CodegenError, match="broken_kernel") as info:
        build_llvm([func])
    assert fragment in str(info.value)


def test_te_nodes_in_loop_ir_are_rejected():
    from tc.compiler.te.tensor import placeholder

    t = placeholder((8,), "float32", name="T")
    f = _bad(Store(X, 0, TensorRead(t, (const(0),))), [X])
    with pytest.raises(CodegenError, match="lower the TE program first"):
        build_llvm([f])


@pytest.mark.parametrize("name", ["expf", "tc_parallel_for", "my-kernel", ""])
def test_bad_function_names(name):
    with pytest.raises(CodegenError, match="function name"):
        build_llvm([axpy(name)])


def test_duplicate_names_and_empty_input():
    with pytest.raises(CodegenError, match="unique"):
        build_llvm([axpy("f"), axpy("f")])
    with pytest.raises(ValueError):
        build_llvm([])
    with pytest.raises(ValueError, match="'llvm' targets"):
        build_llvm([axpy()], "cuda -arch=sm_90")


def test_llvm_verifier_failures_become_codegen_errors(monkeypatch):
    monkeypatch.setattr(llvm_func.FunctionEmitter, "finish", lambda self: None)
    with pytest.raises(CodegenError, match="LLVM rejected the IR generated for axpy"):
        build_llvm([axpy()])


def test_cross_compiles_for_aarch64():
    art = build_llvm([axpy(n=16)], "llvm -mtriple=aarch64-linux-gnu")
    obj = art.object_code
    assert obj[:4] == b"\x7fELF"
    assert int.from_bytes(obj[18:20], "little") == 183  # EM_AARCH64
    assert "<16 x float>" in art.unoptimized_ir


def test_avx512_target_emits_zmm_wide_vectors():
    art = build_llvm([axpy(n=16)], "llvm -mcpu=skylake-avx512")
    assert "<16 x float>" in art.ir
    assert int.from_bytes(art.object_code[18:20], "little") == 62  # EM_X86_64


_RUNTIME_STUB = r"""
#include <stdint.h>
#include <stdlib.h>
void tc_parallel_for(int64_t n, void (*body)(int64_t, int64_t, void *), void *closure) {
    body(0, n / 2, closure);
    body(n / 2, n, closure);
}
void *tc_alloc(size_t n) { return aligned_alloc(64, (n + 63) / 64 * 64); }
void tc_free(void *p) { free(p); }
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to link")
def test_object_links_into_a_shared_library(tmp_path):
    n = 70000  # the temporary is on the heap
    A, B = Buffer("A", (n,), "float32"), Buffer("B", (n,), "float32")
    T = Buffer("T", (n,), "float32", scope="local")
    j, k = Var("j"), Var("k")
    f = PrimFunc("tanh_copy", (A, B), Allocate(T, Seq([
        For(j, 0, n, "parallel", Store(T, j, Call("tanh", (Load(A, j),)))),
        For(k, 0, n, "serial", Store(B, k, Load(T, k) * const(2.0))),
    ])))
    art = build_llvm([f, axpy()])
    (tmp_path / "kernels.o").write_bytes(art.object_code)
    (tmp_path / "runtime.c").write_text(_RUNTIME_STUB)
    lib = tmp_path / "libkernels.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "runtime.c"),
                    str(tmp_path / "kernels.o"), "-lm"], check=True, capture_output=True)
    so = ctypes.CDLL(str(lib))
    a = rng.uniform(-3, 3, n).astype("float32")
    b = np.zeros(n, "float32")
    so.tanh_copy(ctypes.c_void_p(a.ctypes.data), ctypes.c_void_p(b.ctypes.data))
    np.testing.assert_allclose(b, np.tanh(a) * 2, rtol=1e-6, atol=1e-7)
    x, y = rng.uniform(1, 2, 64).astype("float32"), rng.uniform(1, 2, 64).astype("float32")
    want = y + np.float32(2.5) * x
    so.axpy(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data))
    np.testing.assert_allclose(y, want, rtol=1e-6)



@pytest.mark.parametrize("target, fragment", [
    ("llvm -mcpu=notacpu", "-mcpu=notacpu"),
    ("llvm -mattr=+notafeature", "notafeature"),
    ("llvm -mtriple=aarch64-linux-gnu -mcpu=znver3", "-mcpu=znver3"),
    ("llvm -mtriple=nonsense-triple", "no backend"),
])
def test_unknown_cpu_feature_or_triple_is_a_value_error_not_an_abort(target, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        build_llvm([axpy()], target)
