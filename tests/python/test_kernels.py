"""Portable kernels written in Python (hci.kernel), compiled by the JIT, against NumPy computing
the same thing."""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import hci

pytestmark = pytest.mark.skipif(not hci._hci._jit_enabled(), reason="needs the JIT (LLVM): none was found")

F32 = hci.Buffer(hci.float32)


def random(n, seed, low=-3.0, high=3.0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, n).astype(dtype)


def test_saxpy_writes_through_to_the_tensor():
    @hci.kernel(F32, F32, hci.float32)
    def saxpy(i, x, y, a):
        y[i] = a * x[i] + y[i]

    x, y = random(1000, 1), random(1000, 2)
    hx, hy = hci.tensor(x), hci.tensor(y)
    saxpy(1000, hx, hy, 2.5)
    np.testing.assert_allclose(hy.numpy(), np.float32(2.5) * x + y, rtol=1e-6, atol=1e-6)
    saxpy(10, hx, hy, 0.0)  # n bounds the indices: the first 10 again, unchanged
    np.testing.assert_allclose(hy.numpy(), np.float32(2.5) * x + y, rtol=1e-6, atol=1e-6)
    assert "define i32 @hci_kernel" in saxpy.ir()


@pytest.mark.parametrize("name, reference, low", [
    ("exp", np.exp, -10), ("expm1", np.expm1, -3), ("log", np.log, 0.01), ("log1p", np.log1p, 0),
    ("log2", np.log2, 0.01), ("exp2", np.exp2, -10), ("tanh", np.tanh, -5), ("sqrt", np.sqrt, 0),
    ("sigmoid", lambda v: 1 / (1 + np.exp(-v)), -10), ("erf", np.vectorize(math.erf), -3),
])
def test_math_functions_of_float_values(name, reference, low):
    function = getattr(hci, name)

    @hci.kernel(hci.Buffer(hci.float64), hci.Buffer(hci.float64))
    def apply(i, x, out):
        out[i] = function(x[i])

    x = random(4096, 3, low, 10, np.float64)
    out = hci.zeros(4096, dtype=hci.float64)
    apply(4096, hci.tensor(x), out)
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-14, atol=1e-300)


def test_pow_gelu_and_float32_math():
    @hci.kernel(F32, F32, F32)
    def apply(i, x, powers, gelus):
        powers[i] = hci.pow(x[i] * x[i], 0.75)
        gelus[i] = hci.gelu(x[i])

    x = random(2048, 4)
    powers, gelus = hci.zeros(2048), hci.zeros(2048)
    apply(2048, hci.tensor(x), powers, gelus)
    np.testing.assert_allclose(powers.numpy(), (x * x) ** np.float32(0.75), rtol=2e-6)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(gelus.numpy(), 0.5 * x * (1 + erf(x / math.sqrt(2))), rtol=3e-6, atol=1e-6)


def test_select_and_conditional_stores():
    @hci.kernel(F32, F32, hci.Buffer(hci.int64))
    def leaky(i, x, out, positives):
        v = x[i]
        out[i] = hci.select(v > 0, v, v * 0.01)
        hci.if_(v > 1, lambda: positives.atomic_add(0, 1))

    x = random(5000, 5)
    out, positives = hci.zeros(5000), hci.zeros(1, dtype=hci.int64)
    leaky(5000, hci.tensor(x), out, positives)
    np.testing.assert_array_equal(out.numpy(), np.where(x > 0, x, x * np.float32(0.01)))
    assert positives.item() == int((x > 1).sum())


def test_loops_carry_a_value():
    rows, cols = 64, 37

    @hci.kernel(F32, F32, hci.int64)
    def row_sums(i, x, out, n):
        out[i] = hci.loop(0, n, 0.0, lambda j, total: total + x[i * n + j])

    @hci.kernel(hci.Buffer(hci.int64), hci.int64)
    def factorials(i, out, unused):
        out[i] = hci.loop(1, i + 1, 1, lambda j, product: product * j)

    x = random(rows * cols, 6)
    out = hci.zeros(rows)
    row_sums(rows, hci.tensor(x), out, cols)
    np.testing.assert_allclose(out.numpy(), x.reshape(rows, cols).sum(1), rtol=1e-5, atol=1e-5)
    f = hci.zeros(15, dtype=hci.int64)
    factorials(15, f, 0)
    assert f.tolist() == [math.factorial(k) for k in range(15)]


