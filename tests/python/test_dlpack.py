"""DLPack between hci and the installed PyTorch and NumPy: zero copy both ways (the same data
pointer), lifetime, dtypes, strides, read-only memory, versions and capsule rules. What these
consumers cannot exchange (the versioned protocol, read-only flags, other versions) is tested with
capsules hci builds itself (hci._hci._testing_capsule)."""
import gc

import numpy as np
import pytest
import torch

import hci
from hci import _hci

TORCH_DTYPES = {torch.bool: hci.bool, torch.uint8: hci.uint8, torch.int8: hci.int8, torch.int16: hci.int16,
                torch.int32: hci.int32, torch.int64: hci.int64, torch.float16: hci.float16,
                torch.bfloat16: hci.bfloat16, torch.float32: hci.float32, torch.float64: hci.float64}


def test_torch_to_hci_shares_memory():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    h = hci.from_dlpack(t)
    assert h.data_ptr() == t.data_ptr()
    assert h.shape == (3, 4) and h.dtype == hci.float32
    t[1, 2] = 42  # written through PyTorch, seen by hci
    assert h.select(0, 1).select(0, 2).item() == 42


def test_hci_to_torch_shares_memory():
    h = hci.arange(10, dtype=hci.int32) * 3
    t = torch.from_dlpack(h)
    assert t.data_ptr() == h.data_ptr()
    assert t.tolist() == [3 * i for i in range(10)]


def test_round_trip_torch_hci_torch_is_the_same_memory():
    t = torch.zeros(5, dtype=torch.float64)
    back = torch.from_dlpack(hci.from_dlpack(t))
    assert back.data_ptr() == t.data_ptr()
    back[3] = 7.5
    assert t[3].item() == 7.5


def test_the_producer_dropped_keeps_the_data_alive():
    h = hci.from_dlpack(torch.arange(1000, dtype=torch.int64))
    gc.collect()
    assert h.sum().item() == sum(range(1000))
    t = torch.from_dlpack(hci.arange(100) + 1)  # hci's own tensor gone with the expression
    gc.collect()
    assert t.sum().item() == 5050


@pytest.mark.parametrize("torch_dtype", list(TORCH_DTYPES))
def test_every_dtype_pytorch_exchanges(torch_dtype):
    source = (torch.arange(24) % 5).to(torch_dtype).reshape(2, 3, 4)
    try:
        h = hci.from_dlpack(source)
    except (BufferError, RuntimeError, TypeError) as e:  # PyTorch cannot export this dtype
        pytest.skip(f"PyTorch {torch.__version__} does not export {torch_dtype}: {e}")
    assert h.dtype == TORCH_DTYPES[torch_dtype]
    assert h.data_ptr() == source.data_ptr()
    assert (h.to(hci.float64).sum().item()) == source.to(torch.float64).sum().item()
    back = torch.from_dlpack(h)
    assert back.dtype == torch_dtype and torch.equal(back, source)


@pytest.mark.parametrize("np_dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                      "float64"])
def test_every_dtype_numpy_exchanges(np_dtype):
    a = (np.arange(12) % 3).astype(np_dtype).reshape(3, 4)
    try:
        h = hci.from_dlpack(a)
    except BufferError as e:  # NumPy cannot export this dtype
        pytest.skip(f"NumPy {np.__version__} does not export {np_dtype}: {e}")
    assert h.data_ptr() == a.ctypes.data
    back = np.from_dlpack(h)
    assert back.dtype == a.dtype and back.ctypes.data == a.ctypes.data
    np.testing.assert_array_equal(back, a)


def test_numpy_round_trip_and_numpy_method():
    h = hci.arange(6, dtype=hci.float32).reshape(2, 3)
    a = h.numpy()
    assert a.ctypes.data == h.data_ptr()
    np.testing.assert_array_equal(a, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_non_contiguous_strides_cross_both_ways():
    t = torch.arange(48, dtype=torch.float32).reshape(6, 8)[1:, ::2].t()  # strides (2, 8), offset 8
    h = hci.from_dlpack(t)
    assert h.shape == tuple(t.shape) and h.stride() == t.stride() and not h.is_contiguous()
    assert h.data_ptr() == t.data_ptr()
    np.testing.assert_array_equal(h.numpy(), t.numpy())
    back = torch.from_dlpack(h)
    assert back.stride() == t.stride() and back.data_ptr() == t.data_ptr()
    a = np.arange(30, dtype=np.int16).reshape(5, 6)[::2, 1::3]
    h = hci.from_dlpack(a)
    assert h.stride() == tuple(s // a.itemsize for s in a.strides)
    np.testing.assert_array_equal(h.numpy(), a)


def test_read_only_memory_is_refused_for_writing():
    a = np.arange(4, dtype=np.float32)
    a.setflags(write=False)
    with pytest.raises(BufferError):  # NumPy exports no read-only array through DLPack
        hci.from_dlpack(a)
    capsule = _hci._testing_capsule(np.arange(4, dtype=np.float32).tobytes(), "float32", [4], [1], read_only=True)
    h = hci.from_dlpack(capsule)
    assert h.sum().item() == 6  # read: fine
    with pytest.raises(hci.Error, match="read-only"):
        h.add_(1)
    with pytest.raises(hci.Error, match="read-only"):
        h.fill_(0)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                                   "float32", "float64"])
def test_versioned_capsules_of_every_dtype(dtype):
    values = np.array([0, 1, 2, 3, 4, 5]).astype("float32" if dtype == "bfloat16" else dtype)
    data = values.tobytes() if dtype != "bfloat16" else (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    h = hci.from_dlpack(_hci._testing_capsule(data, dtype, [2, 3], [3, 1], major=1, minor=0))
    assert h.dtype == getattr(hci, dtype) and h.shape == (2, 3)
    assert h.to(hci.float64).sum().item() == values.astype(np.float64).sum()


def test_versions_hci_cannot_read_are_refused():
    capsule = _hci._testing_capsule(b"\0" * 4, "float32", [1], [1], major=2, minor=0)
    with pytest.raises(hci.Error, match="version 2.0"):
        hci.from_dlpack(capsule)


def test_dlpack_protocol_forms():
    h = hci.arange(4, dtype=hci.float32)
    assert h.__dlpack_device__() == (1, 0)
    versioned = h.__dlpack__(max_version=(1, 1))
    legacy = h.__dlpack__()
    assert "dltensor_versioned" in repr(versioned) and "dltensor" in repr(legacy)
    assert hci.from_dlpack(versioned).data_ptr() == h.data_ptr()
    assert hci.from_dlpack(legacy).data_ptr() == h.data_ptr()
    with pytest.raises(ValueError, match="consumed already"):
        hci.from_dlpack(versioned)  # a capsule is taken once
    assert hci.from_dlpack(h.__dlpack__(copy=True)).data_ptr() != h.data_ptr()
    with pytest.raises(BufferError):
        h.__dlpack__(stream=1)  # a CPU tensor takes no stream
    assert hci.from_dlpack(h, copy=True).data_ptr() != h.data_ptr()
    del legacy, versioned  # capsules never consumed release their tensor


def test_a_producer_without_max_version_is_asked_again():
    class OldProducer:  # __dlpack__ as before the versioned protocol
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, stream=None):
            return self.t.__dlpack__()

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    t = torch.arange(5, dtype=torch.int32)
    assert hci.from_dlpack(OldProducer(t)).data_ptr() == t.data_ptr()
    with pytest.raises(TypeError, match="no __dlpack__"):
        hci.from_dlpack([1, 2, 3])
