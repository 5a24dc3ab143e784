"""Errors raised by code generators."""


class CodegenError(Exception):
    """A PrimFunc could not be turned into code; the message names the function."""


def check_unique_names(funcs) -> None:
    """Raise CodegenError when two PrimFuncs share a name (one object defines them all)."""
    names = [f.name for f in funcs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise CodegenError(f"function names must be unique; repeated: {sorted(dup)}")
