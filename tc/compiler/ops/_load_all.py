"""Imports every op family module so that each registers its ops once."""
from . import conv, elementwise, linalg, nn, pad, pool, shape  # noqa: F401
