"""write_artifact / write_entry_source: hand-written kernels + a plan -> a shared library."""
import os
import re

import cffi
import numpy as np
import pytest

import tc.runtime
from tc.compiler.aot_plan import (CONSTANT, INPUT, OUTPUT, WORKSPACE, Copy, ExecutionPlan,
                                  KernelCall, TensorRef, TensorSpec, pack_constants)
from tc.compiler.artifact import artifact_metadata, write_artifact, write_entry_source
from tc.runtime import toolchain
from tests.runtime import native


def _inputs(rng):
    return [rng.standard_normal((4, 250)).astype(np.float32) for _ in range(2)]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_sample_plan_matches_numpy(sample_artifact, rng, threads):
    path, plan, consts = sample_artifact
    mod = tc.runtime.load(path)
    mod.set_num_threads(threads)
    for _ in range(3):
        x, y = _inputs(rng)
        out, x_copy = mod.run([x, y])
        ref_out, ref_copy = native.sample_reference(x, y, consts)
        np.testing.assert_allclose(out, ref_out, rtol=1e-6, atol=1e-6)
        assert (out > 0).any() and (out == 0).any()  # relu did something both ways
        np.testing.assert_array_equal(x_copy, ref_copy)


def test_entry_source_has_one_line_per_step(sample_artifact):
    _, plan, _ = sample_artifact
    src = write_entry_source(plan)
    assert "void k_add(void *, void *, void *);" in src
    assert "void k_relu(void *, void *);" in src
    body = src[src.index("static int run_steps"):]
    step_lines = [line for line in body.splitlines() if "/* step" in line]
    assert body.count("TC_STEP_DONE(") == len(plan.steps) + 1  # and the macro's definition
    assert len(step_lines) == len(plan.steps)
    assert step_lines[1].strip().startswith("k_scale(ws + 0, (void *)(cst + 0), ws + 4096);")
    assert "memcpy(outputs[1], inputs[0], 4000);" in step_lines[4]


def test_entry_source_compiles_cleanly(sample_artifact, tmp_path):
    _, plan, _ = sample_artifact
    (tmp_path / "entry.c").write_text(write_entry_source(plan))
    toolchain.run_compiler(["-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror",
                            "-pedantic", "-I", str(toolchain.runtime_include_dir()), "-c",
                            str(tmp_path / "entry.c"), "-o", str(tmp_path / "entry.o")],
                           "compiling entry.c")


def test_only_the_abi_is_exported(sample_artifact):
    path, _, _ = sample_artifact
    ffi = cffi.FFI()
    ffi.cdef("void k_add(void *, void *, void *); void tc_free(void *);"
             "const char *tc_model_metadata(void); int tc_get_num_threads(void);")
    lib = ffi.dlopen(str(path))
    assert lib.tc_get_num_threads() >= 1
    assert b"tc-artifact" in ffi.string(lib.tc_model_metadata())
    for hidden in ("k_add", "tc_free"):
        with pytest.raises(AttributeError):
            getattr(lib, hidden)


def test_metadata_merges_plan_metadata(sample_artifact):
    path, plan, _ = sample_artifact
    meta = tc.runtime.load(path).metadata
    assert meta["format"] == "tc-artifact" and meta["version"] == 1
    assert meta["tc_version"] == __import__("tc").__version__
    assert meta["target"] == "llvm -mcpu=generic"          # from plan.metadata
    assert meta["triple"] == "x86_64-unknown-linux-gnu"
    assert meta["model"] == "sample"
    assert meta["inputs"] == [{"name": "x", "shape": [4, 250], "dtype": "float32"},
                              {"name": "y", "shape": [4, 250], "dtype": "float32"}]
    assert meta["workspace_bytes"] == 8192
    assert meta["kernels"] == ["k_add", "k_scale", "k_relu"]
    bad = ExecutionPlan(plan.inputs, plan.outputs, plan.steps, plan.workspace_bytes,
                        plan.constants, {"inputs": []})
    with pytest.raises(ValueError, match="reserved key 'inputs'"):
        artifact_metadata(bad)


def _copy_plan(inputs, outputs, steps, workspace=0, constants=b""):
    return ExecutionPlan(tuple(inputs), tuple(outputs), tuple(steps), workspace, constants)


