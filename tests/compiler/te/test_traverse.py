from tc.compiler import te
from tc.compiler.te.traverse import consumers, topo_order


def test_topo_order_producers_first_and_shared_once():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] + 1.0, "B")
    C = te.compute((4,), lambda i: B[i] * A[i], "C")
    D = te.compute((4,), lambda i: C[i] + B[i], "D")
    order = topo_order([D])
    assert [t.name for t in order] == ["A", "B", "C", "D"]
    cons = consumers([D])
    assert [t.name for t in cons[id(B)]] == ["C", "D"]
    assert [t.name for t in cons[id(A)]] == ["B", "C"]


def test_topo_order_respects_dependencies_in_any_read_order():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 2.0, "B")
    C = te.compute((4,), lambda i: B[i] + A[i], "C")  # reads B before A
    E1 = te.compute((4,), lambda i: C[i] + B[i], "E")
    order = [t.name for t in topo_order([E1, C])]
    for a, b in [("A", "B"), ("B", "C"), ("C", "E")]:
        assert order.index(a) < order.index(b)
    assert len(order) == 4
