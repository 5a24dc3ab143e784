"""Command-line tools: ``tc-build`` (compile a model into an artifact) and ``tc-tune``.

``tc-build`` takes an ONNX file, a saved ``torch.export`` program (``.pt2``), or
``MODULE:CALLABLE`` naming a function (importable from the current directory, as with
``python -m``) that returns a PyTorch ``nn.Module``; a module is exported on random
inputs of the shapes and dtypes given by ``--input-shape`` and ``--input-dtype``.
"""
from __future__ import annotations

import argparse
import sys
import time


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _spec(s) -> str:
    return f"{s['name']}: {s['dtype']}[{', '.join(map(str, s['shape']))}]"


def print_summary(rep, path: str, seconds: float, report_passes: bool, out=None) -> None:
    """The short summary tc-build prints of a BuildReport; with ``report_passes`` the
    per-pass table too; the footprint of a board folder (to ``out``, default the current
    ``sys.stdout``)."""
    out = out or sys.stdout
    print(f"built {path} for {rep.target} in {seconds:.2f} s", file=out)
    print(f"  frontend: {_frontend_times(rep.seconds)}", file=out)
    for s in rep.inputs:
        print(f"  input   {_spec(s)}", file=out)
    for s in rep.outputs:
        print(f"  output  {_spec(s)}", file=out)
    print(f"  kernels {rep.kernels} calls, {rep.unique_kernels} distinct functions", file=out)
    if rep.tuning:
        print(f"  {rep.tuning}", file=out)
    mem = rep.memory
    scratch = rep.workspace_bytes - mem.arena_bytes
    where = "device workspace" if rep.target.startswith("cuda") else "workspace"
    print(f"  {where} {_fmt_bytes(mem.arena_bytes)} (lower bound {_fmt_bytes(mem.lower_bound)}, "
          f"naive {_fmt_bytes(mem.naive_bytes)})"
          + (f" + {_fmt_bytes(scratch)} kernel scratch" if scratch > 0 else "")
          + f"; constants {_fmt_bytes(rep.constant_bytes)}", file=out)
    if rep.footprint is not None:
        for line in rep.footprint.lines():
            print(f"  {line}", file=out)
    if report_passes:
        print("  passes:", file=out)
        for p in rep.passes:
            print(f"    {p.name:<16} {p.seconds * 1e3:8.1f} ms  nodes {p.nodes_before} -> {p.nodes_after}",
                  file=out)
        nodes = rep.passes[-1].nodes_after if rep.passes else 0
        print(f"    {'fuse':<16} {rep.seconds['fuse'] * 1e3:8.1f} ms  nodes {nodes} -> "
              f"{rep.kernels} kernels", file=out)
        print(f"    {'plan_memory':<16} {rep.seconds['plan_memory'] * 1e3:8.1f} ms  arena "
              f"{mem.arena_bytes} B = {mem.arena_bytes / max(mem.lower_bound, 1):.3f} x lower bound",
              file=out)
        print("  phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in rep.seconds.items()), file=out)


def _frontend_times(seconds: dict[str, float]) -> str:
    """``torch.export 1.92 s, lowering to tc 0.05 s; backend 3.10 s`` (PyTorch) or
    ``ONNX import 0.12 s; backend 3.10 s`` from a BuildReport's phases."""
    if "export" in seconds:
        front = f"torch.export {seconds['export']:.2f} s, lowering to tc {seconds['import']:.2f} s"
    else:
        front = f"ONNX import {seconds.get('import', 0.0):.2f} s"
    rest = sum(v for k, v in seconds.items() if k not in ("export", "import"))
    return f"{front}; backend {rest:.2f} s"


def print_supported_ops(out=sys.stdout) -> None:
    """The ONNX ops the frontend converts, each with the versions of its ONNX definition
    from opset 7 on (older models are upgraded first), from the converter registry."""
    from onnx import defs

    from .compiler.ops import registered_ops
    from .frontends.onnx import CONVERTERS, MIN_OPSET

    versions: dict[str, set[int]] = {}
    for schema in defs.get_all_schemas_with_history():
        if schema.domain == "" and schema.name in CONVERTERS:
            versions.setdefault(schema.name, set()).add(schema.since_version)
    print(f"{len(CONVERTERS)} ONNX ops (default domain); opset {MIN_OPSET} and later is read "
          "directly, older opsets are upgraded first.", file=out)
    print(f"{'op':<28} versions of its definition that tc reads", file=out)
    for op in sorted(CONVERTERS):
        vs = sorted(versions.get(op, ()))
        # the definition in force at opset 7, then every later revision
        shown = [v for v in vs if v <= MIN_OPSET][-1:] + [v for v in vs if v > MIN_OPSET]
        print(f"{op:<28} {', '.join(map(str, shown))}", file=out)
    print(f"\n{len(registered_ops())} canonical graph ops: {', '.join(registered_ops())}", file=out)


def _run_example(module, model, out=sys.stdout) -> None:
    """Run the example once on random data and compare with onnxruntime (or tc's numpy
    graph evaluator where onnxruntime is not installed)."""
    import numpy as np

    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s["shape"]).astype(s["dtype"]) for s in module.metadata["inputs"]]
    t0 = time.perf_counter()
    outputs = module.run(inputs)
    ms = (time.perf_counter() - t0) * 1e3
    try:
        import onnxruntime as ort

        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        expected = sess.run(None, dict(zip(names, inputs)))
        oracle = "onnxruntime"
    except ImportError:
        from .compiler.graph.evaluate import evaluate
        from .frontends.onnx import from_onnx

        expected = evaluate(from_onnx(model), inputs)
        oracle = "tc's numpy reference"
    err = max(float(np.max(np.abs(o - e))) for o, e in zip(outputs, expected))
    print(f"ran once in {ms:.2f} ms; max |tc - {oracle}| = {err:.2e}", file=out)
    if err > 1e-4:
        raise SystemExit(f"tc-build --example: output differs from {oracle} by {err:.2e}")


