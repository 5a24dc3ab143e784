"""The graph IR: Graph, Node, Value, TensorType; builder, printer, verifier."""
from .ir import DTYPES, Graph, Node, TensorType, Value
from .builder import GraphBuilder
from .printer import print_graph
from .verifier import GraphError, verify

__all__ = ["DTYPES", "Graph", "GraphBuilder", "GraphError", "Node", "TensorType", "Value",
           "print_graph", "verify"]
