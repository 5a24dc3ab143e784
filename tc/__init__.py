"""tc: an ahead-of-time tensor compiler.

    import tc
    mod = tc.compile("model.onnx", target="llvm")
    y, = mod.run([x])
    mod.export("model.so")
    mod = tc.load("model.so")

Importing tc is cheap and inert: it starts no threads and builds nothing; the heavy
modules (llvmlite, onnx, the compiler) load on first use.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["compile", "load", "Module", "Target", "__version__"]


def compile(model, target="llvm", *, input_shapes=None, example_inputs=None,  # noqa: A001
            dump_ir=None, report=False, tuning_log=None):
    """Compile a model into a loaded ``Module``.

    ``model``: an ``onnx.ModelProto`` or a path to an .onnx file; or a PyTorch
    ``nn.Module`` with ``example_inputs`` (its forward's positional arguments as a
    tuple, keyword arguments as a dict, or one tensor), or a
    ``torch.export.ExportedProgram`` (needs the ``[torch]`` extra).  ``target``: a target
    string ("llvm", "llvm -mcpu=znver3", "c") or a ``Target``.  ``input_shapes`` fixes
    dims that the model leaves symbolic ({input name: shape}).  ``dump_ir``: a folder
    that receives the graph as text after every pass.  ``tuning_log``: a ``tc-tune`` log
    whose best schedules to use.  With ``report=True`` the build report is attached as
    ``module.build_report``.
    """
    from ._compile import compile_model

    return compile_model(model, target, input_shapes=input_shapes,
                         example_inputs=example_inputs, dump_ir=dump_ir,
                         tuning_log=tuning_log)


def load(path):
    """Load an artifact exported by ``Module.export`` or ``tc-build``."""
    from .runtime.module import load as _load

    return _load(path)


def __getattr__(name):
    if name == "Module":
        from .runtime.module import Module

        return Module
    if name == "Target":
        from .targets.target import Target

        return Target
    raise AttributeError(f"module 'tc' has no attribute {name!r}")