def build_main(argv: list[str] | None = None) -> int:
    """Entry point of ``tc-build``."""
    ap = argparse.ArgumentParser(prog="tc-build", description="Compile an ONNX or PyTorch model "
                                 "into one self-contained shared library.")
    ap.add_argument("model", nargs="?", help="an .onnx file, a torch.export .pt2 file, or "
                    "MODULE:CALLABLE, a function returning a torch nn.Module")
    ap.add_argument("-o", "--output", help="the artifact to write (default: MODEL.so, or for "
                    "a board target the folder MODEL_c/ or MODEL_<arch>/)")
    ap.add_argument("--target", default="llvm", help='target string: "llvm" (this host), '
                    '"llvm -mcpu=znver3", "c" (C99 sources for a board: a folder), '
                    '"llvm -mtriple=aarch64-linux-gnu" (an object for another architecture), '
                    '"cuda -arch=sm_90" (NVIDIA GPUs; built with nvcc, else NVRTC)')
    ap.add_argument("--input-shape", action="append", metavar="[NAME=]D0,D1,...",
                    help="ONNX: NAME=D0,... fixes the shape of an input whose dims are symbolic; "
                    "PyTorch: the shape of each forward argument, in order or by parameter "
                    "name (repeatable)")
    ap.add_argument("--input-dtype", action="append", metavar="[NAME=]DTYPE",
                    help="PyTorch: the dtype of each forward argument, in order or by name "
                    "(repeatable; default float32; integer inputs are random in [0, 100))")
    ap.add_argument("--example", action="store_true",
                    help="compile the built-in example model, run it once and check it")
    ap.add_argument("--tuning-log", metavar="LOG", help="use the best schedules of a tc-tune log")
    ap.add_argument("--report", action="store_true", help="print per-pass times and node counts")
    ap.add_argument("--dump-ir", metavar="DIR", help="write the graph as text after every pass")
    ap.add_argument("--ops", action="store_true",
                    help="list the ONNX ops tc compiles, with the opset versions it reads")
    args = ap.parse_args(argv)
    if args.ops:
        print_supported_ops()
        return 0
    if not args.example and not args.model:
        ap.error("give a model path, or --example")

    from ._compile import build_for_board, compile_model
    from .cli_models import UsageError, resolve_model
    from .compiler.build import is_board_build
    from .compiler.footprint import library_footprint
    from .frontends.onnx import FrontendError
    from .targets.target import Target

    t0 = time.perf_counter()
    try:
        if args.example:
            from .examples import small_cnn

            model, default_out, example_inputs, shapes = small_cnn(), "small_cnn.so", None, None
        else:
            model, default_out, example_inputs, shapes = resolve_model(
                args.model, args.input_shape, args.input_dtype)
        target = Target.parse(args.target)
        board = is_board_build(target, args.output or "")
        if board and args.example:
            raise UsageError("--example runs the model here; build it for this host, "
                             "or drop --example to write the board folder")
        if board:
            arch = "c" if target.kind == "c" else target.triple.split("-")[0]
            output = args.output or default_out.removesuffix(".so") + f"_{arch}"
            report = build_for_board(model, target, output, input_shapes=shapes,
                                     example_inputs=example_inputs, dump_ir=args.dump_ir,
                                     tuning_log=args.tuning_log)
        else:
            output = args.output or default_out
            module = compile_model(model, target, input_shapes=shapes,
                                   example_inputs=example_inputs, dump_ir=args.dump_ir,
                                   output_path=output, tuning_log=args.tuning_log)
            report = module.build_report
            # a CUDA artifact's arena is device memory: none of the host's RAM
            report.footprint = library_footprint(
                output, report.constant_bytes,
                0 if target.kind == "cuda" else report.workspace_bytes)
    except (UsageError, FrontendError, ValueError, RuntimeError) as e:
        print(f"tc-build: error: {e}", file=sys.stderr)
        return 1
    print_summary(report, output, time.perf_counter() - t0, args.report)
    if args.example:
        from .runtime import CudaError

        try:
            _run_example(module, model)
        except CudaError as e:  # built for a GPU this machine cannot run it on
            print(f"tc-build: built {output}, but the example could not run: {e}",
                  file=sys.stderr)
            return 1
    return 0


