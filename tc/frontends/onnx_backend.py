"""The ONNX Backend API backed by ``tc.compile``, for ONNX's own conformance suite.

    import onnx.backend.test
    from tc.frontends.onnx_backend import TcBackend
    suite = onnx.backend.test.BackendTest(TcBackend, __name__)

Every model is compiled into machine code (no interpretation). A model whose shapes or
attributes depend on a graph input's *value* (Reshape's shape, Clip's bounds, Pad's pads
fed as inputs, as many suite cases do) cannot be compiled ahead of time: for those the
backend compiles at the first ``run``, with those inputs bound as constants, and compiles
again whenever their values change (the specialization is cached by value).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep


def _compile(model: onnx.ModelProto, target: str, schedule_target: str | None = None):
    from .._compile import compile_model

    return compile_model(model, target, schedule_target=schedule_target)


def _bind_inputs(model: onnx.ModelProto, values: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of ``model`` whose graph inputs named in ``values`` are initializers."""
    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    kept = [i for i in bound.graph.input if i.name not in values]
    del bound.graph.input[:]
    bound.graph.input.extend(kept)
    bound.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), n) for n, v in values.items())
    return bound


class TcBackendRep(BackendRep):
    """A compiled model; ``run`` takes the graph's inputs in order (a list or one array)."""

    def __init__(self, model: onnx.ModelProto, target: str, schedule_target: str | None = None):
        from .onnx import NotConstantError

        self.model, self.target, self.schedule_target = model, target, schedule_target
        inits = {i.name for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in inits]
        self.bound: list[str] = []          # inputs whose values the code depends on
        self.specialized: dict[bytes, object] = {}
        try:
            self.module = _compile(model, target, schedule_target)
        except NotConstantError as e:
            self.bound = list(e.inputs)
            if not self.bound:
                raise
            self.module = None

    def run(self, inputs, **kwargs):
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        arrays = [np.asarray(x) for x in inputs]
        if not self.bound:
            return tuple(self.module.run(arrays))
        named = dict(zip(self.input_names, arrays))
        module = self._specialize(named)
        return tuple(module.run([named[n] for n in self.input_names if n not in self.bound]))

    def _specialize(self, named: dict[str, np.ndarray]):
        """The module compiled with the bound inputs' values, binding more as needed."""
        from .onnx import NotConstantError

        def key() -> bytes:
            return b"".join(named[n].tobytes() + str(named[n].dtype).encode() for n in self.bound)

        if key() in self.specialized:
            return self.specialized[key()]
        while True:
            try:
                module = _compile(_bind_inputs(self.model, {n: named[n] for n in self.bound}),
                                  self.target, self.schedule_target)
                break
            except NotConstantError as e:
                more = [n for n in e.inputs if n not in self.bound]
                if not more:
                    raise
                self.bound.extend(more)
        self.specialized[key()] = module
        return module


class TcBackend(Backend):
    """tc as an ONNX backend: CPU only, through the LLVM target."""

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs) -> TcBackendRep:
        super().prepare(model, device, **kwargs)
        return TcBackendRep(model, kwargs.get("target", "llvm"), kwargs.get("schedule_target"))

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"


prepare = TcBackend.prepare
run_model = TcBackend.run_model
supports_device = TcBackend.supports_device
