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
