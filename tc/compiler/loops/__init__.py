"""The loop IR (PrimFunc, For, Store, Load, Allocate, ...) and its passes."""
from .ir import (FOR_KINDS, PARALLEL, SERIAL, UNROLLED, VECTORIZED, Allocate, Buffer, For,
                 IfThenElse, LetStmt, Load, PrimFunc, Seq, Stmt, Store)

__all__ = [n for n in dir() if not n.startswith("_")]