def test_names_needing_escapes_round_trip(tmp_path, rng):
    names = ['a"b\\c', "??=trigraph", "ünï\ncode"]
    specs = [TensorSpec(n, (3,), "int32") for n in names]
    outs = [TensorSpec(f"out_{i}", (3,), "int32") for i in range(3)]
    steps = [Copy(TensorRef(INPUT, i), TensorRef(OUTPUT, i), 12) for i in range(3)]
    write_artifact(tmp_path / "names.so", b"", _copy_plan(specs, outs, steps))
    mod = tc.runtime.load(tmp_path / "names.so")
    assert [s.name for s in mod.input_specs] == names
    xs = [rng.integers(-100, 100, 3).astype(np.int32) for _ in names]
    for got, want in zip(mod.run(xs), xs):
        np.testing.assert_array_equal(got, want)


def test_copy_through_workspace_and_constants(tmp_path, rng):
    """A plan without kernels: outputs come from copies via the workspace and constants."""
    table = rng.standard_normal(5).astype(np.float64)
    blob, offsets = pack_constants({"pad": np.ones(3), "table": table})
    plan = _copy_plan(
        [TensorSpec("x", (2, 2), "int64")],
        [TensorSpec("x_again", (2, 2), "int64"), TensorSpec("table", (5,), "float64")],
        [Copy(TensorRef(INPUT, 0), TensorRef(WORKSPACE, 64), 32),
         Copy(TensorRef(WORKSPACE, 64), TensorRef(OUTPUT, 0), 32),
         Copy(TensorRef(CONSTANT, offsets["table"]), TensorRef(OUTPUT, 1), 40)],
        workspace=128, constants=blob)
    write_artifact(tmp_path / "copies.so", b"", plan)
    x = rng.integers(-5, 5, (2, 2))
    x_again, got_table = tc.runtime.load(tmp_path / "copies.so").run([x])
    np.testing.assert_array_equal(x_again, x)
    np.testing.assert_array_equal(got_table, table)


def test_large_constants_blob_embeds_intact(tmp_path, rng):
    n = 16 * 1024 * 1024  # 64 MB of float32
    weights = rng.standard_normal(n, dtype=np.float32)
    head = rng.standard_normal(7).astype(np.float32)  # puts the big one at offset 64
    blob, offsets = pack_constants({"head": head, "weights": weights})
    plan = _copy_plan(
        [TensorSpec("unused", (1,), "float32")],
        [TensorSpec("weights", (n,), "float32"), TensorSpec("head", (7,), "float32")],
        [KernelCall("k_copy_big", (TensorRef(CONSTANT, offsets["weights"]),
                                   TensorRef(OUTPUT, 0))),
         Copy(TensorRef(CONSTANT, 0), TensorRef(OUTPUT, 1), 28)],
        constants=blob)
    write_artifact(tmp_path / "big.so", native.sample_kernels(tmp_path, big_n=n), plan)
    assert os.path.getsize(tmp_path / "big.so") > len(blob)
    mod = tc.runtime.load(tmp_path / "big.so")
    mod.set_num_threads(2)
    got, got_head = mod.run([np.ones(1, np.float32)])
    np.testing.assert_array_equal(got, weights)
    np.testing.assert_array_equal(got_head, head)


@pytest.mark.parametrize("steps, workspace, message", [
    ([KernelCall("k_add", (TensorRef(INPUT, 0), TensorRef(INPUT, 3), TensorRef(OUTPUT, 0)))],
     0, r"step 0 \(k_add\), argument 1: input 3 does not exist \(the plan has 1 inputs\)"),
    ([KernelCall("k_add", (TensorRef(INPUT, 0), TensorRef(WORKSPACE, 320),
                           TensorRef(OUTPUT, 0)))],
     256, r"offset 320 is outside the workspace \(256 bytes\)"),
    ([KernelCall("k_relu", (TensorRef(INPUT, 0), TensorRef(OUTPUT, 0))),
      KernelCall("k_relu", (TensorRef(INPUT, 0),))],
     0, r"step 1: kernel 'k_relu' called with 1 arguments, but with 2"),
    ([KernelCall("2fast", (TensorRef(INPUT, 0),))], 0, "not a C identifier"),
    ([KernelCall("tc_model_run", (TensorRef(INPUT, 0),))], 0, "start with 'tc_model_'"),
    ([KernelCall("tc_parallel_for", (TensorRef(INPUT, 0),))], 0, "a tc runtime function"),
    ([Copy(TensorRef(INPUT, 0), TensorRef(OUTPUT, 0), 4004)],
     0, r"step 0 \(copy\), source: 4004 bytes at offset 0 overrun input 'x'"),
    ([Copy(TensorRef(OUTPUT, 0), TensorRef(INPUT, 0), 4)], 0, "destination must be an output"),
    ([Copy(TensorRef(INPUT, 0), TensorRef(CONSTANT, 0), 4)], 0, "not constant"),
    ([KernelCall("k_relu", (TensorRef(CONSTANT, 64), TensorRef(OUTPUT, 0)))],
     0, r"offset 64 is outside the constant \(0 bytes\)"),
])
def test_inconsistent_plans_are_rejected(tmp_path, steps, workspace, message):
    spec = TensorSpec("x", (1000,), "float32")
    plan = _copy_plan([spec], [spec], steps, workspace=workspace)
    with pytest.raises(ValueError, match=message):
        write_artifact(tmp_path / "bad.so", b"\x7fELF", plan)
    assert list(tmp_path.iterdir()) == []