def tune_main(argv: list[str] | None = None) -> int:
    """Entry point of ``tc-tune``: tune a model's kernels into a tuning log."""
    ap = argparse.ArgumentParser(prog="tc-tune", description="Search faster schedules for a "
                                 "model's kernels, measuring candidates; every measurement "
                                 "goes to the log, which tc-build --tuning-log applies. "
                                 "Given an existing log, tuning resumes where it stopped.")
    ap.add_argument("model", help="an .onnx file, a torch.export .pt2 file, or MODULE:CALLABLE")
    ap.add_argument("--target", default="llvm", help='an "llvm" target of this machine, or '
                    '"cuda" (e.g. "cuda -arch=sm_90": candidates are built with nvcc or NVRTC '
                    'and timed on this machine\'s GPU)')
    ap.add_argument("--trials", type=int, default=300, help="measurements in all (default 300)")
    ap.add_argument("--log", default="tune.jsonl", help="the tuning log (default tune.jsonl)")
    ap.add_argument("--batch-size", type=int, default=16, help="candidates per round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds a candidate may take to run before it counts as an error")
    ap.add_argument("--input-shape", action="append", metavar="[NAME=]D0,D1,...",
                    help="as for tc-build")
    ap.add_argument("--input-dtype", action="append", metavar="[NAME=]DTYPE",
                    help="as for tc-build")
    ap.add_argument("--verify-top", type=int, default=3, metavar="N",
                    help="after the search, measure each task's N best configs and its "
                    "default again, in turns, and keep the verified best (default 3; 0: "
                    "keep the search's single measurements)")
    ap.add_argument("--save-model", metavar="PATH",
                    help="write the trained cost model here (XGBoost JSON)")
    ap.add_argument("--warm-start", metavar="PATH",
                    help="a cost model saved by an earlier run (e.g. of another model) to "
                    "guide the search from the first round")
    args = ap.parse_args(argv)

    from .autotune.measure import DeviceUnavailable
    from .autotune.tuner import tune
    from .cli_models import UsageError, resolve_model
    from .frontends.onnx import FrontendError
    from .runtime.toolchain import ToolchainError

    try:
        model, _, example_inputs, shapes = resolve_model(args.model, args.input_shape,
                                                         args.input_dtype)
        summary = tune(model, args.target, trials=args.trials, log_path=args.log,
                       input_shapes=shapes, example_inputs=example_inputs,
                       batch_size=args.batch_size, seed=args.seed, timeout=args.timeout,
                       save_model=args.save_model, warm_start=args.warm_start,
                       verify_top=args.verify_top)
    except (UsageError, FrontendError, ValueError, DeviceUnavailable, ToolchainError) as e:
        print(f"tc-tune: error: {e}", file=sys.stderr)
        return 1
    print_tuning_summary(summary, args.log)
    return 0


def print_tuning_summary(summary, log_path: str, out=None) -> None:
    """Per task: trials, default and best time; then the totals."""
    out = out or sys.stdout
    print(f"{'task':<58} {'trials':>6} {'default ms':>10} {'best ms':>9} {'speedup':>7}",
          file=out)
    for label, trials, default, best in summary.tasks:
        speedup = default / best if best > 0 and best != float("inf") else float("nan")
        print(f"{label[:58]:<58} {trials:>6} {default * 1e3:>10.3f} {best * 1e3:>9.3f} "
              f"{speedup:>7.2f}", file=out)
    print(f"{summary.trials} measurements ({summary.errors} errors) in "
          f"{summary.seconds:.0f} s; apply with: tc-build MODEL --tuning-log {log_path}",
          file=out)


if __name__ == "__main__":
    sys.exit(build_main())
