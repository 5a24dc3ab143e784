"""Errors raised by code generators."""


class CodegenError(Exception):
    """A PrimFunc could not be turned into code; the message names the function."""
