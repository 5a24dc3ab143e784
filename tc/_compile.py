"""``tc.compile``: a model in, a loaded Module out (the artifact lives in a temp folder)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import weakref


def compile_model(model, target="llvm", *, input_shapes=None, example_inputs=None,
                  dump_ir=None, output_path=None, tuning_log=None, schedule_target=None):
    """Import ``model`` (an ONNX model or path; a PyTorch ``nn.Module`` with
    ``example_inputs``, or a ``torch.export`` program), build it for ``target`` and load
    the result.  With ``tuning_log`` (a ``tc-tune`` log), tunable kernels take the best
    logged schedule for this target; a warning says how many had no record.
    ``schedule_target`` (a check, not a deployment option: see ``build``) schedules the
    kernels as for another target, e.g. a GPU's schedules run on this CPU.

    Returns the Module with ``build_report`` (a ``BuildReport``) attached; its ``seconds``
    starts with the frontend's phases (``import_graph``) followed by the build's.  Without
    ``output_path`` the library is written to a temporary folder removed with the Module.
    """
    from .runtime.module import load
    from .targets.target import Target

    target = target if isinstance(target, Target) else Target.parse(target)
    tmpdir = None
    if output_path is None:
        tmpdir = tempfile.mkdtemp(prefix="tc-build-")
        output_path = os.path.join(tmpdir, "model.so")
    try:
        report = _import_and_build(model, target, output_path, input_shapes, example_inputs,
                                   dump_ir, tuning_log, schedule_target)
        module = load(output_path)
    except BaseException:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    module.build_report = report
    if tmpdir:
        weakref.finalize(module, shutil.rmtree, tmpdir, True)
    return module


def build_for_board(model, target, folder, *, input_shapes=None, example_inputs=None,
                    dump_ir=None, footprint: bool = True, tuning_log=None):
    """Import ``model`` and write the folder of sources a board's toolchain builds
    (``tc.compiler.board_artifact``) for ``target`` (``"c"``, or an LLVM target of
    another architecture) into ``folder``.

    Returns the BuildReport; with ``footprint`` its ``footprint`` attribute holds the
    sizes measured by compiling the folder (``tc.compiler.footprint``)."""
    from .compiler.build import is_board_build
    from .compiler.footprint import board_compiler, measure_footprint
    from .targets.target import Target

    target = target if isinstance(target, Target) else Target.parse(target)
    if not is_board_build(target, folder):
        raise ValueError(f"{target} builds a shared library for this machine, not a board "
                         "folder: use tc.compile, or the c target")
    report = _import_and_build(model, target, folder, input_shapes, example_inputs, dump_ir,
                               tuning_log)
    if footprint:
        cc, cflags = board_compiler(target)
        report.footprint = measure_footprint(folder, cc, cflags, report.constant_bytes,
                                             report.workspace_bytes)
    return report


def _import_and_build(model, target, output_path, input_shapes, example_inputs, dump_ir,
                      tuning_log, schedule_target=None):
    """Import ``model`` and build it into ``output_path``; the report's ``seconds``
    starts with the frontend's phases.  One warning when a tuning log left workloads on
    default schedules."""
    from .compiler.build import build
    from .targets.target import Target

    graph, frontend_seconds = import_graph(model, input_shapes=input_shapes,
                                           example_inputs=example_inputs)
    report = build(graph, target, str(output_path), dump_dir=dump_ir, tuning_log=tuning_log,
                   schedule_target=None if schedule_target is None
                   else Target.parse(schedule_target))
    report.seconds = {**frontend_seconds, **report.seconds}
    if report.untuned:
        import warnings

        warnings.warn(report.tuning, stacklevel=4)
    return report


def import_graph(model, *, input_shapes=None, example_inputs=None):
    """``model`` as tc's graph IR, with the seconds each frontend phase took.

    PyTorch: ``{"export": torch.export and decomposition to core ATen (only the
    decomposition for an ``ExportedProgram``), "import": tc's lowering of the ATen graph}``;
    ONNX: ``{"import": reading and converting the model}``.
    """
    t0 = time.perf_counter()
    if not _is_torch_model(model):
        from .frontends.onnx import from_onnx

        graph = from_onnx(model, input_shapes=input_shapes)
        return graph, {"import": time.perf_counter() - t0}
    from .frontends.torch import Lowering, exported

    program = exported(model, example_inputs)
    t1 = time.perf_counter()
    graph = Lowering(program).run()
    return graph, {"export": t1 - t0, "import": time.perf_counter() - t1}


def _is_torch_model(model) -> bool:
    """An nn.Module or ExportedProgram (checked without importing torch: a caller holding
    one has imported it already)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, (torch.nn.Module,
                                                    torch.export.ExportedProgram))
