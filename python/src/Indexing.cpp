//===- Indexing.cpp - x[...] and x[...] = v --------------------------------===//
//
// Basic indices (ints, slices, None, ...) become views; boolean masks and
// integer index tensors (advanced indices) then gather from that view.
// Assignment writes through the basic-index view, or through a mask.
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

#include "ember/Dialect/Shapes.h"

namespace ember::python {
namespace {

/// An advanced index found while applying the basic ones: the tensor and the
/// dim of the view it indexes.
struct AdvancedIndex {
  Tensor index;
  int64_t dim;
};

struct IndexResult {
  Tensor view;
  std::vector<AdvancedIndex> advanced;
};

bool isEllipsis(py::handle item) { return item.ptr() == Py_Ellipsis; }

/// Lists of ints or bools index like tensors. As in torch, an index on
/// another device than `x` (a list made on the host, a CPU mask) moves to
/// `x`'s device.
std::optional<Tensor> asIndexTensor(py::handle item, const Tensor &x) {
  std::optional<Tensor> index;
  if (py::isinstance<Tensor>(item))
    index = item.cast<Tensor>();
  else if (py::isinstance<py::list>(item) && py::len(item) == 0)
    index = empty({0}, DType::Int64); // x[[]]: torch's empty index is long
  else if (py::isinstance<py::list>(item) || py::isinstance<py::array>(item))
    index = tensorFromData(item, std::nullopt);
  if (index && deviceOf(*index) != deviceOf(x))
    index = toDevice(*index, deviceOf(x));
  return index;
}

/// How many dims of the indexed tensor `item` consumes.
int64_t consumedDims(py::handle item, const Tensor &x) {
  if (item.is_none() || isEllipsis(item))
    return 0;
  if (std::optional<Tensor> t = asIndexTensor(item, x))
    return t->dtype() == DType::Bool ? t->dim() : 1;
  return 1;
}

IndexResult applyBasic(const Tensor &x, py::handle index) {
  py::tuple items = py::isinstance<py::tuple>(index)
                        ? py::reinterpret_borrow<py::tuple>(index)
                        : py::make_tuple(index);
  int64_t consumed = 0, ellipses = 0;
  for (py::handle item : items) {
    consumed += consumedDims(item, x);
    ellipses += isEllipsis(item);
  }
  if (ellipses > 1)
    throwError(Error::Kind::Index, "an index can only have a single ellipsis ('...')");
  if (consumed > x.dim())
    throwError(Error::Kind::Index,
               "too many indices for tensor of dimension " +
                   std::to_string(x.dim()) + " (shape " +
                   shapeString(x.shape()) + ")");

  IndexResult result{x, {}};
  int64_t dim = 0;
  for (py::handle item : items) {
    if (item.is_none()) {
      result.view = unsqueeze(result.view, dim++);
    } else if (isEllipsis(item)) {
      dim += x.dim() - consumed;
    } else if (PySlice_Check(item.ptr())) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(item.ptr(), &start, &stop, &step) < 0)
        throw py::error_already_set();
      if (step <= 0)
        throwError(Error::Kind::Value, "step must be greater than zero");
      int64_t end = stop >= PY_SSIZE_T_MAX ? std::numeric_limits<int64_t>::max()
                                            : int64_t(stop);
      result.view = slice(result.view, dim++, start, end, step);
    } else if (std::optional<Tensor> t = asIndexTensor(item, x)) {
      if (t->dtype() == DType::Bool) {
        result.advanced.push_back({*t, dim});
        dim += t->dim();
      } else if (t->dtype() == DType::Int64 || t->dtype() == DType::Int32) {
        result.advanced.push_back({*t, dim++});
      } else {
        throwError(Error::Kind::Index,
                   std::string("tensors used as indices must be long, int or "
                               "bool tensors (got ") +
                       elementTypeName(t->dtype()) + ")");
      }
    } else if (PyIndex_Check(item.ptr()) && !PyBool_Check(item.ptr())) {
      int64_t i = py::cast<int64_t>(py::reinterpret_steal<py::object>(
          PyNumber_Index(item.ptr())));
      result.view = select(result.view, dim, i);
    } else {
      throwError(Error::Kind::Index,
                 std::string("only integers, slices (`:`), ellipsis (`...`), "
                             "None and long or bool tensors are valid indices "
                             "(got ") +
                     Py_TYPE(item.ptr())->tp_name + ")");
    }
  }
  return result;
}

/// Moves dims [first, first + count) of x to the front.
Tensor moveToFront(const Tensor &x, int64_t first, int64_t count) {
  llvm::SmallVector<int64_t, 4> perm;
  for (int64_t d = first; d < first + count; ++d)
    perm.push_back(d);
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < first || d >= first + count)
      perm.push_back(d);
  return permute(x, perm);
}

