"""Subscripts (t[key], t[key] = value) and iteration, against PyTorch's on the same tensors."""
import numpy as np
import pytest
import torch

import hci

# Shape (5, 6, 7, 8): one of each kind of subscript, and mixtures of them. Lists stand for index
# tensors (int64, or bool where they hold bools); "mask" for a bool tensor over leading dims.
KEYS = [
    0, -1, 4, (1, 2), (1, -2, 3, -4),
    slice(None), slice(1, 4), slice(None, None, 2), slice(-3, None), slice(-100, 100), slice(4, 2), slice(2, 2),
    (slice(1, 4, 2), None, Ellipsis, slice(None, None, 3)), (Ellipsis, 1), (Ellipsis,), (None,), (None, 0, None),
    (0, Ellipsis, 0), (slice(None), 0, slice(1, 3)),
    [0, 2], [-1, 0, 0], [[0, 1], [2, 3]], [], ([0, 2], [1, 3]), ([[0], [1]], [1, 2, 3]),
    (slice(None), [0, 1], 0), ([0, 1], slice(None), 0), (0, slice(None), [0, 1]), ([0, 1], 0, [2, 3]),
    (slice(None), [0, 1], 0, [2, 3]), ([0, 1], slice(None), 0, [2, 3]), (0, [0, 1], slice(None), [1, 2]),
    ([0, 1], None, [1, 2]), (None, [0, 1], [1, 2]), (Ellipsis, [1, -1]), (slice(None), slice(None), [[1], [2]], [3]),
    [True, False, True, False, True], (slice(None), [True] * 6), "mask1", "mask2", ("mask2", [2]),
    (Ellipsis, "mask_last"), True, False, (1, True),
]


def reference(shape=(5, 6, 7, 8), dtype=torch.float32):
    t = torch.arange(np.prod(shape)).reshape(shape).to(dtype)
    return t, hci.from_dlpack(t.clone())


def to_hci(index):
    if isinstance(index, torch.Tensor):  # through uint8: torch 1.13 exports no bool
        return hci.from_dlpack(index.to(torch.uint8)).to(hci.bool) if index.dtype == torch.bool else \
            hci.from_dlpack(index.clone())
    return index


def keys_for(key, t):
    """The key for torch and for hci: lists become tensors, the mask names become masks of t."""
    masks = {"mask1": t[:, 0, 0, 0] > 50, "mask2": t[:, :, 0, 0] % 3 == 0, "mask_last": t[0, 0, 0] > 3}
    items = key if isinstance(key, tuple) else (key,)
    torch_items = []
    for item in items:
        if isinstance(item, str):
            item = masks[item]
        elif isinstance(item, list):
            item = torch.tensor(item, dtype=torch.int64 if not item or not isinstance(item[0], bool) else torch.bool)
        torch_items.append(item)
    hci_items = [to_hci(i) for i in torch_items]
    if not isinstance(key, tuple):
        return torch_items[0], hci_items[0]
    return tuple(torch_items), tuple(hci_items)


def check(h, t):
    assert h.shape == tuple(t.shape)
    np.testing.assert_array_equal(np.asarray(h), t.numpy())


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_getitem_matches_pytorch(key):
    t, h = reference()
    torch_key, hci_key = keys_for(key, t)
    check(h[hci_key], t[torch_key])


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_setitem_matches_pytorch(key):
    t, h = reference()
    torch_key, hci_key = keys_for(key, t)
    shape = t[torch_key].shape
    value = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    t[torch_key] = value
    h[hci_key] = hci.from_dlpack(value.clone())
    check(h, t)
    # A number, and a value broadcast along the leading dims (its last dim only, where it has one).
    t[torch_key] = -3.5
    h[hci_key] = -3.5
    check(h, t)
    if len(shape):
        row = torch.arange(shape[-1], dtype=torch.float32)
        t[torch_key] = row
        h[hci_key] = hci.from_dlpack(row.clone())
        check(h, t)


def test_views_share_memory_and_write_through():
    t, h = reference((4, 6))
    v = h[1:3, ::2]
    assert v.data_ptr() == h.data_ptr() + (6 + 0) * 4
    assert v.stride() == (6, 2)
    v.fill_(0)
    t[1:3, ::2] = 0
    check(h, t)
    h[:, -1] = hci.tensor([1.0, 2.0, 3.0, 4.0])  # a list-made value, set into a column
    t[:, -1] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    check(h, t)