def test_histogram_with_atomic_adds_on_every_thread():
    @hci.kernel(hci.Buffer(hci.int32), hci.Buffer(hci.int64))
    def histogram(i, values, counts):
        counts.atomic_add(values[i], 1)

    values = np.random.default_rng(7).integers(0, 10, 200_000).astype(np.int32)
    counts = hci.zeros(10, dtype=hci.int64)
    histogram(len(values), hci.tensor(values), counts)
    assert counts.tolist() == np.bincount(values, minlength=10).tolist()


def test_integer_arithmetic_is_cs_and_conversions_are_explicit():
    @hci.kernel(hci.Buffer(hci.int64), hci.Buffer(hci.int64), hci.Buffer(hci.int64), hci.Buffer(hci.float32))
    def ints(i, a, quotients, bits, floats):
        q, r = a[i] // 3, a[i] % 3
        quotients[i] = q * 10 + r
        bits[i] = ((a[i] << 2) ^ 5) & ~(a[i] >> 1) | 1
        floats[i] = (a[i].to(hci.float32) / 4) + (a[i] > 0).to(hci.float32) + (a[i].to(hci.int32) * 2).to(hci.float32)

    a = np.arange(-20, 20, dtype=np.int64)
    quotients, bits, floats = hci.zeros(40, dtype=hci.int64), hci.zeros(40, dtype=hci.int64), hci.zeros(40)
    ints(40, hci.tensor(a), quotients, bits, floats)
    truncated = np.trunc(a / 3).astype(np.int64)  # C's division, not Python's floor
    assert quotients.tolist() == (truncated * 10 + np.fmod(a, 3)).tolist()
    assert bits.tolist() == ((((a << 2) ^ 5) & ~(a >> 1)) | 1).tolist()
    np.testing.assert_array_equal(floats.numpy(), a.astype(np.float32) / 4 + (a > 0) + 2 * a)


def test_bad_indices_and_division_by_zero_are_errors():
    @hci.kernel(F32, hci.int64)
    def read_at(i, x, k):
        x[i] = x[i + k]

    x = hci.zeros(8)
    read_at(4, x, 4)
    with pytest.raises(hci.Error, match="outside its elements"):
        read_at(8, x, 1)

    @hci.kernel(hci.Buffer(hci.int64))
    def divide(i, a):
        a[i] = 100 // (a[i] - 3)

    with pytest.raises(hci.Error, match="divided an integer by zero"):
        divide(5, hci.arange(5))


def test_tracing_refuses_what_it_cannot_compile():
    def launch(body, *params, args=(hci.zeros(4),)):
        hci.kernel(*params)(body)(4, *args)

    with pytest.raises(TypeError, match="do not mix"):
        launch(lambda i, x: x.store(i, x[i] + i), F32)
    with pytest.raises(TypeError, match="truth value"):
        launch(lambda i, x: x.store(i, 1.0 if x[i] > 0 else 0.0), F32)
    with pytest.raises(TypeError, match="float constant"):
        launch(lambda i, x: x.store(i, x[i] + 0.5), hci.Buffer(hci.int64), args=(hci.zeros(4, dtype=hci.int64),))
    with pytest.raises(TypeError, match="// divides integers"):
        launch(lambda i, x: x.store(i, i / 2), F32)
    with pytest.raises(TypeError, match="float kernel value"):
        launch(lambda i, x: x.store(i, hci.exp(i).to(hci.float32)), F32)
    with pytest.raises(TypeError, match="bool"):
        hci.kernel(hci.Buffer(hci.bool))(lambda i, b: None)