/// Integer index tensors on consecutive dims: the linear index into those
/// dims merged into one, gathered once.
Tensor gatherConsecutive(const Tensor &view,
                         const std::vector<AdvancedIndex> &advanced) {
  int64_t first = advanced.front().dim;
  for (size_t i = 0; i < advanced.size(); ++i)
    if (advanced[i].dim != first + int64_t(i) ||
        advanced[i].index.dtype() == DType::Bool)
      throwError(Error::Kind::NotImplemented,
                 "indexing with several index tensors is only implemented "
                 "for integer index tensors on adjacent dims");
  if (advanced.size() == 1)
    return gather(view, first, advanced.front().index);
  Shape merged(view.shape().begin(), view.shape().begin() + first);
  int64_t mergedSize = 1;
  for (size_t i = 0; i < advanced.size(); ++i)
    mergedSize *= view.shape()[first + i];
  merged.push_back(mergedSize);
  merged.append(view.shape().begin() + first + advanced.size(),
                view.shape().end());
  // linear = sum(normalized index_k * stride_k) over the merged dims.
  std::optional<Tensor> linear;
  int64_t stride = 1;
  // An empty result: torch does not look at the indices.
  bool emptyResult = false;
  for (int64_t d = 0; d < view.dim(); ++d)
    if (view.shape()[d] == 0 && (d < first || d >= first + int64_t(advanced.size())))
      emptyResult = true;
  for (const AdvancedIndex &a : advanced)
    emptyResult |= a.index.numel() == 0;
  for (size_t i = advanced.size(); i-- > 0;) {
    int64_t size = view.shape()[first + i];
    Tensor index = cast(advanced[i].index, DType::Int64);
    if (!emptyResult)
      checkIndexBounds(index, first + i, view.shape());
    Tensor wrapped = where(compare(Comparison::Lt, index, Scalar::fromInt(0)),
                           binary(OpCode::Add, index, Scalar::fromInt(size)),
                           index);
    Tensor term = binary(OpCode::Mul, wrapped, Scalar::fromInt(stride));
    linear = linear ? binary(OpCode::Add, *linear, term) : term;
    stride *= size;
  }
  return gather(reshape(view, merged), first, *linear);
}

/// torch's index_put takes a tensor value only in the destination's dtype.
void checkPutDType(const Tensor &view, const Operand &value) {
  if (value.tensor && value.tensor->dtype() != view.dtype())
    throwError(Error::Kind::Runtime,
               std::string("Index put requires the source and destination "
                           "dtypes match, got ") +
                   elementTypeTorchName(view.dtype()) + " for the destination and " +
                   elementTypeTorchName(value.tensor->dtype()) + " for the source.");
}

/// Reads an integer tensor's values on the host.
std::vector<int64_t> hostIndices(const Tensor &index) {
  Tensor dense = contiguous(cast(toDevice(index, Backend::Cpu), DType::Int64));
  const int64_t *data = static_cast<const int64_t *>(dense.data());
  return std::vector<int64_t>(data, data + dense.numel());
}

/// view[..., i0, i1, ...] = value for integer index tensors on consecutive
/// dims: the view's new value is computed whole (each indexed position takes
/// the value of its last occurrence in the indices, as torch's CPU kernel
/// leaves it) and written through the view.
void putConsecutive(const Tensor &view,
                    const std::vector<AdvancedIndex> &advanced,
                    const Operand &value) {
  int64_t first = advanced.front().dim;
  for (size_t i = 0; i < advanced.size(); ++i)
    if (advanced[i].dim != first + int64_t(i) ||
        advanced[i].index.dtype() == DType::Bool)
      throwError(Error::Kind::NotImplemented,
                 "assignment through several index tensors is only "
                 "implemented for integer index tensors on adjacent dims");
  size_t count = advanced.size();
  checkPutDType(view, value);
  // The indices broadcast together.
  Shape indexShape;
  for (const AdvancedIndex &a : advanced) {
    std::optional<llvm::SmallVector<int64_t>> joined =
        broadcastShapes(indexShape, a.index.shape());
    if (!joined)
      throwError(Error::Kind::Index,
                 "shape mismatch: indexing tensors could not be broadcast "
                 "together with shapes " +
                     shapeString(indexShape) + ", " +
                     shapeString(a.index.shape()));
    indexShape.assign(joined->begin(), joined->end());
  }
  llvm::ArrayRef<int64_t> shape = view.shape();
  Shape resultShape(shape.begin(), shape.begin() + first);
  resultShape.append(indexShape.begin(), indexShape.end());
  resultShape.append(shape.begin() + first + count, shape.end());
  // The value broadcasts to what view[indices] would be.
  std::optional<Tensor> rows;
  if (value.tensor) {
    if (!broadcastShapes(value.tensor->shape(), resultShape) ||
        value.tensor->dim() > int64_t(resultShape.size()))
      throwError(Error::Kind::Runtime,
                 "shape mismatch: value tensor of shape " +
                     shapeString(value.tensor->shape()) +
                     " cannot be broadcast to indexing result of shape " +
                     shapeString(resultShape));
    rows = expand(*value.tensor, resultShape);
  }
  // Nothing to write: torch does not look at the indices either.
  if (view.numel() == 0)
    return;
  int64_t merged = 1;
  for (size_t i = 0; i < count; ++i)
    merged *= shape[first + i];
  int64_t picks = shapeNumel(indexShape);
  // linear[j]: the merged position the j-th index tuple writes.
  std::vector<int64_t> linear(picks, 0);
  int64_t stride = 1;
  for (size_t i = count; i-- > 0;) {
    int64_t size = shape[first + i];
    Tensor index = advanced[i].index;
    checkIndexBounds(index, first + i, shape);
    std::vector<int64_t> values =
        hostIndices(expand(index, indexShape));
    for (int64_t j = 0; j < picks; ++j)
      linear[j] += (values[j] < 0 ? values[j] + size : values[j]) * stride;
    stride *= size;
  }
  if (picks == 0 || merged == 0)
    return;
  std::vector<int64_t> source(merged, -1);
  for (int64_t j = 0; j < picks; ++j)
    source[linear[j]] = j;
  std::vector<uint8_t> hit(merged);
  for (int64_t p = 0; p < merged; ++p) {
    hit[p] = source[p] >= 0;
    source[p] = std::max<int64_t>(source[p], 0);
  }
  // The mask over the indexed dims, broadcast over the rest.
  Shape maskShape(first, 1);
  maskShape.append(shape.begin() + first, shape.begin() + first + count);
  maskShape.append(shape.size() - first - count, 1);
  Tensor mask = toDevice(fromData(hit.data(), maskShape, DType::Bool),
                         deviceOf(view));
  Tensor updated;
  if (rows) {
    // rows with the index dims merged, gathered at each position's source.
    Shape flatShape(resultShape.begin(), resultShape.begin() + first);
    flatShape.push_back(picks);
    flatShape.append(shape.begin() + first + count, shape.end());
    Tensor flat = reshape(contiguous(*rows), flatShape);
    Tensor sources = toDevice(
        fromData(source.data(), {merged}, DType::Int64), deviceOf(view));
    Tensor picked = gather(flat, first, sources);
    updated = where(mask, reshape(picked, shape), view);
  } else {
    updated = where(mask, value, view);
  }
  assign(view, cast(updated, view.dtype()));
}