def test_setitem_converts_and_broadcasts_like_pytorch():
    t, h = reference((3, 4), torch.int32)
    t[t > 5] = 0
    h[h > 5] = 0  # a full-shape mask and a number: masked_fill_
    check(h, t)
    t[[0, 2]] = torch.tensor([[7.9, 8, 9, 10]]).to(torch.int32)  # a leading 1 dropped
    h[[0, 2]] = hci.tensor([[7.9, 8, 9, 10]])  # float values converted as .to(int32) does
    check(h, t)
    t[1] = torch.tensor([[[1, 2, 3, 4]]])
    h[1] = hci.tensor([[[1, 2, 3, 4]]])
    check(h, t)
    t[[0, 0, 1], [1, 1, 2]] = torch.tensor([5, 6, 7], dtype=torch.int32)  # the last of repeats wins
    h[[0, 0, 1], [1, 1, 2]] = hci.tensor([5, 6, 7])
    check(h, t)


def test_numpy_indices_and_scalars():
    t, h = reference((5, 6))
    check(h[np.int64(2)], t[2])
    check(h[np.array([4, 0])], t[torch.tensor([4, 0])])
    check(h[np.array([True, False, True, False, False])], t[torch.tensor([True, False, True, False, False])])
    check(h[h[:, 0] > 10], t[t[:, 0] > 10])
    check(h[hci.tensor([1, 3], dtype=hci.int32)], t[torch.tensor([1, 3])])
    check(h[:, hci.arange(2)], t[:, torch.arange(2)])


def test_iteration_and_conversions():
    t, h = reference((3, 2))
    rows = list(h)
    assert len(rows) == 3
    for row, expected in zip(rows, t):
        check(row, expected)
    assert [float(x) for x in h[0]] == [0.0, 1.0]
    assert int(h[2, 1]) == 5 and bool(h[0, 0]) is False and float(h[1, 1]) == 3.0
    assert [10, 20, 30][hci.tensor(1)] == 20  # __index__
    assert hci.tensor([5]) and not hci.tensor([0])
    with pytest.raises(TypeError, match="0-d"):
        iter(h[0, 0])
    with pytest.raises(TypeError):
        [1, 2][hci.tensor(1.0)]
    with pytest.raises(hci.Error, match="elements"):
        bool(h)


@pytest.mark.parametrize("key, error, message", [
    (5, IndexError, "out of bounds"),
    (-6, IndexError, "out of bounds"),
    ((0, 0, 0), IndexError, "too many indices"),
    ((Ellipsis, 0, Ellipsis), IndexError, "single ellipsis"),
    ([5], IndexError, "out of bounds"),
    ([[0, -6]], IndexError, "out of bounds"),
    (([0, 1], [0, 1, 2]), IndexError, "broadcast"),
    ([1.5], IndexError, "integers or bool"),
    (slice(None, None, -1), ValueError, "step"),
    (slice(None, None, 0), ValueError, "step"),
    ([True, False], IndexError, "mask's shape"),
    ("x", IndexError, "not str"),
    ({0: 1}, IndexError, "not dict"),
])
def test_bad_subscripts_raise(key, error, message):
    _, h = reference((5, 6))
    with pytest.raises(error, match=message):
        h[key]
    with pytest.raises(error, match=message):
        h[key] = 1.0


def test_uint8_index_is_refused_as_ambiguous():
    _, h = reference((5, 6))
    with pytest.raises(IndexError, match="uint8"):
        h[hci.tensor([1, 0], dtype=hci.uint8)]


def test_setitem_refuses_values_that_do_not_broadcast():
    _, h = reference((5, 6))
    with pytest.raises(hci.Error):
        h[0] = hci.zeros(5)
    with pytest.raises(hci.Error):
        h[[0, 1]] = hci.zeros(3, 6)


def test_keys_pytorch_reads_as_tuples_and_numpy_masks():
    t, h = reference((3, 4, 5))
    check(h[[[0, 1], [1, 2]]], t[[[0, 1], [1, 2]]])  # a list of lists is a tuple of index lists
    check(h[[0, slice(1, 3)]], t[[0, slice(1, 3)]])
    check(h[np.array(True)], t[torch.tensor(True)])  # a 0-dim bool array is a mask, not the int 1
    check(h[np.array(2)], t[2])


def test_written_values_keep_the_destinations_precision():
    t = torch.zeros(3, dtype=torch.float64)
    h = hci.zeros(3, dtype=hci.float64)
    t[:] = torch.tensor([0.1, 1 + 1e-12, 3.0], dtype=torch.float64)
    h[:] = [0.1, 1 + 1e-12, 3.0]
    check(h, t)
    h.zero_()
    h[[0, 1, 2]] = [0.1, 1 + 1e-12, 3.0]
    check(h, t)
    h.zero_().copy_(torch.tensor([0.1, 1 + 1e-12, 3.0], dtype=torch.float64))
    check(h, t)
