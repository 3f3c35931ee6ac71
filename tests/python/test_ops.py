"""hci's ops from Python against PyTorch's on the same inputs."""
import numpy as np
import pytest
import torch

import hci


def both(shape, seed, dtype=torch.float32):
    t = torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return hci.from_dlpack(t.clone()), t


def check(h, t, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(h.numpy(), t.numpy(), rtol=rtol, atol=atol)
    assert h.shape == tuple(t.shape)


def test_arithmetic_with_broadcasting_and_numbers():
    (a, ta), (b, tb) = both((3, 4), 1), both((4,), 2)
    check(a + b, ta + tb)
    check(a * b - 2, ta * tb - 2)
    check(1.5 / (a * a + 1), 1.5 / (ta * ta + 1))
    check((a ** 2) - a, (ta ** 2) - ta)
    check(-a, -ta)
    assert (a > b).dtype == hci.bool
    np.testing.assert_array_equal((a > b).numpy(), (ta > tb).numpy())  # NumPy 1.24 takes no bool: a copy
    assert (a > b).tolist() == (ta > tb).tolist()


def test_promotion_follows_pytorch():
    i = hci.arange(4, dtype=hci.int32)
    assert (i + 1).dtype == hci.int32
    assert (i + 1.5).dtype == hci.float32
    assert (i / 2).dtype == hci.float32
    assert (hci.ones(2, dtype=hci.float16) + hci.ones(2, dtype=hci.float64)).dtype == hci.float64


@pytest.mark.parametrize("name", ["exp", "log1p", "tanh", "sigmoid", "erf", "relu", "gelu", "sin", "sqrt", "abs"])
def test_elementwise_functions(name):
    h, t = both((64,), 3)
    if name in ("log1p", "sqrt"):
        h, t = h.abs(), t.abs()
    reference = torch.nn.functional.gelu if name == "gelu" else getattr(torch, name)
    check(getattr(hci, name)(h), reference(t), rtol=2e-6, atol=1e-6)


def test_reductions_softmax_matmul():
    h, t = both((5, 6, 7), 4)
    check(h.sum(), t.sum(), rtol=1e-5)
    check(h.sum(1), t.sum(1), rtol=1e-5)
    check(h.mean((0, 2), keepdim=True), t.mean((0, 2), keepdim=True), rtol=1e-5)
    check(h.amax(-1), t.amax(-1))
    check(h.var(2), t.var(2), rtol=1e-5)
    check(h.softmax(-1), torch.softmax(t, -1))
    check(hci.softmax(h, 0), torch.softmax(t, 0))
    assert h.argmax().item() == t.argmax().item()
    (a, ta), (b, tb) = both((32, 48), 5), both((48, 16), 6)
    check(a @ b, ta @ tb, rtol=1e-5, atol=1e-5)
    (a, ta), (b, tb) = both((4, 8, 3), 7, torch.float64), both((4, 3, 5), 8, torch.float64)
    check(hci.matmul(a, b), torch.matmul(ta, tb), rtol=1e-12)


def test_views_items_and_printing():
    h = hci.arange(24).reshape(2, 3, 4)
    t = torch.arange(24).reshape(2, 3, 4)
    check(h.permute(2, 0, 1), t.permute(2, 0, 1))
    check(h.transpose(0, 2), t.transpose(0, 2))
    check(h[1], t[1])
    check(h.slice(2, 1, 4, 2), t[:, :, 1:4:2])
    check(h.narrow(1, 1, 2).unsqueeze(0), t.narrow(1, 1, 2).unsqueeze(0))
    assert h[1].sum().item() == t[1].sum().item() and isinstance(h.sum().item(), int)
    assert h.to(hci.float32).mean().item() == pytest.approx(11.5)
    assert h.tolist() == t.tolist()
    assert repr(hci.tensor([1.5, 2.0])) == repr(torch.tensor([1.5, 2.0]))
    assert hci.zeros(2, 3).shape == (2, 3) and hci.full((2,), 7).tolist() == [7.0, 7.0]


def test_in_place_and_factories():
    h = hci.zeros(3)
    h.add_(2).mul_(hci.tensor([1.0, 2.0, 3.0]))
    assert h.tolist() == [2.0, 4.0, 6.0]
    hci.manual_seed(0)
    a = hci.rand(1000)
    assert 0 <= a.amin().item() and a.amax().item() < 1
    hci.manual_seed(0)
    assert hci.rand(1000).equal(a)
    assert hci.randn(10000).mean().item() == pytest.approx(0, abs=0.05)


def test_bad_input_is_an_error():
    with pytest.raises(hci.Error, match="broadcast"):
        hci.zeros(3) + hci.zeros(4)
    with pytest.raises(hci.Error):
        hci.zeros(2, 3) @ hci.zeros(2, 3)
    with pytest.raises(hci.Error):
        hci.zeros(2).to("cuda:7")
    with pytest.raises(TypeError):
        hci.zeros(2) + "a"
    with pytest.raises(hci.Error, match="one"):
        hci.zeros(2).item()


def test_tensor_from_python_data():
    assert hci.tensor([1.5, 2]).dtype == hci.float32 and hci.tensor([1, 2]).dtype == hci.int64
    assert hci.tensor([True, False]).tolist() == [True, False] and hci.tensor([True]).dtype == hci.bool
    assert hci.tensor([1, 2], dtype=hci.bfloat16).dtype == hci.bfloat16
    assert hci.tensor(np.arange(3, dtype=np.float64)).dtype == hci.float64
    assert hci.tensor(2.5).shape == () and hci.tensor(True).shape == () and hci.tensor([[1], [2]]).shape == (2, 1)
    assert hci.tensor(np.asfortranarray(np.ones((2, 3)))).stride() == (3, 1)  # made contiguous
    with pytest.raises(TypeError, match="no tensor holds"):
        hci.tensor(["a", "b"])


def test_binary_functions_with_numbers_on_either_side():
    (a, ta), (b, tb) = both((3, 4), 11), both((4,), 12)
    for name in ("add", "sub", "mul", "div", "maximum", "minimum", "fmod", "remainder", "eq", "lt", "ge"):
        check(getattr(hci, name)(a, b), getattr(torch, name)(ta, tb))
        check(getattr(a, name)(1.5), getattr(ta, name)(torch.tensor(1.5)))
    check(hci.pow(2, a), torch.pow(2, ta), rtol=1e-6)
    check(a % 0.75, ta % 0.75, rtol=1e-5, atol=1e-6)
    check(2.5 % (b.abs() + 1), 2.5 % (tb.abs() + 1), rtol=1e-5)
    check(2 ** a, 2 ** ta, rtol=1e-6)
    i = hci.arange(-5, 5)
    check(i % 3, torch.arange(-5, 5) % 3)
    assert (i % 3).dtype == hci.int64


def test_logical_operators_on_masks():
    h, t = both((20,), 13)
    check((h > 0) & (h < 1), (t > 0) & (t < 1))
    check((h > 1) | (h < -1), (t > 1) | (t < -1))
    check((h > 0) ^ (h > 0.5), (t > 0) ^ (t > 0.5))
    check(~(h > 0), ~(t > 0))
    check((h > 0) & True, (t > 0) & True)
    check(False | (h > 0), False | (t > 0))
    with pytest.raises(TypeError, match="bitwise"):
        hci.arange(3) & hci.arange(3)
    with pytest.raises(TypeError, match="bitwise"):
        ~hci.arange(3)


def test_in_place_operators_write_into_the_same_tensor():
    h, t = both((3, 4), 14)
    alias, view = h, h[0]
    h += 1
    h *= hci.tensor([1.0, 2.0, 3.0, 4.0])
    h -= 0.5
    h /= 4
    t = (t + 1) * torch.tensor([1.0, 2.0, 3.0, 4.0])
    t = (t - 0.5) / 4
    assert h is alias
    check(h, t)
    check(view, t[0])
    h.exp_().clamp_(max=1.5).zero_()
    assert h.sum().item() == 0.0 and h is alias
    assert h.sub_(1) is alias and h.maximum_(hci.zeros(4)) is alias
    assert h.tolist() == [[0.0] * 4] * 3


def test_reductions_and_scans():
    h, t = both((4, 5, 6), 15)
    check(h.prod(1), t.prod(1), rtol=1e-5)
    check(h.std((0, 2), keepdim=True), t.std((0, 2), keepdim=True), rtol=1e-5)
    check(h.std(correction=0), t.std(unbiased=False), rtol=1e-5)
    check(h.norm(), t.norm(), rtol=1e-5)
    check(h.norm(1, dim=2), t.norm(1, dim=2), rtol=1e-5)
    check(h.cumsum(1), t.cumsum(1), rtol=1e-5, atol=1e-5)
    check(h.argmin(2), t.argmin(2))
    check(h.amin((0, 1)), t.amin((0, 1)))
    check((h > 0).all(2), (t > 0).all(2))
    check((h > 2).any(), (t > 2).any())
    check(hci.sum(h, 0), torch.sum(t, 0), rtol=1e-5)
    check(hci.log_softmax(h, -1), torch.log_softmax(t, -1), rtol=1e-5, atol=1e-6)


def test_joins_and_splits():
    (a, ta), (b, tb) = both((2, 3), 16), both((2, 3), 17)
    check(hci.cat([a, b]), torch.cat([ta, tb]))
    check(hci.cat([a, b], dim=1), torch.cat([ta, tb], 1))
    check(hci.stack([a, b], dim=-1), torch.stack([ta, tb], -1))
    h, t = both((6, 4), 18)
    for got, want in zip(h.chunk(3, 0), t.chunk(3, 0)):
        check(got, want)
    for got, want in zip(h.split(3, 1), t.split(3, 1)):
        check(got, want)
    check(h.flatten(), t.flatten())
    check(h[:, :1].expand(6, 5), t[:, :1].expand(6, 5))
    check(h.t(), t.t())


def test_indexing_ops_and_sorting():
    h, t = both((5, 6), 19)
    index = torch.tensor([4, 0, 0, 2])
    check(h.index_select(0, index.tolist()), t.index_select(0, index))
    check(hci.index_select(h, 1, hci.from_dlpack(index)), t.index_select(1, index))
    gather_index = torch.randint(0, 6, (5, 3), generator=torch.Generator().manual_seed(0))
    check(h.gather(1, gather_index.tolist()), t.gather(1, gather_index))
    mask = t > 0.5
    check(h.masked_fill(h > 0.5, -1.0), t.masked_fill(mask, -1.0))
    src = torch.ones(2, 6)
    check(h.scatter_add(0, [[1] * 6, [3] * 6], hci.from_dlpack(src.clone())),
          t.scatter_add(0, torch.tensor([[1] * 6, [3] * 6]), src))
    check(h.index_put(([0, 4], [1, 1]), hci.tensor([7.0, 8.0]), accumulate=True),
          t.index_put((torch.tensor([0, 4]), torch.tensor([1, 1])), torch.tensor([7.0, 8.0]), accumulate=True))
    check((h > 0.5).nonzero(), mask.nonzero())
    check(hci.nonzero(h > 0.5), torch.nonzero(mask))
    values, indices = h.sort(1, descending=True)
    check(values, t.sort(1, descending=True).values)
    check(indices, t.sort(1, descending=True).indices)
    check(h.argsort(0), t.argsort(0))
    top = hci.topk(h, 2, dim=0, largest=False)
    assert top.values.shape == (2, 6)
    check(top.values, t.topk(2, 0, largest=False).values)
    check(top.indices, t.topk(2, 0, largest=False).indices)


def test_where_and_clamp_with_numbers_and_tensors():
    h, t = both((4, 5), 20)
    check(hci.where(h > 0, h, 0.0), torch.where(t > 0, t, torch.tensor(0.0)))
    check(hci.where(h > 0, 1, -1), torch.where(t > 0, 1, -1))
    check(h.where(h > 0, 2.5), t.where(t > 0, torch.tensor(2.5)))
    check(h.clamp(-0.5, 0.5), t.clamp(-0.5, 0.5))
    check(hci.clamp(h, min=0), torch.clamp(t, min=0))
    check(h.clamp_max(0.25), t.clamp_max(0.25))
    low = torch.full((5,), -0.1)
    check(h.clamp(min=hci.from_dlpack(low.clone()), max=1), t.clamp(min=low, max=torch.tensor(1.0)))


def test_factories():
    assert hci.arange(2, 11, 3).tolist() == [2, 5, 8]
    assert hci.arange(0.5, 2).tolist() == [0.5, 1.5] and hci.arange(0.5, 2).dtype == hci.float32
    assert hci.arange(4, dtype=hci.float64).dtype == hci.float64
    check(hci.linspace(-1, 1, 5), torch.linspace(-1, 1, 5))
    check(hci.eye(3, 4, dtype=hci.int32), torch.eye(3, 4, dtype=torch.int32))
    h = hci.arange(6, dtype=hci.int16).reshape(2, 3)
    for made, value in ((hci.zeros_like(h), 0), (hci.ones_like(h), 1), (hci.full_like(h, 4), 4)):
        assert made.dtype == hci.int16 and made.shape == (2, 3) and made.tolist() == [[value] * 3] * 2
    assert hci.empty(2, 0).shape == (2, 0) and hci.empty_like(h, dtype=hci.bool).dtype == hci.bool
    assert np.asarray(h).dtype == np.int16 and np.asarray(h, dtype=np.float32).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_operators_give_other_types_their_turn():
    class Other:
        def __radd__(self, tensor):
            return "Other.__radd__"

    assert hci.zeros(2) + Other() == "Other.__radd__"
    with pytest.raises(TypeError):
        hci.zeros(2) * "a"
    with pytest.raises(TypeError, match="expected a Tensor, bool, int or float"):
        hci.zeros(2).maximum("a")
    assert len({hci.zeros(1), hci.zeros(1)}) == 2  # hashed by identity, as PyTorch's


def test_numpy_scalars_are_numbers():
    h = hci.arange(4, dtype=hci.float32)
    for number in (np.int64(2), np.float32(2), np.float64(2), np.int32(2)):
        assert isinstance(h * number, hci.Tensor) and (h * number).tolist() == [0.0, 2.0, 4.0, 6.0]
    assert (number + h).tolist() == [2.0, 3.0, 4.0, 5.0]
    assert hci.full((2,), np.float32(2.5)).tolist() == [2.5, 2.5] and h.add(np.int64(1)).tolist() == [1, 2, 3, 4]
    assert isinstance(h > np.float32(1), hci.Tensor)


def test_numbers_out_of_range_and_conversions():
    with pytest.raises(OverflowError, match="int64"):
        hci.arange(3) + 2**70
    with pytest.raises(OverflowError):
        hci.zeros(3)[2**70]
    with pytest.raises(ValueError):
        int(hci.tensor(float("nan")))
    assert int(hci.tensor(1e30, dtype=hci.float64)) == int(1e30) and int(hci.tensor(-2.7)) == -2
    assert hci.tensor([0.1], dtype=hci.float64).item() == 0.1
    assert hci.tensor(torch.tensor([0.1], dtype=torch.float64)).dtype == hci.float64
    assert hci.tensor(hci.tensor([0.1], dtype=hci.float64) + 0.1).dtype == hci.float64


def test_pytorch_defaults_for_full_linspace_and_T():
    assert hci.full((2,), 3).dtype == hci.int64 and hci.full((2,), True).dtype == hci.bool
    assert hci.full((2,), 2.5).dtype == hci.float32
    assert hci.linspace(0, 1, 1).tolist() == torch.linspace(0, 1, 1).tolist() == [0.0]
    h = hci.arange(24).reshape(2, 3, 4)
    check(h.T, torch.arange(24).reshape(2, 3, 4).permute(2, 1, 0))
    assert h.T.shape == (4, 3, 2) and hci.arange(3).T.shape == (3,)


def test_clamp_bounds_promote_as_numbers():
    x = hci.tensor([-3, 0, 3, 4])
    assert x.clamp(hci.tensor([-0.5]), 2.5).tolist() == [-0.5, 0.0, 2.5, 2.5]
    assert x.clamp(-1, 2.5).tolist() == [-1.0, 0.0, 2.5, 2.5]
    assert x.clamp(hci.tensor([-1]), 2).tolist() == [-1, 0, 2, 2] and x.clamp(hci.tensor([-1]), 2).dtype == hci.int64
