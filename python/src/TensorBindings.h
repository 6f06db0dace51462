//===- TensorBindings.h - the ember.Tensor binding files --------*- C++ -*-===//
//
// ember.Tensor's bindings are split by area (TensorBindings.cpp: the class,
// its properties, values and conversions; TensorOperators.cpp: operators and
// element-wise ops; TensorReductions.cpp; TensorViews.cpp;
// AutogradBindings.cpp; Indexing.cpp). bindTensor calls them in a fixed
// order (pybind11 tries overloads in the order they were bound).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_PYTHON_TENSORBINDINGS_H
#define EMBER_PYTHON_TENSORBINDINGS_H

#include "Conversions.h"

#include <optional>

namespace ember::python {

/// Binds `f` as a method and as a module function; `extra` annotates the
/// arguments after the tensor.
template <typename Class, typename F, typename... Extra>
void defBoth(py::module_ &m, Class &cls, const char *name, F f,
             const Extra &...extra) {
  cls.def(name, f, extra...);
  if constexpr (sizeof...(Extra) == 0)
    m.def(name, f);
  else
    m.def(name, f, py::arg("input"), extra...);
}

/// A dim argument: None or an int.
inline std::optional<int64_t> optionalDim(py::handle dim) {
  if (dim.is_none())
    return std::nullopt;
  return dim.cast<int64_t>();
}

/// Python operators (arithmetic, bitwise, comparisons).
void bindTensorOperators(py::module_ &m, py::class_<Tensor> &cls);
/// Element-wise ops from the op vocabulary, logical ops, fills, clamp, where.
void bindElementwiseOps(py::module_ &m, py::class_<Tensor> &cls);
void bindReductions(py::module_ &m, py::class_<Tensor> &cls);
/// ember._ember._attention (F.scaled_dot_product_attention's op).
void bindAttention(py::module_ &m);
/// ember._ember._conv / _conv_transpose (F.conv*d's and F.conv_transpose*d's ops).
void bindConv(py::module_ &m);
/// C++ custom ops (TensorCustomOps.cpp).
void bindCustomOps(py::module_ &m);
/// ember._ember._all_reduce and the process-group helpers of the graph
/// collectives (ember.distributed._graph).
void bindCollectives(py::module_ &m);
void bindLinearAlgebra(py::module_ &m, py::class_<Tensor> &cls);
/// Shapes and views, concatenation, gathers.
void bindTensorViews(py::module_ &m, py::class_<Tensor> &cls);
/// requires_grad, grad, backward and ember.autograd.grad.
void bindAutograd(py::module_ &m, py::class_<Tensor> &cls);
/// The trace of an autograd.Function's backward (CustomFunctionBindings.cpp).
void bindCustomFunction(py::module_ &m);
/// share_memory_, is_shared and the descriptor passing of
/// ember.multiprocessing (SharedMemoryBindings.cpp).
void bindSharedMemory(py::module_ &m, py::class_<Tensor> &cls);
/// Python's binary operators (+, -, *, /, %, &, |, ^, <<, >>) as direct
/// number slots of the Tensor type and `item` as a plain CPython method
/// (TensorFastCalls.cpp); called after the methods are bound, since
/// binding `__add__` resets the slot.
void installFastCalls(py::class_<Tensor> &cls);
/// Whether the slots and `item` are still the direct ones (a later
/// `Tensor.__add__ = f` from Python would give the type CPython's generic
/// slot again).
bool fastCallsInstalled();
/// x.item() of a CPU tensor: its one element as a Python number.
py::object itemOf(const Tensor &x);

} // namespace ember::python

#endif // EMBER_PYTHON_TENSORBINDINGS_H
