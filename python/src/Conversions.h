//===- Conversions.h - Python <-> eager frontend values ---------*- C++ -*-===//
//
// Shared by the binding files: dtype objects, operands, shapes, NumPy.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_PYTHON_CONVERSIONS_H
#define EMBER_PYTHON_CONVERSIONS_H

#include "ember/Frontend/Tensor.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>

namespace ember::python {

namespace py = pybind11;

/// Keeps `object` alive for the whole process: function-local statics must
/// not drop references after the interpreter has shut down.
inline py::handle leak(py::object object) { return object.release(); }

/// The Python `ember.dtype` object wrapping a DType.
struct PyDType {
  DType dtype;
};

/// The singleton Python object for `dtype` (`x.dtype is ember.float32`).
py::object dtypeObject(DType dtype);
/// A dtype argument: an ember.dtype, None (-> fallback), or a NumPy/torch
/// spelling such as "float32".
std::optional<DType> parseDType(py::handle object);

/// A Python number (bool, int, float, NumPy scalar) as a Scalar.
std::optional<Scalar> toScalar(py::handle object);

/// A tensor or number operand; nullopt when `object` is neither.
struct PyOperand {
  std::optional<Tensor> tensor;
  Scalar scalar = Scalar::fromInt(0);
  Operand get() const { return tensor ? Operand(*tensor) : Operand(scalar); }
};
std::optional<PyOperand> toOperand(py::handle object);

/// Sizes from `f(2, 3)`, `f((2, 3))` or `f([2, 3])`.
Shape shapeFromArgs(const py::args &args);
Shape shapeFromObject(py::handle object);
/// dims from None, an int, or a sequence of ints.
std::optional<llvm::SmallVector<int64_t, 4>> dimsFromObject(py::handle object);

/// `ember.tensor(data)`: nested sequences, numbers, NumPy arrays, tensors.
Tensor tensorFromData(py::handle data, std::optional<DType> dtype);
/// Shares memory with a NumPy array when it is contiguous and aligned.
Tensor tensorFromNumpy(py::array array);
/// A NumPy view of x's memory (computed first when pending).
py::array tensorToNumpy(const Tensor &x);

void bindTensor(py::module_ &m);
/// ember.export and .ember models (ModelBindings.cpp).
void bindModel(py::module_ &m);
/// ember._ember._distributed: stores, process groups, collectives
/// (DistributedBindings.cpp).
void bindDistributed(py::module_ &m);
void bindIndexing(py::class_<Tensor> &cls);

} // namespace ember::python

#endif // EMBER_PYTHON_CONVERSIONS_H
