"""The pass manager runs passes in order, records node counts and dumps IR text."""
from tc.compiler.graph import GraphBuilder, verify
from tc.compiler.passes.manager import run_passes


def _graph():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3), "float32")
    y, = b.op("Relu", [x])
    z, = b.op("Relu", [y])
    return b.build([z])


def _drop_last_node(g):
    from dataclasses import replace

    return replace(g, nodes=g.nodes[:-1], outputs=(g.nodes[-2].outputs[0],))


def test_records_and_dump(tmp_path):
    g = _graph()
    out, records = run_passes(g, [("drop", _drop_last_node)], dump_dir=tmp_path, verify_each=True)
    verify(out)
    assert [(r.name, r.nodes_before, r.nodes_after) for r in records] == [("drop", 2, 1)]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["00_input.txt", "01_drop.txt"]
    assert (tmp_path / "00_input.txt").read_text().count("Relu(") == 2
    assert (tmp_path / "01_drop.txt").read_text().count("Relu(") == 1


def test_a_pass_that_breaks_the_graph_is_named():
    import pytest
    from dataclasses import replace

    from tc.compiler.graph import GraphError

    def drop_first_node(g):  # leaves the second Relu reading an undefined value
        return replace(g, nodes=g.nodes[1:])

    with pytest.raises(GraphError, match="pass 'drop_first' broke the graph"):
        run_passes(_graph(), [("drop_first", drop_first_node)], verify_each=True)
