"""The versioned DLPack protocol (1.x) against a real producer and consumer: NumPy 2.1 or newer,
which asks for and makes versioned capsules, flags read-only memory and takes bool. scripts/test.sh
runs this file in build/venv-numpy2, which has NumPy from PyPI; Debian's NumPy is older."""
import numpy as np
import pytest

import hci

pytestmark = pytest.mark.skipif(tuple(int(v) for v in np.__version__.split(".")[:2]) < (2, 1),
                                reason=f"needs NumPy 2.1 or newer (the versioned protocol), not {np.__version__}: "
                                       "scripts/test.sh runs it in build/venv-numpy2")

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]


def address(array):
    return array.__array_interface__["data"][0]


def test_numpy_makes_versioned_capsules_for_hci():
    a = np.arange(6.0).reshape(2, 3)
    assert '"dltensor_versioned"' in repr(a.__dlpack__(max_version=(1, 1)))
    t = hci.from_dlpack(a)  # asks with max_version=(1, 1)
    assert t.data_ptr() == address(a) and t.shape == (2, 3)
    a[0, 0] = 42
    assert t[0, 0].item() == 42


def test_hci_gives_numpy_versioned_capsules():
    t = hci.arange(6, dtype=hci.float32).reshape(2, 3)
    assert '"dltensor_versioned"' in repr(t.__dlpack__(max_version=(1, 0)))
    a = np.from_dlpack(t)
    assert address(a) == t.data_ptr() and a.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_dtype_both_ways_without_a_copy(dtype):
    a = (np.arange(12) % 3).astype(dtype).reshape(3, 4)[:, 1::2]  # strided, with an offset
    t = hci.from_dlpack(a)
    assert t.data_ptr() == address(a) and t.stride() == (4, 2)
    b = np.from_dlpack(t)
    assert address(b) == address(a) and b.dtype == a.dtype
    np.testing.assert_array_equal(b, a)


def test_read_only_arrays_are_read_but_not_written():
    a = np.arange(3.0)
    a.flags.writeable = False
    t = hci.from_dlpack(a)
    assert t.data_ptr() == address(a) and (t * 2).tolist() == [0.0, 2.0, 4.0]
    with pytest.raises(hci.Error, match="read-only"):
        t.add_(1)
    with pytest.raises(hci.Error, match="read-only"):
        t[0] = 5.0


def test_numpys_copy_and_device_requests():
    t = hci.tensor([1.0, 2.0])
    copied = np.from_dlpack(t, copy=True)
    assert address(copied) != t.data_ptr() and copied.tolist() == [1.0, 2.0]
    assert address(np.from_dlpack(t, copy=False)) == t.data_ptr()
    assert address(np.from_dlpack(t, device="cpu")) == t.data_ptr()
    a = np.arange(3)
    assert hci.from_dlpack(a, copy=True).data_ptr() != address(a)
