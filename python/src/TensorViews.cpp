//===- TensorViews.cpp - shapes, views and gathers ------------------------===//
//
// reshape/view/permute/expand and friends, concatenation, and the gather
// and scatter primitives the indexing decompositions use.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include <pybind11/stl.h>

namespace ember::python {
namespace {

Shape shapeOrArgs(const py::args &args) { return shapeFromArgs(args); }

} // namespace

void bindTensorViews(py::module_ &m, py::class_<Tensor> &cls) {
  cls.def("reshape", [](const Tensor &x, py::args shape) {
    return reshape(x, shapeOrArgs(shape));
  });
  m.def("reshape", [](const Tensor &x, py::handle shape) {
    return reshape(x, shapeFromObject(shape));
  });
  cls.def("view", [](const Tensor &x, py::args shape) {
    return view(x, shapeOrArgs(shape));
  });
  cls.def("view_as", [](const Tensor &x, const Tensor &other) {
    return view(x, other.shape());
  });
  cls.def("reshape_as", [](const Tensor &x, const Tensor &other) {
    return reshape(x, other.shape());
  });
  defBoth(m, cls, "flatten", &flatten,
          py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  defBoth(m, cls, "transpose", &transpose);
  m.def("permute", [](const Tensor &x, py::handle dims) {
    return permute(x, shapeFromObject(dims));
  });
  cls.def("permute", [](const Tensor &x, py::args dims) {
    return permute(x, shapeOrArgs(dims));
  });
  cls.def_property_readonly("T", [](const Tensor &x) {
    llvm::SmallVector<int64_t, 4> perm;
    for (int64_t d = x.dim(); d-- > 0;)
      perm.push_back(d);
    return permute(x, perm);
  });
  defBoth(m, cls, "t", [](const Tensor &x) {
    if (x.dim() > 2)
      throwError(Error::Kind::Runtime,
                 "t() expects a tensor with <= 2 dimensions, but self is " +
                     std::to_string(x.dim()) + "D");
    return x.dim() < 2 ? x : transpose(x, 0, 1);
  });
  cls.def("expand", [](const Tensor &x, py::args sizes) {
    return expand(x, shapeOrArgs(sizes));
  });
  cls.def("expand_as", [](const Tensor &x, const Tensor &other) {
    return expand(x, other.shape());
  });
  m.def("broadcast_to", [](const Tensor &x, py::handle shape) {
    return expand(x, shapeFromObject(shape));
  });
  defBoth(m, cls, "unsqueeze", &unsqueeze);
  defBoth(m, cls, "squeeze",
          [](const Tensor &x, py::handle dim) { return squeeze(x, optionalDim(dim)); },
          py::arg("dim") = py::none());
  cls.def("contiguous", &contiguous);
  defBoth(m, cls, "clone", &clone);
  cls.def("detach", &detach);
  m.def("detach", &detach);
  m.def("cat",
        [](std::vector<Tensor> tensors, int64_t dim) { return cat(tensors, dim); },
        py::arg("tensors"), py::arg("dim") = 0);
  m.def("concat",
        [](std::vector<Tensor> tensors, int64_t dim) { return cat(tensors, dim); },
        py::arg("tensors"), py::arg("dim") = 0);
  m.def("stack",
        [](std::vector<Tensor> tensors, int64_t dim) { return stack(tensors, dim); },
        py::arg("tensors"), py::arg("dim") = 0);
  m.def("_scatter_add_along", [](const Tensor &dest, int64_t dim,
                                 const Tensor &indices, const Tensor &updates) {
    return scatterAdd(dest, dim, indices, updates);
  });
  defBoth(m, cls, "index_select",
          [](const Tensor &x, int64_t dim, const Tensor &index) {
            if (index.dim() > 1)
              throwError(Error::Kind::Index,
                         "index_select(): Index is supposed to be a vector");
            return gather(x, dim, index);
          });
  // torch.index_select refuses negative indices (the decompositions that
  // use the primitive above take them, as x[index] does).
  m.def("_check_index_select", [](const Tensor &x, int64_t dim,
                                  const Tensor &index) {
    if (x.dim() > 0 &&
        (index.dtype() == DType::Int64 || index.dtype() == DType::Int32))
      checkIndexBounds(index, wrapDim(dim, x.dim()), x.shape(),
                       /*allowNegative=*/false);
  });
  defBoth(m, cls, "masked_select", &maskedSelect);
}

} // namespace ember::python
