"""CUDA tensors from Python: copies, views and DLPack exchange on a CUDA device, stream ordering
included. Run against the mock CUDA driver the C++ tests build (HCI_CUDA_PATH pointing at
libhci_mock_cuda.so, as scripts/test.sh sets it), which copies memory but runs no kernels, or
on a real GPU."""
import ctypes
import os

import numpy as np
import pytest

import hci

pytestmark = pytest.mark.skipif(not os.environ.get("HCI_CUDA_PATH"),
                                reason="needs a CUDA driver: HCI_CUDA_PATH=build/tests/libhci_mock_cuda.so")

KDL_CPU, KDL_CUDA = 1, 2


def driver_calls(entry_point):
    """How often hci called the mock driver's entry point; None on another driver."""
    library = ctypes.CDLL(os.environ["HCI_CUDA_PATH"])  # the one hci loaded: dlopen counts references
    if not hasattr(library, "hci_mock_cuda_calls"):
        return None
    library.hci_mock_cuda_calls.restype = ctypes.c_long
    return library.hci_mock_cuda_calls(entry_point.encode())


def on_gpu(values, dtype=hci.float32):
    return hci.tensor(values, dtype=dtype).to("cuda:0")


class Producer:
    """A GPU producer as the array API describes one, recording how it was asked."""

    def __init__(self, tensor, versioned=True):
        self.tensor, self.versioned, self.calls = tensor, versioned, []

    def __dlpack_device__(self):
        return self.tensor.__dlpack_device__()

    def __dlpack__(self, *, stream=None, **kwargs):
        if not self.versioned and "max_version" in kwargs:
            raise TypeError("__dlpack__() got an unexpected keyword argument 'max_version'")
        self.calls.append(dict(stream=stream, **kwargs))
        return self.tensor.__dlpack__(stream=stream, **kwargs)


def test_copies_to_and_from_the_device():
    x = on_gpu([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.device == "cuda:0" and x.__dlpack_device__() == (KDL_CUDA, 0)
    assert x.cpu().tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert x[1].tolist() == [4.0, 5.0, 6.0] and x[:, 1:].shape == (2, 2)
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [4, 5, 6]])
    for dtype in (hci.int8, hci.int64, hci.float16, hci.float64):
        assert on_gpu([1, -2], dtype).cpu().tolist() == [1, -2]


def test_export_and_import_share_device_memory():
    x = on_gpu([1.0, 2.0, 3.0])
    for max_version in (None, (1, 1)):
        capsule = x.__dlpack__(stream=hci._hci._stream_handle("cuda:0"), max_version=max_version)
        y = hci.from_dlpack(capsule)
        assert y.device == "cuda:0" and y.data_ptr() == x.data_ptr()
        assert y.cpu().tolist() == [1.0, 2.0, 3.0]
    view = x[1:]
    assert hci.from_dlpack(view.__dlpack__(stream=1)).data_ptr() == x.data_ptr() + 4


def test_from_dlpack_hands_the_producer_hcis_stream():
    x = on_gpu([5.0, 6.0])
    stream = hci._hci._stream_handle("cuda:0")
    assert stream != 0
    for versioned in (True, False):
        producer = Producer(x, versioned)
        y = hci.from_dlpack(producer)
        assert y.data_ptr() == x.data_ptr() and y.device == "cuda:0"
        assert producer.calls[-1]["stream"] == stream
        assert producer.calls[-1].get("max_version") == ((1, 1) if versioned else None)


def test_moving_between_devices_through_the_protocol():
    x = on_gpu([7.0, 8.0])
    host = hci.from_dlpack(x, device="cpu")
    assert host.device == "cpu" and host.tolist() == [7.0, 8.0]
    with pytest.raises(BufferError, match="copy=False"):
        hci.from_dlpack(x, device="cpu", copy=False)
    exported = hci.from_dlpack(x.__dlpack__(dl_device=(KDL_CPU, 0)))
    assert exported.device == "cpu" and exported.tolist() == [7.0, 8.0]
    with pytest.raises(BufferError, match="copy=False"):
        x.__dlpack__(dl_device=(KDL_CPU, 0), copy=False)
    back = hci.from_dlpack(hci.tensor([1.0, 2.0]).__dlpack__(dl_device=(KDL_CUDA, 0)))
    assert back.device == "cuda:0" and back.tolist() == [1.0, 2.0]


def test_streams_the_protocol_refuses():
    x = on_gpu([1.0])
    with pytest.raises(hci.Error, match="stream 0 is ambiguous"):
        x.__dlpack__(stream=0)
    with pytest.raises(BufferError, match="CPU tensor takes no stream"):
        hci.tensor([1.0]).__dlpack__(stream=1)


def test_a_consumers_stream_waits_for_hci_instead_of_the_host():
    x = on_gpu([1.0, 2.0])
    waits = driver_calls("cuStreamWaitEvent")
    if waits is None:
        pytest.skip("counts calls on the mock driver only")
    hci.from_dlpack(x.__dlpack__(stream=1))  # the legacy default stream: ordered after hci's
    assert driver_calls("cuStreamWaitEvent") == waits + 1
    hci.from_dlpack(x.__dlpack__(stream=-1))  # -1: the consumer asks for no ordering
    hci.from_dlpack(x.__dlpack__())  # no stream: the host waits, as for data_ptr()
    assert driver_calls("cuStreamWaitEvent") == waits + 1
