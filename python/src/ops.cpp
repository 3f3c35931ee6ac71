// The op library on Tensor and in the module: Python's operators, the elementwise functions,
// reductions, joins, indexing ops, sorting, matrix products and the in-place forms.
#include "bindings.hpp"

namespace hci_python {
namespace {

py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }

bool is_operand(const py::handle& value) { return py::isinstance<Tensor>(value) || is_number(value); }

// op(a, b) with a Tensor on at least one side and a number, if any, on the other.
template <class Op>
Tensor call_binary(const Op& op, const py::handle& a, const py::handle& b) {
  const bool tensor_a = py::isinstance<Tensor>(a), tensor_b = py::isinstance<Tensor>(b);
  if (tensor_a && tensor_b) return op(a.cast<const Tensor&>(), b.cast<const Tensor&>());
  if (tensor_a) return op(a.cast<const Tensor&>(), to_scalar(b));
  if (tensor_b) return op(to_scalar(a), b.cast<const Tensor&>());
  throw py::type_error("expected a Tensor among the operands");
}

// Python's operator methods: other types get NotImplemented, so that Python asks them next.
template <class Op>
auto operator_method(Op op, bool reflected = false) {
  return [op, reflected](const py::object& self, const py::object& other) -> py::object {
    if (!is_operand(other)) return not_implemented();
    return py::cast(reflected ? call_binary(op, other, self) : call_binary(op, self, other));
  };
}

// An in-place method computes now, and returns the object it was called on, as PyTorch's do.
template <class Op>
auto in_place(Op op) {
  return [op](const py::object& self, const py::object& other) {
    Tensor& t = self.cast<Tensor&>();
    if (py::isinstance<Tensor>(other)) {
      const Tensor& operand = other.cast<const Tensor&>();
      computing([&] { op(t, operand); });
    } else {
      const hci::Scalar operand = to_scalar(other);
      computing([&] { op(t, operand); });
    }
    return self;
  };
}

// The same for an op of the tensor alone.
template <class Op>
auto in_place_alone(Op op) {
  return [op](const py::object& self) {
    Tensor& t = self.cast<Tensor&>();
    computing([&] { op(t); });
    return self;
  };
}

// A number as a 0-dim tensor of its own kind (bool, int64 or float32), which promotes with
// tensors as PyTorch's wrapped numbers do.
Tensor wrapped_number(const py::handle& value, const hci::Device& device) {
  const hci::Scalar number = to_scalar(value);
  return hci::full({}, number, hci::TensorOptions(number.default_dtype()).device(device));
}

// &, | and ^ on bool tensors; hci has no bitwise ops on integers.
template <class Op>
auto logical_operator(Op op, const char* symbol) {
  return [op, symbol](const Tensor& a, const py::object& other) -> py::object {
    if (!is_operand(other)) return not_implemented();
    const Tensor b = py::isinstance<Tensor>(other) ? other.cast<Tensor>() : wrapped_number(other, a.device());
    if (a.dtype() != hci::kBool || b.dtype() != hci::kBool)
      throw py::type_error(std::string("hci has no bitwise ") + symbol + ": it is the logical op of bool tensors");
    return py::cast(op(a, b));
  };
}

py::object values_indices(const std::tuple<Tensor, Tensor>& result) {
  return py::module_::import("hci._hci").attr("values_indices")(std::get<0>(result), std::get<1>(result));
}

std::optional<hci::Scalar> optional_scalar(const py::object& value) {
  if (value.is_none()) return std::nullopt;
  return to_scalar(value);
}

// A bound beside a tensor bound: a number becomes a wrapped number.
std::optional<Tensor> optional_tensor(const py::object& value, const Tensor& like) {
  if (value.is_none()) return std::nullopt;
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  return wrapped_number(value, like.device());
}

Tensor clamp(const Tensor& t, const py::object& min, const py::object& max) {
  if (py::isinstance<Tensor>(min) || py::isinstance<Tensor>(max))
    return t.clamp(optional_tensor(min, t), optional_tensor(max, t));
  return t.clamp(optional_scalar(min), optional_scalar(max));
}

std::vector<Tensor> to_indices(const py::handle& indices) {
  std::vector<Tensor> result;
  for (const py::handle index : indices) result.push_back(to_tensor(index));
  return result;
}

void bind_elementwise(py::module_& m, py::class_<Tensor>& tensor) {
#define HCI_PY_UNARY(name, kind)                              \
  m.def(#name, [](const Tensor& t) { return hci::name(t); }); \
  tensor.def(#name, [](const Tensor& t) { return hci::name(t); });
  HCI_UNARY_OPS(HCI_PY_UNARY)
#undef HCI_PY_UNARY
  // In place: the ops whose result has the input's dtype, or a float one.
#define HCI_PY_UNARY_IN_PLACE(name, kind) tensor.def(#name "_", in_place_alone([](Tensor& t) { t.name##_(); }));
  HCI_FLOATING_UNARY_OPS(HCI_PY_UNARY_IN_PLACE)
  HCI_FLOAT_ONLY_UNARY_OPS(HCI_PY_UNARY_IN_PLACE)
  HCI_SAME_TYPE_UNARY_OPS(HCI_PY_UNARY_IN_PLACE)
#undef HCI_PY_UNARY_IN_PLACE

#define HCI_PY_BINARY(name, kind)                                                                           \
  {                                                                                                         \
    const auto op = [](const auto& x, const auto& y) { return hci::name(x, y); };                           \
    const auto function = [op](const py::object& a, const py::object& b) { return call_binary(op, a, b); }; \
    m.def(#name, function);                                                                                 \
    tensor.def(#name, function);                                                                            \
    tensor.def(#name "_", in_place([](Tensor& t, const auto& other) { t.name##_(other); }));                \
  }
  HCI_BINARY_OPS(HCI_PY_BINARY)
#undef HCI_PY_BINARY

#define HCI_PY_OPERATOR(method, name)                                                                          \
  tensor.def("__" method "__", operator_method([](const auto& x, const auto& y) { return hci::name(x, y); })); \
  tensor.def("__r" method "__", operator_method([](const auto& x, const auto& y) { return hci::name(x, y); }, true));
  HCI_PY_OPERATOR("add", add)
  HCI_PY_OPERATOR("sub", sub)
  HCI_PY_OPERATOR("mul", mul)
  HCI_PY_OPERATOR("truediv", div)
  HCI_PY_OPERATOR("pow", pow)
  HCI_PY_OPERATOR("mod", remainder)
#undef HCI_PY_OPERATOR
#define HCI_PY_COMPARISON(method, name) \
  tensor.def("__" method "__", operator_method([](const auto& x, const auto& y) { return hci::name(x, y); }));
  HCI_PY_COMPARISON("eq", eq)
  HCI_PY_COMPARISON("ne", ne)
  HCI_PY_COMPARISON("lt", lt)
  HCI_PY_COMPARISON("le", le)
  HCI_PY_COMPARISON("gt", gt)
  HCI_PY_COMPARISON("ge", ge)
#undef HCI_PY_COMPARISON
  const auto both_and = logical_operator([](const Tensor& a, const Tensor& b) { return hci::logical_and(a, b); }, "&");
  const auto either_or = logical_operator([](const Tensor& a, const Tensor& b) { return hci::logical_or(a, b); }, "|");
  const auto exactly_one = logical_operator([](const Tensor& a, const Tensor& b) { return hci::ne(a, b); }, "^");
  // a += b writes into a's memory, as in PyTorch.
  tensor.def("__iadd__", in_place([](Tensor& t, const auto& other) { t.add_(other); }))
      .def("__isub__", in_place([](Tensor& t, const auto& other) { t.sub_(other); }))
      .def("__imul__", in_place([](Tensor& t, const auto& other) { t.mul_(other); }))
      .def("__itruediv__", in_place([](Tensor& t, const auto& other) { t.div_(other); }))
      .def("__neg__", [](const Tensor& t) { return -t; })
      .def("__abs__", [](const Tensor& t) { return hci::abs(t); })
      .def("__and__", both_and)
      .def("__rand__", both_and)  // symmetric, so the same on the right
      .def("__or__", either_or)
      .def("__ror__", either_or)
      .def("__xor__", exactly_one)
      .def("__rxor__", exactly_one)
      .def("__invert__", [](const Tensor& t) {
        if (t.dtype() != hci::kBool) throw py::type_error("hci has no bitwise ~: it is logical_not of bool tensors");
        return hci::logical_not(t);
      });
  // Python's default, which defining __eq__ takes away: a tensor hashes by identity.
  tensor.attr("__hash__") = py::module_::import("builtins").attr("object").attr("__hash__");

  const auto where = [](const Tensor& condition, const py::object& a, const py::object& b) {
    return hci::where(condition, to_operand(a), to_operand(b));
  };
  m.def("where", where);
  tensor.def("where", [where](const Tensor& t, const Tensor& condition, const py::object& other) {
    return where(condition, py::cast(t), other);
  });
  m.def("clamp", &clamp, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none());
  tensor.def("clamp", &clamp, py::arg("min") = py::none(), py::arg("max") = py::none())
      .def(
          "clamp_",
          [](const py::object& self, const py::object& min, const py::object& max) {
            Tensor& t = self.cast<Tensor&>();
            if (py::isinstance<Tensor>(min) || py::isinstance<Tensor>(max)) {
              const auto low = optional_tensor(min, t), high = optional_tensor(max, t);
              computing([&] { t.clamp_(low, high); });
            } else {
              const auto low = optional_scalar(min), high = optional_scalar(max);
              computing([&] { t.clamp_(low, high); });
            }
            return self;
          },
          py::arg("min") = py::none(), py::arg("max") = py::none())
      .def("clamp_min", [](const Tensor& t, const py::object& min) { return clamp(t, min, py::none()); })
      .def("clamp_max", [](const Tensor& t, const py::object& max) { return clamp(t, py::none(), max); });
}

void bind_reductions(py::class_<Tensor>& tensor) {
  const auto dims = py::arg("dim") = py::none();
  const auto keepdim = py::arg("keepdim") = false;
#define HCI_PY_REDUCTION(name)                                                                                   \
  tensor.def(                                                                                                    \
      #name, [](const Tensor& t, const py::object& dim, bool keep) { return t.name(to_dims(dim), keep); }, dims, \
      keepdim);
  HCI_PY_REDUCTION(sum)
  HCI_PY_REDUCTION(mean)
  HCI_PY_REDUCTION(prod)
  HCI_PY_REDUCTION(amax)
  HCI_PY_REDUCTION(amin)
  HCI_PY_REDUCTION(all)
  HCI_PY_REDUCTION(any)
#undef HCI_PY_REDUCTION
  tensor
      .def(
          "var",
          [](const Tensor& t, const py::object& dim, double correction, bool keep) {
            return t.var(to_dims(dim), correction, keep);
          },
          dims, py::arg("correction") = 1.0, keepdim)
      .def(
          "std",
          [](const Tensor& t, const py::object& dim, double correction, bool keep) {
            return t.std(to_dims(dim), correction, keep);
          },
          dims, py::arg("correction") = 1.0, keepdim)
      .def(
          "norm",
          [](const Tensor& t, double p, const py::object& dim, bool keep) { return t.norm(p, to_dims(dim), keep); },
          py::arg("p") = 2.0, dims, keepdim)
      .def(
          "argmax", [](const Tensor& t, std::optional<int64_t> dim, bool keep) { return t.argmax(dim, keep); }, dims,
          keepdim)
      .def(
          "argmin", [](const Tensor& t, std::optional<int64_t> dim, bool keep) { return t.argmin(dim, keep); }, dims,
          keepdim)
      .def(
          "cumsum", [](const Tensor& t, int64_t dim) { return t.cumsum(dim); }, py::arg("dim"))
      .def(
          "softmax", [](const Tensor& t, int64_t dim) { return t.softmax(dim); }, py::arg("dim"))
      .def(
          "log_softmax", [](const Tensor& t, int64_t dim) { return t.log_softmax(dim); }, py::arg("dim"))
      // These compute now, without the GIL: a producer's deleter may need it from hci's threads.
      .def(
          "equal", [](const Tensor& a, const Tensor& b) { return a.equal(b); },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "allclose",
          [](const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
            return a.allclose(b, rtol, atol, equal_nan);
          },
          py::arg("other"), py::arg("rtol") = 1e-5, py::arg("atol") = 1e-8, py::arg("equal_nan") = false,
          py::call_guard<py::gil_scoped_release>());
}

void bind_indexing_ops(py::module_& m, py::class_<Tensor>& tensor) {
  m.def(
      "cat", [](const std::vector<Tensor>& tensors, int64_t dim) { return hci::cat(tensors, dim); }, py::arg("tensors"),
      py::arg("dim") = 0);
  m.def(
      "stack", [](const std::vector<Tensor>& tensors, int64_t dim) { return hci::stack(tensors, dim); },
      py::arg("tensors"), py::arg("dim") = 0);
  tensor
      .def("index_select",
           [](const Tensor& t, int64_t dim, const py::object& index) { return t.index_select(dim, to_tensor(index)); })
      .def("gather",
           [](const Tensor& t, int64_t dim, const py::object& index) { return t.gather(dim, to_tensor(index)); })
      .def("masked_fill", [](const Tensor& t, const Tensor& mask,
                             const py::object& value) { return t.masked_fill(mask, to_scalar(value)); })
      .def("masked_fill_",
           [](const py::object& self, const Tensor& mask, const py::object& value) {
             const hci::Scalar number = to_scalar(value);
             return in_place_alone([&](Tensor& t) { t.masked_fill_(mask, number); })(self);
           })
      .def("scatter_add", [](const Tensor& t, int64_t dim, const py::object& index,
                             const Tensor& src) { return t.scatter_add(dim, to_tensor(index), src); })
      .def("scatter_add_",
           [](const py::object& self, int64_t dim, const py::object& index, const Tensor& src) {
             const Tensor positions = to_tensor(index);
             return in_place_alone([&](Tensor& t) { t.scatter_add_(dim, positions, src); })(self);
           })
      .def(
          "index_put",
          [](const Tensor& t, const py::tuple& indices, const py::object& values, bool accumulate) {
            return t.index_put(to_indices(indices), to_tensor(values), accumulate);
          },
          py::arg("indices"), py::arg("values"), py::arg("accumulate") = false)
      .def(
          "index_put_",
          [](const py::object& self, const py::tuple& indices, const py::object& values, bool accumulate) {
            const std::vector<Tensor> positions = to_indices(indices);
            const Tensor written = to_tensor(values, self.cast<const Tensor&>().dtype());
            return in_place_alone([&](Tensor& t) { t.index_put_(positions, written, accumulate); })(self);
          },
          py::arg("indices"), py::arg("values"), py::arg("accumulate") = false)
      .def(
          "nonzero", [](const Tensor& t) { return t.nonzero(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "sort", [](const Tensor& t, int64_t dim, bool descending) { return values_indices(t.sort(dim, descending)); },
          py::arg("dim") = -1, py::arg("descending") = false)
      .def(
          "argsort", [](const Tensor& t, int64_t dim, bool descending) { return t.argsort(dim, descending); },
          py::arg("dim") = -1, py::arg("descending") = false)
      .def(
          "topk",
          [](const Tensor& t, int64_t k, int64_t dim, bool largest, bool sorted) {
            return values_indices(t.topk(k, dim, largest, sorted));
          },
          py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true, py::arg("sorted") = true);
}

void bind_products_and_writes(py::class_<Tensor>& tensor) {
  tensor.def("matmul", [](const Tensor& a, const Tensor& b) { return a.matmul(b); })
      .def("__matmul__", [](const Tensor& a, const Tensor& b) { return a.matmul(b); })
      .def("mm", [](const Tensor& a, const Tensor& b) { return a.mm(b); })
      .def("bmm", [](const Tensor& a, const Tensor& b) { return a.bmm(b); })
      .def("copy_",
           [](const py::object& self, const py::object& src) {
             const Tensor source = to_tensor(src, self.cast<const Tensor&>().dtype());
             return in_place_alone([&](Tensor& t) { t.copy_(source); })(self);
           })
      .def("fill_",
           [](const py::object& self, const py::object& value) {
             const hci::Scalar number = to_scalar(value);
             return in_place_alone([&](Tensor& t) { t.fill_(number); })(self);
           })
      .def("zero_", in_place_alone([](Tensor& t) { t.zero_(); }));
}

}  // namespace

void bind_ops(py::module_& m, py::class_<Tensor>& tensor) {
  m.attr("values_indices") = py::module_::import("collections").attr("namedtuple")("values_indices", "values indices");
  bind_elementwise(m, tensor);
  bind_reductions(tensor);
  bind_indexing_ops(m, tensor);
  bind_products_and_writes(tensor);
}

}  // namespace hci_python
