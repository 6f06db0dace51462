//===- TensorReductions.cpp - reductions and matrix products --------------===//
//
// sum, mean, max/min (values and indices with a dim), amax/amin,
// argmax/argmin, softmax, and matmul/mm/bmm.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"


namespace ember::python {
namespace {

/// Reduction dims: None (all), an int or a sequence.
llvm::SmallVector<int64_t, 4> reductionDims(py::handle dim) {
  std::optional<llvm::SmallVector<int64_t, 4>> dims = dimsFromObject(dim);
  return dims ? *dims : llvm::SmallVector<int64_t, 4>{};
}

Tensor withDType(Tensor x, py::handle dtype) {
  std::optional<DType> d = parseDType(dtype);
  return d ? cast(x, *d) : x;
}

py::object valuesIndices(Tensor values, Tensor indices) {
  static py::handle type =
      leak(py::module_::import("ember._size").attr("ValuesIndices"));
  return type(values, indices);
}

py::object minMax(OpCode reduceOp, OpCode argOp, OpCode binaryOp,
                  const Tensor &x, py::handle dim, bool keepdim) {
  if (dim.is_none())
    return py::cast(reduce(reduceOp, x, {}, keepdim));
  if (py::isinstance<Tensor>(dim))
    return py::cast(binary(binaryOp, x, dim.cast<const Tensor &>()));
  int64_t axis = dim.cast<int64_t>();
  return valuesIndices(reduce(reduceOp, x, {axis}, keepdim),
                       argReduce(argOp, x, axis, keepdim));
}

} // namespace

void bindReductions(py::module_ &m, py::class_<Tensor> &cls) {
  defBoth(m, cls, "sum",
          [](const Tensor &x, py::handle dim, bool keepdim, py::handle dtype) {
            return reduce(OpCode::Sum, withDType(x, dtype), reductionDims(dim),
                          keepdim);
          },
          py::arg("dim") = py::none(),
          py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none());
  defBoth(m, cls, "mean",
          [](const Tensor &x, py::handle dim, bool keepdim, py::handle dtype) {
            return reduce(OpCode::Mean, withDType(x, dtype), reductionDims(dim),
                          keepdim);
          },
          py::arg("dim") = py::none(),
          py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none());
  defBoth(m, cls, "max",
          [](const Tensor &x, py::handle dim, bool keepdim) {
            return minMax(OpCode::Max, OpCode::Argmax, OpCode::Maximum, x, dim,
                          keepdim);
          },
          py::arg("dim") = py::none(),
          py::arg("keepdim") = false);
  defBoth(m, cls, "min",
          [](const Tensor &x, py::handle dim, bool keepdim) {
            return minMax(OpCode::Min, OpCode::Argmin, OpCode::Minimum, x, dim,
                          keepdim);
          },
          py::arg("dim") = py::none(),
          py::arg("keepdim") = false);
  defBoth(m, cls, "amax",
          [](const Tensor &x, py::handle dim, bool keepdim) {
            return reduce(OpCode::Max, x, reductionDims(dim), keepdim);
          },
          py::arg("dim") = py::tuple(),
          py::arg("keepdim") = false);
  defBoth(m, cls, "amin",
          [](const Tensor &x, py::handle dim, bool keepdim) {
            return reduce(OpCode::Min, x, reductionDims(dim), keepdim);
          },
          py::arg("dim") = py::tuple(),
          py::arg("keepdim") = false);
  // max/min with a dim give bool tensors indices; argmax/argmin do not
  // (torch skips its kernel where the reduced dim has one element).
  for (auto [name, op] : {std::pair<const char *, OpCode>{"argmax", OpCode::Argmax},
                          std::pair<const char *, OpCode>{"argmin", OpCode::Argmin}}) {
    std::string unsupported = std::string("\"") + name + "_cpu\" not implemented for 'Bool'";
    defBoth(m, cls, name,
            [op, unsupported](const Tensor &x, py::handle dim, bool keepdim) {
              if (x.dtype() == DType::Bool && x.numel() != 0 &&
                  (dim.is_none() ||
                   (x.dim() > 0 &&
                    x.shape()[wrapDim(dim.cast<int64_t>(), x.dim())] != 1)))
                throwError(Error::Kind::Runtime, unsupported);
              return argReduce(op, x, optionalDim(dim), keepdim);
            },
            py::arg("dim") = py::none(),
            py::arg("keepdim") = false);
  }
  defBoth(m, cls, "softmax",
          [](const Tensor &x, int64_t dim, py::handle dtype) {
            return softmax(OpCode::Softmax, withDType(x, dtype), dim);
          },
          py::arg("dim"), py::arg("dtype") = py::none());
  defBoth(m, cls, "log_softmax",
          [](const Tensor &x, int64_t dim, py::handle dtype) {
            return softmax(OpCode::LogSoftmax, withDType(x, dtype), dim);
          },
          py::arg("dim"), py::arg("dtype") = py::none());
  // layer_norm / rms_norm over the innermost dim; ember.nn.functional
  // flattens normalized_shape into it and checks torch's argument rules.
  for (auto [name, op] : {std::pair<const char *, OpCode>{"_layer_norm_rows",
                                                          OpCode::LayerNorm},
                          {"_rms_norm_rows", OpCode::RmsNorm}})
    m.def(name,
          [op](const Tensor &x, py::handle weight, py::handle bias,
               double eps) {
            std::optional<Tensor> w, b;
            if (!weight.is_none())
              w = weight.cast<Tensor>();
            if (!bias.is_none())
              b = bias.cast<Tensor>();
            return normalizeRows(op, x, w ? &*w : nullptr, b ? &*b : nullptr,
                                 eps);
          },
          py::arg("input"), py::arg("weight"), py::arg("bias"),
          py::arg("eps"));
  // Per-row cross-entropy of (N, C) logits against int64 class indices;
  // ember.nn.functional.cross_entropy reduces it.
  m.def("_cross_entropy_rows", &crossEntropyRows, py::arg("input"),
        py::arg("target"), py::arg("ignore_index"));
  // One direction of one RNN/LSTM/GRU layer over a sequence; the modules in
  // ember.nn (python/ember/nn/_rnn.py) build the projections around it.
  m.def(
      "_recurrent_sequence",
      [](int64_t cell, const Tensor &input, const Tensor &h0, py::handle c0,
         const Tensor &weightHh, py::handle biasHh, py::handle weightHr,
         py::handle mask) {
        auto optional = [](py::handle h) -> std::optional<Tensor> {
          if (h.is_none())
            return std::nullopt;
          return h.cast<Tensor>();
        };
        std::optional<Tensor> c = optional(c0), b = optional(biasHh),
                              w = optional(weightHr), k = optional(mask);
        return recurrentSequence(cell, input, h0, c ? &*c : nullptr, weightHh,
                                 b ? &*b : nullptr, w ? &*w : nullptr,
                                 k ? &*k : nullptr);
      },
      py::arg("cell"), py::arg("input"), py::arg("h0"), py::arg("c0"),
      py::arg("weight_hh"), py::arg("bias_hh"), py::arg("weight_hr"),
      py::arg("mask"));
}

void bindLinearAlgebra(py::module_ &m, py::class_<Tensor> &cls) {
  defBoth(m, cls, "matmul", &matmul);
  defBoth(m, cls, "mm", &mm);
  defBoth(m, cls, "bmm", &bmm);
}

} // namespace ember::python