def test_launch_checks_its_arguments():
    @hci.kernel(F32, hci.float32)
    def scale(i, x, a):
        x[i] = x[i] * a

    with pytest.raises(hci.Error, match="float64 tensor"):
        scale(4, hci.zeros(4, dtype=hci.float64), 1.0)
    with pytest.raises(hci.Error, match="not contiguous"):
        scale(2, hci.zeros(4, 4).T, 1.0)
    with pytest.raises(hci.Error, match="2 arguments"):
        scale(4, hci.zeros(4))
    with pytest.raises(hci.Error, match="indices"):
        scale(-1, hci.zeros(4), 1.0)
    with pytest.raises(TypeError):
        scale(4, [1.0, 2.0], 1.0)
    x = hci.arange(4, dtype=hci.float32) + 1  # pending work is done before the kernel reads it
    scale(4, x, 3.0)
    assert x.tolist() == [3.0, 6.0, 9.0, 12.0]


def test_threads_launch_one_kernel_on_their_own_tensors():
    @hci.kernel(F32, hci.float32)
    def fill(i, x, start):
        x[i] = start + i.to(hci.float32)

    outs = [hci.zeros(1000) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:  # the first launches trace and compile at once
        for done in [pool.submit(fill, 1000, out, float(k)) for k, out in enumerate(outs)]:
            done.result()
    for k, out in enumerate(outs):
        assert out.tolist() == [float(k + j) for j in range(1000)]


def test_values_cannot_leave_the_body_that_made_them():
    escaped = {}

    def keep(j, total):
        escaped["value"] = total
        return total + 1.0

    @hci.kernel(F32, F32)
    def out_of_a_loop(i, x, y):
        hci.loop(0, 2, 0.0, keep)
        y[i] = escaped["value"]

    @hci.kernel(F32, F32)
    def out_of_a_branch(i, x, y):
        hci.if_(x[i] > 0, lambda: escaped.update(value=x[i] * 2.0))
        y[i] = escaped["value"]

    for kernel in (out_of_a_loop, out_of_a_branch):
        with pytest.raises(TypeError, match="outside the hci.if_ or hci.loop body"):
            kernel(2, hci.ones(2), hci.zeros(2))

    @hci.kernel(F32)
    def into_another_kernel(i, y):
        y[i] = escaped["value"]

    with pytest.raises(TypeError, match="outside"):
        into_another_kernel(2, hci.zeros(2))
    with pytest.raises(TypeError, match="outside"):
        escaped["value"] + 1.0

    @hci.kernel(F32)
    def launching_another(i, y):
        @hci.kernel(F32)
        def inner(j, z):
            z[j] = y[i]  # the outer kernel's values

        inner(1, hci.zeros(1))

    with pytest.raises(TypeError, match="outside"):
        launching_another(1, hci.zeros(1))


def test_masks_order_as_bools_do():
    @hci.kernel(F32, hci.Buffer(hci.int64))
    def order(i, x, out):
        a, b = x[i] > 0, x[i] > 1
        out[i] = (hci.select(a < b, 1, 0) + hci.select(a > b, 10, 0) + hci.select(a <= b, 100, 0) +
                  hci.select(a >= b, 1000, 0))

    out = hci.zeros(3, dtype=hci.int64)
    order(3, hci.tensor([-1.0, 0.5, 2.0]), out)
    assert out.tolist() == [1100, 1010, 1100]  # False < True, as Python's bools


def test_scalar_arguments_are_checked():
    @hci.kernel(hci.Buffer(hci.int32), hci.int32)
    def add(i, x, k):
        x[i] = x[i] + k

    x = hci.zeros(2, dtype=hci.int32)
    add(2, x, np.int32(3))
    assert x.tolist() == [3, 3]
    with pytest.raises(ValueError, match="does not fit int32"):
        add(2, x, 2**40)
    with pytest.raises(TypeError, match="argument 2 is a int32 number, not float"):
        add(2, x, 1.5)
    with pytest.raises(TypeError, match="hci.Buffer\\(dtype\\) or a dtype, not str"):
        hci.kernel("float")(lambda i: None)
