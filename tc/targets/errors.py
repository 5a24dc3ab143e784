"""Errors raised by code generators."""
from contextlib import contextmanager


class CodegenError(Exception):
    """A PrimFunc could not be turned into code; the message names the function."""


def check_unique_names(funcs) -> None:
    """Raise CodegenError when two PrimFuncs share a name (one object defines them all)."""
    names = [f.name for f in funcs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise CodegenError(f"function names must be unique; repeated: {sorted(dup)}")


@contextmanager
def compiling(func, generator: str):
    """Run the code generation of ``func`` (a PrimFunc, checked here) so that any error
    names it: a CodegenError gets the function's name, any other exception (a bug in
    tc) becomes a CodegenError that says so.  ``generator`` names the caller
    ("emit_c") in the type error."""
    from ..compiler.loops.ir import PrimFunc

    if not isinstance(func, PrimFunc):
        raise TypeError(f"{generator} takes PrimFuncs, got {type(func).__name__}")
    try:
        yield
    except CodegenError as e:
        raise CodegenError(f"cannot compile {func.name}: {e}") from None
    except Exception as e:
        raise CodegenError(f"cannot compile {func.name}: internal code generator error "
                           f"({type(e).__name__}: {e}); please report it with the PrimFunc"
                           ) from e
