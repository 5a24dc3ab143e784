"""Indexing with tensors (embedding, gather, index_select, advanced indexing), comparisons,
logical and bitwise ops, where and masked_fill, casts and tensor creation, each against
PyTorch eager on random data."""
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch frontend needs the [torch] extra "
                                           "(pip install -e '.[torch]')")
nn = torch.nn

from .torch_models import assert_matches_eager  # noqa: E402


def _check(fn, *inputs):
    assert_matches_eager(fn, *inputs, rtol=1e-5, atol=1e-6)


def _ints(high, *shape, low=0):
    return torch.randint(low, high, shape)


ADVANCED_INDEXING = {
    "first dim": (lambda x, i, j: x[i], (5, 6, 7)),
    "middle dim": (lambda x, i, j: x[:, i], (5, 6, 7)),
    "two adjacent, broadcast": (lambda x, i, j: x[:, i[:, None], j[None, :]], (5, 6, 7)),
    "two apart": (lambda x, i, j: x[i, :, j], (5, 6, 7)),
    "last dim": (lambda x, i, j: x[..., j], (5, 6, 7)),
}


@pytest.mark.parametrize("case", ADVANCED_INDEXING)
def test_advanced_indexing(case):
    fn, shape = ADVANCED_INDEXING[case]
    torch.manual_seed(0)
    # negative indices count from the end, as in torch
    _check(fn, torch.randn(shape), _ints(5, 4, low=-5), _ints(5, 4, low=-5))


def test_embedding_index_select_and_gather():
    torch.manual_seed(1)
    table = nn.Embedding(30, 6)

    def fn(ids, x, index):
        return table(ids), torch.index_select(x, 1, ids[0]), torch.gather(x, 1, index)

    _check(fn, _ints(30, 2, 5), torch.randn(4, 30), _ints(30, 4, 3))


def test_comparisons_promote_like_torch():
    torch.manual_seed(2)

    def fn(x, n):
        # n >= 0.5 compares in float (an int64 tensor against 0.5)
        return (x > 0.1, x <= n, n >= 0.5, n != 2, x == torch.relu(x), n.eq(3))

    _check(fn, torch.randn(6), _ints(4, 6))


def test_logical_bitwise_where_masked_fill():
    torch.manual_seed(3)

    def fn(a, b, m, x):
        both = torch.logical_and(m, x > 0) | ~m
        return (a & b, a | 3, a ^ b, ~a, both, torch.logical_xor(m, x < 0),
                torch.where(m, x, 0.0), torch.where(m, 1.0, x), x.masked_fill(~m, -2.0))

    _check(fn, _ints(16, 5), _ints(16, 5), torch.rand(5) > 0.5, torch.randn(5))


def test_casts_and_created_tensors():
    torch.manual_seed(4)

    def fn(x, n):
        ramp = torch.arange(2, 14, 3, dtype=torch.float32)
        return (x.to(torch.int32), n.float() * 0.5, (x > 0).long() + n,
                x + torch.full((4,), 2.5) + torch.ones_like(x), ramp * x,
                torch.zeros(2, 4, dtype=torch.int64) + n, torch.arange(4) * n)

    _check(fn, torch.randn(4) * 5, _ints(9, 4))
