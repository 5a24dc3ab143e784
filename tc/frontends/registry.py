"""The converter tables of the frontends: one decorator factory serves each of them."""
from __future__ import annotations

from typing import Callable


def converter_decorator(table: dict[str, Callable]):
    """A ``converter(*names)`` decorator registering its function in ``table`` under
    every name given."""
    def converter(*names: str):
        def register(fn):
            for name in names:
                table[name] = fn
            return fn
        return register
    return converter
