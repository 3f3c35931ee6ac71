"""hci: one PyTorch-like tensor API over CPU, CUDA and ROCm devices, chosen at run time.

Tensors are evaluated lazily: operations are recorded and fused into kernels, which run when a
result is read (item, tolist, numpy, printing, DLPack export). DLPack moves tensors to and from
PyTorch, NumPy and any other producer or consumer without a copy."""
from ._hci import (Error, Tensor, __version__, dtype, manual_seed, matmul, softmax, where,  # noqa: F401
                   bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
from . import _hci

for _name in dir(_hci):  # the elementwise functions: exp, log, sin, relu, gelu, isnan, ...
    if not _name.startswith("_") and _name not in globals():
        globals()[_name] = getattr(_hci, _name)

del _name


def _shape(shape):
    if len(shape) == 1 and not isinstance(shape[0], int):
        return list(shape[0])
    return list(shape)


def zeros(*shape, dtype=float32, device="cpu"):
    return _hci._zeros(_shape(shape), dtype, device)


def ones(*shape, dtype=float32, device="cpu"):
    return _hci._ones(_shape(shape), dtype, device)


def full(shape, value, *, dtype=float32, device="cpu"):
    return _hci._full(_shape((shape,)), value, dtype, device)


def arange(n, *, dtype=int64, device="cpu"):
    return _hci._arange(n, dtype, device)


def rand(*shape, dtype=float32, device="cpu"):
    return _hci._rand(_shape(shape), dtype, device)


def randn(*shape, dtype=float32, device="cpu"):
    return _hci._randn(_shape(shape), dtype, device)


def from_dlpack(x, *, device=None, copy=None):
    """A tensor over the memory of `x` (anything with __dlpack__, or a DLPack capsule), shared,
    not copied. The versioned protocol (DLPack 1.x) is asked for first; a producer older than it
    (whose __dlpack__ takes no max_version) is asked again without it."""
    if type(x).__name__ == "PyCapsule":
        tensor = _hci._from_capsule(x)
    else:
        if not hasattr(x, "__dlpack__"):
            raise TypeError(f"from_dlpack: {type(x).__name__} has no __dlpack__")
        device_type, index = x.__dlpack_device__()
        # On a GPU, the producer orders its pending writes before hci's stream.
        stream = None
        if device_type in (2, 10):  # kDLCUDA, kDLROCM
            stream = _hci._stream_handle(("cuda" if device_type == 2 else "rocm") + f":{index}")
        try:
            capsule = x.__dlpack__(stream=stream, max_version=(1, 1))
        except TypeError:  # a producer from before the versioned protocol
            capsule = x.__dlpack__() if stream is None else x.__dlpack__(stream=stream)
        tensor = _hci._from_capsule(capsule)
    if device is not None and tensor.device != device:
        if copy is False:
            raise BufferError(f"from_dlpack: the data is on {tensor.device}, not {device}, and copy=False")
        tensor = tensor.to(device)
    elif copy:
        tensor = tensor.clone()
    return tensor


def tensor(data, *, dtype=None, device="cpu"):
    """A tensor with a copy of `data` (nested lists, numbers, or anything NumPy takes). Python
    floats make float32, as in PyTorch."""
    import numpy

    array = numpy.array(data)
    if array.dtype == numpy.float64 and not isinstance(data, numpy.ndarray):
        array = array.astype(numpy.float32)
    if array.dtype == numpy.bool_:  # NumPy before 1.25 exports no bool through DLPack
        result = from_dlpack(numpy.ascontiguousarray(array.view(numpy.uint8))).to(bool)
    else:
        result = from_dlpack(numpy.ascontiguousarray(array))
    if dtype is not None:
        result = result.to(dtype)
    return result.to(device) if device != "cpu" else result


def _numpy(self):
    """The tensor's data as a NumPy array, sharing its memory where it is on the CPU."""
    import numpy

    if self.dtype == bfloat16:
        raise TypeError("NumPy has no bfloat16: take .to(hci.float32).numpy()")
    source = self if self.device == "cpu" else self.to("cpu")
    if self.dtype == bool:
        try:
            return numpy.from_dlpack(source)
        except (BufferError, SystemError):  # NumPy before 1.25 takes no bool through DLPack: a copy
            return numpy.from_dlpack(source.to(uint8)).view(numpy.bool_)
    return numpy.from_dlpack(source)


def _tolist(self):
    if self.dtype == bfloat16:
        return _numpy(self.to(float32)).tolist()
    return _numpy(self).tolist()


Tensor.numpy = _numpy