Tensor getItem(const Tensor &x, py::handle index) {
  IndexResult r = applyBasic(x, index);
  if (r.advanced.empty())
    return r.view;
  if (r.advanced.size() == 1 && r.advanced.front().index.dtype() == DType::Bool) {
    const AdvancedIndex &mask = r.advanced.front();
    if (mask.dim == 0)
      return maskedSelect(r.view, mask.index);
    // Mask over middle dims: bring them to the front, select, move back.
    Tensor front = moveToFront(r.view, mask.dim, mask.index.dim());
    Tensor selected = maskedSelect(front, mask.index);
    llvm::SmallVector<int64_t, 4> perm;
    for (int64_t d = 1; d <= mask.dim; ++d)
      perm.push_back(d);
    perm.insert(perm.begin() + mask.dim, 0);
    for (int64_t d = mask.dim + 1; d < selected.dim(); ++d)
      perm.push_back(d);
    return permute(selected, perm);
  }
  return gatherConsecutive(r.view, r.advanced);
}

void setItem(const Tensor &x, py::handle index, py::handle value) {
  std::optional<PyOperand> operand = toOperand(value);
  std::optional<Tensor> converted;
  if (!operand) {
    // Values given as lists or arrays go to the tensor's device.
    converted = toDevice(tensorFromData(value, x.dtype()), deviceOf(x));
    operand = PyOperand{converted, Scalar::fromInt(0)};
  }
  // torch drops the value's leading size-1 dims before broadcasting it
  // (x[1] = t of shape [1, n] writes a row of n).
  if (operand->tensor) {
    llvm::ArrayRef<int64_t> shape = operand->tensor->shape();
    size_t lead = 0;
    while (lead < shape.size() && shape[lead] == 1)
      ++lead;
    if (lead)
      operand->tensor = reshape(*operand->tensor, shape.drop_front(lead));
  }
  IndexResult r = applyBasic(x, index);
  if (r.advanced.empty()) {
    // One value fills (a broadcast view too, as torch's fill_); a tensor
    // of values copies.
    if (!operand->tensor || operand->tensor->dim() == 0)
      fill(r.view, operand->get());
    else
      assign(r.view, operand->get());
    return;
  }
  if (r.advanced.size() == 1 && r.advanced.front().index.dtype() == DType::Bool) {
    const AdvancedIndex &mask = r.advanced.front();
    Tensor target = mask.dim == 0
                        ? r.view
                        : moveToFront(r.view, mask.dim, mask.index.dim());
    // One element fills (masked_fill, any dtype); more are an index_put, as
    // is a 0-d mask (x[True] = v).
    if (operand->tensor &&
        (operand->tensor->numel() != 1 || mask.index.dim() == 0))
      checkPutDType(target, operand->get());
    maskedFill(target, mask.index, operand->get());
    return;
  }
  putConsecutive(r.view, r.advanced, operand->get());
}

} // namespace

void bindIndexing(py::class_<Tensor> &cls) {
  cls.def("__getitem__", &getItem);
  cls.def("__setitem__", &setItem);
}

} // namespace ember::python
