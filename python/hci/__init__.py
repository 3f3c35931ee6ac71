"""hci: one PyTorch-like tensor API over CPU, CUDA and ROCm devices, chosen at run time.

Tensors are evaluated lazily: operations are recorded and fused into kernels, which run when a
result is read (item, tolist, numpy, printing, DLPack export). DLPack moves tensors to and from
PyTorch, NumPy and any other producer or consumer without a copy."""
from ._hci import (Buffer, Error, Kernel, Tensor, Value, __version__, cat, clamp, dtype, if_, loop,  # noqa: F401
                   manual_seed, select, stack, where,
                   bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
import builtins

from . import _hci

for _name in dir(_hci):  # the elementwise functions: exp, log, sin, relu, gelu, isnan, add, maximum, ...
    if not _name.startswith("_") and _name not in globals():
        globals()[_name] = getattr(_hci, _name)


def _function_of(method):
    def function(input, *args, **kwargs):
        return getattr(input, method)(*args, **kwargs)

    function.__name__ = function.__qualname__ = method
    function.__doc__ = f"hci.{method}(t, ...) is t.{method}(...)."
    return function


# The Tensor methods that PyTorch also has as functions of the module.
for _name in ("sum", "mean", "prod", "amax", "amin", "all", "any", "var", "std", "norm", "argmax", "argmin", "cumsum",
              "softmax", "log_softmax", "matmul", "mm", "bmm", "reshape", "permute", "transpose", "squeeze",
              "unsqueeze", "flatten", "narrow", "chunk", "split", "t", "index_select", "gather",
              "masked_fill", "scatter_add", "index_put", "nonzero", "sort", "argsort", "topk", "equal", "allclose",
              "clone"):
    globals()[_name] = _function_of(_name)

del _name


def kernel(*params):
    """A portable kernel from the function it decorates, with these parameters: hci.Buffer(dtype)
    for a contiguous CPU tensor, a dtype for a scalar (float32, float64, int32, int64).

        @hci.kernel(hci.Buffer(hci.float32), hci.Buffer(hci.float32), hci.float32)
        def saxpy(i, x, y, a):
            y[i] = a * x[i] + y[i]

        saxpy(n, x, y, 2.0)  # y = 2x + y for the first n elements

    The function is traced once, on symbolic values (hci.Value): index i (int64), then per
    parameter a buffer view (b[i], b[i] = v, b.atomic_add(i, v), b.size()) or the scalar's value.
    What it does becomes the kernel, which the JIT compiles and runs for every index in [0, n).
    Values of different dtypes do not mix (v.to(dtype) converts them); a number takes the dtype of
    the value beside it. Integer // and % truncate, as in C. Python's `if` cannot test a value:
    hci.select(c, a, b) picks per index, hci.if_(c, fn) runs stores under a condition, and
    hci.loop(begin, end, state, fn) carries state = fn(j, state) through a loop; a value made in
    such a body cannot be used outside it (a TypeError), the loop's result aside. hci's math
    functions (exp, log, tanh, erf, sigmoid, gelu, sqrt, pow, ...) take float values. An index
    outside a buffer is an hci.Error."""

    def trace(body):
        return Kernel(body, list(params))

    return trace


def _shape(shape):
    if len(shape) == 1 and not isinstance(shape[0], int):
        return list(shape[0])
    return list(shape)


def empty(*shape, dtype=float32, device="cpu"):
    return _hci._empty(_shape(shape), dtype, device)


def zeros(*shape, dtype=float32, device="cpu"):
    return _hci._zeros(_shape(shape), dtype, device)


def ones(*shape, dtype=float32, device="cpu"):
    return _hci._ones(_shape(shape), dtype, device)


def full(shape, value, *, dtype=None, device="cpu"):
    """`value` everywhere; its dtype by default that of the value (bool, int64 or float32), as
    PyTorch's."""
    if dtype is None:
        dtype = bool if isinstance(value, builtins.bool) else int64 if isinstance(value, int) else float32
    return _hci._full(_shape((shape,)), value, dtype, device)


def arange(start, end=None, step=1, *, dtype=None, device="cpu"):
    """[start, end) in steps; arange(n) is [0, n). int64 from ints, float32 if any is a float."""
    if end is None:
        start, end = 0, start
    return _hci._arange(start, end, step, dtype, device)


def linspace(start, end, steps, *, dtype=float32, device="cpu"):
    return _hci._linspace(start, end, steps, dtype, device)


def eye(n, m=None, *, dtype=float32, device="cpu"):
    return _hci._eye(n, n if m is None else m, dtype, device)


def empty_like(t, *, dtype=None, device=None):
    return empty(t.shape, dtype=t.dtype if dtype is None else dtype, device=device or t.device)


def zeros_like(t, *, dtype=None, device=None):
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, device=device or t.device)


def ones_like(t, *, dtype=None, device=None):
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, device=device or t.device)


def full_like(t, value, *, dtype=None, device=None):
    return full(t.shape, value, dtype=t.dtype if dtype is None else dtype, device=device or t.device)


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
    """A tensor with a copy of `data` (nested lists, numbers, or arrays and tensors of any library
    NumPy takes). Python floats make float32 where no dtype is given, as in PyTorch; arrays keep
    their dtype."""
    import numpy

    array = numpy.array(data, order="C")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"hci.tensor: no tensor holds {array.dtype} data (from {type(data).__name__})")
    from_python = not hasattr(data, "__array__") and not hasattr(data, "__dlpack__")
    if array.dtype == numpy.float64 and from_python and dtype is None:
        array = array.astype(numpy.float32)
    if array.dtype == numpy.bool_:  # NumPy before 1.25 exports no bool through DLPack
        result = from_dlpack(array.view(numpy.uint8)).to(bool)
    else:
        result = from_dlpack(array)
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


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self.select(0, i) for i in range(len(self)))


def _array(self, dtype=None, copy=None):
    """NumPy's conversion (numpy.asarray(t)): the tensor's memory where it can be shared."""
    array = _numpy(self)
    if copy:
        array = array.copy()
    return array if dtype is None else array.astype(dtype, copy=False)


Tensor.numpy = _numpy
Tensor.__iter__ = _iter
Tensor.__array__ = _array