def test_missing_kernel_is_a_link_error_naming_it(tmp_path, kernels_object):
    spec = TensorSpec("x", (1000,), "float32")
    plan = _copy_plan([spec], [spec],
                      [KernelCall("k_missing", (TensorRef(INPUT, 0), TensorRef(OUTPUT, 0)))])
    with pytest.raises(toolchain.ToolchainError, match="k_missing"):
        write_artifact(tmp_path / "m.so", kernels_object, plan)
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temp left behind


def test_rewrite_replaces_file_atomically(tmp_path, sample_artifact, kernels_object):
    _, plan, _ = sample_artifact
    target = tmp_path / "model.so"
    write_artifact(target, kernels_object, plan)
    first = target.stat().st_ino
    write_artifact(target, kernels_object, plan)
    assert target.stat().st_ino != first  # renamed into place, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["model.so"]
    assert re.search(rb"tc-artifact", target.read_bytes())


LLVM_KERNEL = r"""
declare void @tc_parallel_for(i64, ptr, ptr)

define internal void @body(i64 %begin, i64 %end, ptr %closure) {
entry:
  %xp = getelementptr {ptr, ptr}, ptr %closure, i32 0, i32 0
  %x = load ptr, ptr %xp
  %op = getelementptr {ptr, ptr}, ptr %closure, i32 0, i32 1
  %out = load ptr, ptr %op
  %empty = icmp sge i64 %begin, %end
  br i1 %empty, label %exit, label %loop
loop:
  %i = phi i64 [%begin, %entry], [%next, %loop]
  %px = getelementptr float, ptr %x, i64 %i
  %v = load float, ptr %px
  %m = fmul float %v, 2.5
  %a = fadd float %m, 1.0
  %po = getelementptr float, ptr %out, i64 %i
  store float %a, ptr %po
  %next = add i64 %i, 1
  %done = icmp eq i64 %next, %end
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

define void @k_affine(ptr %x, ptr %out) {
entry:
  %closure = alloca {ptr, ptr}
  %xp = getelementptr {ptr, ptr}, ptr %closure, i32 0, i32 0
  store ptr %x, ptr %xp
  %op = getelementptr {ptr, ptr}, ptr %closure, i32 0, i32 1
  store ptr %out, ptr %op
  call void @tc_parallel_for(i64 1000, ptr @body, ptr %closure)
  ret void
}
"""


def test_llvmlite_object_with_parallel_closure(tmp_path, rng):
    """The shape of what the LLVM code generator emits: a kernel handing an outlined
    loop body to tc_parallel_for, compiled by llvmlite with reloc="pic"."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    module = llvm.parse_assembly(LLVM_KERNEL)
    module.verify()
    machine = llvm.Target.from_default_triple().create_target_machine(reloc="pic", opt=2)
    spec = TensorSpec("x", (1000,), "float32")
    plan = _copy_plan([spec], [spec],
                      [KernelCall("k_affine", (TensorRef(INPUT, 0), TensorRef(OUTPUT, 0)))])
    write_artifact(tmp_path / "llvm.so", machine.emit_object(module), plan,
                   target_triple=llvm.get_default_triple())
    mod = tc.runtime.load(tmp_path / "llvm.so")
    x = rng.standard_normal(1000).astype(np.float32)
    for threads in (1, 4):
        mod.set_num_threads(threads)
        np.testing.assert_allclose(mod.run([x])[0], x * 2.5 + 1, rtol=1e-6)
