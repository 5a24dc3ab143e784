"""One module per op family; each registers its ops in ``registry``."""
from .registry import OpDef, OpNotRegistered, OpPattern, lookup_op, register_op, registered_ops

__all__ = ["OpDef", "OpNotRegistered", "OpPattern", "lookup_op", "register_op", "registered_ops"]
