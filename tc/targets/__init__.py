"""Targets and code generators: Target parsing/host detection, and the LLVM backend.

Importing this package initializes nothing in LLVM; that happens on first codegen.
"""
from .errors import CodegenError
from .llvm import LLVMArtifact, build_llvm
from .target import Target

__all__ = ["CodegenError", "LLVMArtifact", "Target", "build_llvm"]
