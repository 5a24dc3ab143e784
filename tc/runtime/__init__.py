"""The tc runtime: load a compiled artifact and run it (``load``, ``Module``).

The C side (thread pool, errors, aligned allocation, the model ABI) lives in ``c/`` and
is linked into every artifact; ``toolchain`` builds it. Importing this package compiles
nothing and starts no threads.
"""
from tc.runtime.cuda import CudaError
from tc.runtime.module import ArtifactError, Module, load

__all__ = ["ArtifactError", "CudaError", "Module", "load"]
