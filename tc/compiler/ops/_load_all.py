"""Imports every op family module of this package, so that each registers its ops once.

A new family needs no edit here: any module of ``tc.compiler.ops`` is imported.
"""
import importlib
import pkgutil

from . import __name__ as _package, __path__ as _path

for _module in pkgutil.iter_modules(_path):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{_package}.{_module.name}")
