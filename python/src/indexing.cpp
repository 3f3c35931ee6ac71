// Subscripts, t[key] and t[key] = value, read as NumPy and PyTorch read them: ints, slices,
// None, Ellipsis, and index tensors (integer positions or bool masks, as hci tensors or as
// anything hci.tensor takes: lists, NumPy arrays). Ints, slices and None make views; index
// tensors gather (reading) or scatter (writing).
#include "bindings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <utility>

namespace hci_python {
namespace {

// A subscript applied to a tensor: `view` is the tensor after the subscript's ints, slices, None
// and Ellipsis (a view, never a copy). Each of view's dims taken by an index tensor is paired with
// its positions, int64 and counted from 0. The result takes the positions' broadcast shape in
// place of those dims: where the first of them is when they are next to each other in the view,
// else in front. (PyTorch's rule. NumPy's counts ints as index tensors, and puts the shape in
// front in x[0, :, [0, 1]].)
struct Applied {
  Tensor view;
  std::vector<int64_t> dims;
  std::vector<Tensor> positions;
  bool in_front = false;
};

bool is_index_int(const py::handle& item) {
  if (PyBool_Check(item.ptr()) || py::isinstance<Tensor>(item) || !PyIndex_Check(item.ptr())) return false;
  // NumPy arrays have __index__, but only a 0-dim one of integers is an int (a bool one is a mask).
  return !py::hasattr(item, "ndim") || (item.attr("ndim").cast<int64_t>() == 0 &&
                                        py::str(item.attr("dtype").attr("kind")).cast<std::string>() != "b");
}

// PyTorch's reading of a subscript that is not a tuple: a list (or other sequence) of fewer than
// 32 items holding a slice, None, Ellipsis, a tensor or a sequence is one, as NumPy read it once
// (t[[[0, 1], [1, 2]]] is t[[0, 1], [1, 2]]); anything else is a single item.
bool reads_as_tuple(const py::handle& key) {
  if (py::isinstance<py::tuple>(key)) return true;
  if (!py::isinstance<py::list>(key) || py::len(key) >= 32) return false;
  for (const py::handle item : key)
    if (PySlice_Check(item.ptr()) || item.is_none() || item.is(py::ellipsis()) || py::isinstance<Tensor>(item) ||
        (PySequence_Check(item.ptr()) && !py::isinstance<py::str>(item)))
      return true;
  return false;
}

Tensor index_tensor(const py::handle& item, const hci::Device& device) {
  if (!py::isinstance<Tensor>(item) && !py::isinstance<py::bool_>(item) && !py::isinstance<py::list>(item) &&
      !py::isinstance<py::tuple>(item) && !py::hasattr(item, "__array__"))
    throw py::index_error(
        "only ints, slices, None, Ellipsis, and integer or bool tensors (or lists or arrays "
        "of them) are indices, not " +
        std::string(py::str(item.get_type().attr("__name__"))));
  Tensor index = to_tensor(item);
  if (!py::isinstance<Tensor>(item) && index.numel() == 0) index = index.to(hci::kInt64);  // [] is positions
  if (index.dtype() == hci::kUInt8)
    throw py::index_error(
        "uint8 indices are ambiguous (PyTorch reads them as masks, NumPy as positions): "
        "convert them to bool or int64");
  if (index.dtype() != hci::kBool && !hci::is_integral(index.dtype()))
    throw py::index_error(fmt::format("tensors used as indices must be integers or bool, not {}", index.dtype()));
  return index.device() == device ? index : index.to(device);
}

// The positions a bool mask selects over the dims [d, d + mask.dim()) of view (one tensor per dim).
std::vector<Tensor> mask_positions(Tensor& view, int64_t d, const Tensor& mask) {
  if (mask.dim() == 0) {  // t[True] adds a dim of size 1, t[False] one of size 0
    view = view.unsqueeze(d);
    const bool keep = computing([&] { return mask.item<bool>(); });
    const std::vector<int64_t> kept = keep ? std::vector<int64_t>{0} : std::vector<int64_t>{};
    return {hci::from_vector(kept, {int64_t(kept.size())}, hci::TensorOptions(hci::kInt64).device(view.device()))};
  }
  const hci::Dims sizes = view.sizes().vec();
  const hci::Dims covered(sizes.begin() + d, sizes.begin() + d + mask.dim());
  if (covered != mask.sizes().vec())
    throw py::index_error(fmt::format("the mask's shape {} does not match the shape {} it indexes at dim {}",
                                      hci::detail::shape_str(mask.sizes()), hci::detail::shape_str(covered), d));
  const Tensor coordinates = computing([&] { return mask.nonzero(); });
  std::vector<Tensor> positions;
  for (int64_t j = 0; j < mask.dim(); ++j) positions.push_back(coordinates.select(1, j));
  return positions;
}

// A value written into `rank` dims loses its leading dims of size 1 beyond them, as in PyTorch.
Tensor without_leading_ones(Tensor value, size_t rank) {
  while (size_t(value.dim()) > rank && value.size(0) == 1) value = value.squeeze(0);
  return value;
}

// Integer positions counted from 0, after checking each against the size of its dim.
Tensor from_zero(const Tensor& positions, int64_t size, int64_t dim) {
  if (positions.numel() == 0) return positions.to(hci::kInt64);
  const Tensor p = positions.to(hci::kInt64);
  const Tensor outside = hci::logical_or(p < -size, p >= size);
  if (computing([&] { return outside.any().item<bool>(); }))
    throw py::index_error(fmt::format("an index is out of bounds for dim {} of size {}", dim, size));
  return hci::where(p < 0, p + size, p);
}

Applied apply(const Tensor& t, const py::handle& key) {
  std::vector<py::handle> items;
  if (reads_as_tuple(key))
    for (const py::handle item : key) items.push_back(item);
  else
    items.push_back(key);

  // What each item is, and how many of t's dims the items take.
  enum class Kind { Int, Slice, NewAxis, Ellipsis, Index };
  std::vector<Kind> kinds;
  std::vector<Tensor> indices(items.size());
  int64_t taken = 0, ellipses = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const py::handle item = items[i];
    if (is_index_int(item)) {
      kinds.push_back(Kind::Int), ++taken;
    } else if (PySlice_Check(item.ptr())) {
      kinds.push_back(Kind::Slice), ++taken;
    } else if (item.is_none()) {
      kinds.push_back(Kind::NewAxis);
    } else if (item.is(py::ellipsis())) {
      kinds.push_back(Kind::Ellipsis), ++ellipses;
    } else {
      kinds.push_back(Kind::Index);
      indices[i] = index_tensor(item, t.device());
      taken += indices[i].dtype() == hci::kBool ? indices[i].dim() : 1;
    }
  }
  if (ellipses > 1) throw py::index_error("an index can only have a single ellipsis ('...')");
  if (taken > t.dim())
    throw py::index_error(fmt::format("too many indices for a tensor of dimension {} ({} given)", t.dim(), taken));

