"""What real exports pass in and out: nested tuples and dicts of tensors (flattened in
torch's pytree order), keyword inputs, Python numbers (specialized at export), int64
index tensors, boolean masks, outputs named by their pytree path."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch frontend needs the [torch] extra "
                                           "(pip install -e '.[torch]')")
nn = torch.nn
pytree = torch.utils._pytree

import tc  # noqa: E402


def _run(module, example_inputs, call_inputs=None):
    """tc's flat outputs and eager's flattened outputs, on ``call_inputs`` (default: the
    example) flattened in pytree order."""
    compiled = tc.compile(module, example_inputs=example_inputs)
    call_inputs = example_inputs if call_inputs is None else call_inputs
    args, kwargs = ((), call_inputs) if isinstance(call_inputs, dict) else (call_inputs, {})
    flat = [t.numpy() for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    with torch.no_grad():
        want = pytree.tree_leaves(module.eval()(*args, **kwargs))
    return compiled, compiled.run(flat), [w.numpy() for w in want]


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 4)

    def forward(self, x, batch, scale: float, repeat: int):
        h = self.proj(x) * scale + batch["bias"]
        masked = torch.where(batch["mask"], h, torch.zeros_like(h))
        return {"hidden": h, "pair": (masked * repeat, batch["mask"]), "first": x[:, :2]}


def test_nested_inputs_and_outputs_flatten_in_pytree_order_with_path_names():
    torch.manual_seed(0)
    example = (torch.randn(3, 6), {"mask": torch.rand(3, 4) > 0.5, "bias": torch.randn(4)},
               0.5, 3)
    # new data through the compiled model, same structure; the scalars stay as exported
    call = (torch.randn(3, 6), {"mask": torch.rand(3, 4) > 0.5, "bias": torch.randn(4)},
            0.5, 3)
    compiled, got, want = _run(Nested(), example, call)
    assert [s.name for s in compiled.input_specs] == ["x", "batch_mask", "batch_bias"]
    assert [s.name for s in compiled.output_specs] == ["hidden", "pair.0", "pair.1", "first"]
    assert len(got) == len(want) == 4
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


class Tagger(nn.Module):
    """Token ids and a boolean padding mask in, per-token scores and the ids' row sums out."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids, pad):
        scores = self.head(self.embed(ids)).masked_fill(pad.unsqueeze(-1), -1.0)
        return scores, (ids * 2).sum(dim=1)


def test_int64_ids_and_a_boolean_mask_as_keyword_inputs():
    torch.manual_seed(1)
    inputs = {"ids": torch.randint(0, 50, (2, 7)), "pad": torch.rand(2, 7) > 0.6}
    compiled, got, want = _run(Tagger(), inputs)
    assert [(s.name, s.dtype) for s in compiled.input_specs] == [("ids", "int64"),
                                                               ("pad", "bool")]
    assert [s.name for s in compiled.output_specs] == ["output0", "output1"]
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[1], want[1])


class Twice(nn.Module):
    def forward(self, x):
        y = torch.relu(x)
        return y, y, x


def test_an_output_repeated_or_passed_through_from_an_input():
    x = torch.randn(4, 5)
    compiled, got, want = _run(Twice(), (x,))
    assert [s.name for s in compiled.output_specs] == ["output0", "output1", "output2"]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_a_single_tensor_example_and_output():
    x = torch.randn(3, 3)
    compiled = tc.compile(nn.Tanh(), example_inputs=x)
    assert [s.name for s in compiled.output_specs] == ["output"]
    np.testing.assert_allclose(compiled.run([x.numpy()])[0], torch.tanh(x).numpy(),
                               rtol=1e-5, atol=1e-6)


class Count(nn.Module):
    def forward(self, x):
        return x.sum(), x.shape[0]


def test_a_python_number_output_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="output1.*Python value 4.*tensor"):
        tc.compile(Count(), example_inputs=(torch.randn(4, 2),))


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls.add_(1)
        return x * self.calls


def test_a_model_updating_a_buffer_in_place_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="buffer mutation 'calls'.*pass it back in"):
        tc.compile(Counter(), example_inputs=(torch.randn(3),))