  Applied a{t};
  int64_t d = 0;  // the next dim of a.view the items apply to
  for (size_t i = 0; i < items.size(); ++i) {
    const py::handle item = items[i];
    switch (kinds[i]) {
      case Kind::Int: {
        const int64_t size = a.view.size(d), index = to_int64(item);
        if (index < -size || index >= size)
          throw py::index_error(fmt::format("index {} is out of bounds for dim {} of size {}", index, d, size));
        a.view = a.view.select(d, index);
        break;
      }
      case Kind::Slice: {
        Py_ssize_t start = 0, stop = 0, step = 0;
        if (PySlice_Unpack(item.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
        if (step <= 0) throw py::value_error("a slice's step must be positive");
        const Py_ssize_t length = PySlice_AdjustIndices(a.view.size(d), &start, &stop, step);
        a.view = a.view.slice(d, start, length ? start + (length - 1) * step + 1 : start, step);
        ++d;
        break;
      }
      case Kind::NewAxis: a.view = a.view.unsqueeze(d++); break;
      case Kind::Ellipsis: d += t.dim() - taken; break;
      case Kind::Index: {
        const Tensor& index = indices[i];
        if (index.dtype() == hci::kBool) {
          for (Tensor& p : mask_positions(a.view, d, index)) {
            a.dims.push_back(d++);
            a.positions.push_back(std::move(p));
          }
        } else {
          a.positions.push_back(from_zero(index, a.view.size(d), d));
          a.dims.push_back(d++);
        }
        break;
      }
    }
  }
  for (size_t j = 1; j < a.dims.size(); ++j) a.in_front |= a.dims[j] != a.dims[j - 1] + 1;
  return a;
}

// How the indexed dims are read and written: a.view with those dims moved to the front (a view),
// the broadcast shape of the positions, and the result's shape.
struct Layout {
  Tensor moved;
  hci::Dims batch, rest, result;  // rest: the dims not indexed
  int64_t batch_at = 0;           // where the batch dims are in the result
};

Layout layout_of(const Applied& a) {
  Layout l;
  try {
    for (const Tensor& p : a.positions) l.batch = hci::detail::broadcast_shapes(l.batch, p.sizes(), "index");
  } catch (const hci::Error&) {
    std::vector<std::string> shapes;
    for (const Tensor& p : a.positions) shapes.push_back(hci::detail::shape_str(p.sizes()));
    throw py::index_error(
        fmt::format("the index tensors' shapes {} do not broadcast together", fmt::join(shapes, ", ")));
  }
  std::vector<int64_t> order(a.dims);
  for (int64_t d = 0; d < a.view.dim(); ++d)
    if (std::find(a.dims.begin(), a.dims.end(), d) == a.dims.end()) order.push_back(d);
  l.moved = a.view.permute(order);
  l.batch_at = a.in_front ? 0 : a.dims.front();
  const hci::Dims moved = l.moved.sizes().vec();
  l.rest.assign(moved.begin() + int64_t(a.dims.size()), moved.end());
  l.result = l.rest;
  l.result.insert(l.result.begin() + l.batch_at, l.batch.begin(), l.batch.end());
  return l;
}

// Where the dims of a tensor laid out as [batch..., rest...] go in the result.
std::vector<int64_t> batch_to(const Layout& l) {
  std::vector<int64_t> order(l.result.size());
  const auto nb = int64_t(l.batch.size());
  std::iota(order.begin(), order.end(), 0);
  std::rotate(order.begin(), order.begin() + nb, order.begin() + nb + l.batch_at);
  return order;
}

Tensor gather(const Applied& a) {
  const Layout l = layout_of(a);
  // One linear position over the indexed dims (in the batch shape), then a single index_select.
  Tensor linear = a.positions.front();
  int64_t count = a.view.size(a.dims.front());
  for (size_t j = 1; j < a.dims.size(); ++j) {
    const int64_t size = a.view.size(a.dims[j]);
    linear = linear * size + a.positions[j];
    count *= size;
  }
  hci::Dims merged{count}, batched(l.batch);
  merged.insert(merged.end(), l.rest.begin(), l.rest.end());
  batched.insert(batched.end(), l.rest.begin(), l.rest.end());
  const Tensor selected = l.moved.reshape(merged).index_select(0, linear.reshape({-1})).reshape(batched);
  return selected.permute(batch_to(l));
}

void scatter(const Applied& a, const py::handle& value) {
  const Layout l = layout_of(a);
  const hci::DType dtype = a.view.dtype();
  Tensor values = is_number(value) ? hci::full({}, to_scalar(value), hci::TensorOptions(dtype).device(a.view.device()))
                                   : without_leading_ones(to_tensor(value, dtype), l.result.size()).to(dtype);
  values = values.to(a.view.device()).expand(l.result);
  // From the result's layout to the moved view's, [batch..., rest...].
  const std::vector<int64_t> to_result = batch_to(l);
  std::vector<int64_t> from_result(to_result.size());
  for (size_t i = 0; i < to_result.size(); ++i) from_result[size_t(to_result[i])] = int64_t(i);
  Tensor target = l.moved;
  computing([&] { target.index_put_(a.positions, values.permute(from_result)); });
}

}  // namespace

void bind_indexing(py::class_<Tensor>& tensor) {
  tensor
      .def("__getitem__",
           [](const Tensor& t, const py::handle& key) {
             Applied a = apply(t, key);
             return a.positions.empty() ? a.view : gather(a);
           })
      .def("__setitem__", [](Tensor& t, const py::handle& key, const py::handle& value) {
        // t[mask] = number, recorded without reading the mask.
        if (py::isinstance<Tensor>(key) && is_number(value)) {
          const Tensor& mask = key.cast<const Tensor&>();
          if (mask.dtype() == hci::kBool && mask.device() == t.device() && mask.sizes().vec() == t.sizes().vec()) {
            const hci::Scalar number = to_scalar(value);
            computing([&] { t.masked_fill_(mask, number); });
            return;
          }
        }
        const Applied a = apply(t, key);
        if (!a.positions.empty()) return scatter(a, value);
        Tensor view = a.view;
        if (is_number(value)) {
          const hci::Scalar number = to_scalar(value);
          computing([&] { view.fill_(number); });
        } else {
          const Tensor source = without_leading_ones(to_tensor(value, view.dtype()), size_t(view.dim()));
          computing([&] { view.copy_(source); });
        }
      });
}

}  // namespace hci_python
