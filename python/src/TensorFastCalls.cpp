//===- TensorFastCalls.cpp - operators and item() without pybind11 calls --===//
//
// `x + 1.0` on an ember.Tensor would otherwise go through CPython's generic
// slot (which looks `__add__` up by name and calls it) and pybind11's
// dispatcher (argument loaders, a type lookup per cast): about a third of
// the cost of a per-op loop `y = x + 1; y.item()`. These slots compute the
// same thing directly: the forward form when the left operand is a tensor,
// the reflected form otherwise, NotImplemented for operands that are neither
// tensors nor numbers, and errors translated by pybind11's translators.
// `__add__` and the rest stay bound as methods (explicit calls, Python
// subclasses such as nn.Parameter, whose types get CPython's generic slot).
// `item` is a plain CPython method (METH_NOARGS) for the same reason: the
// read after each op must not pay for pybind11's dispatcher.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include <memory>
#include <type_traits>

namespace ember::python {
namespace {

PyTypeObject *tensorType = nullptr;
const py::detail::type_info *tensorInfo = nullptr;

/// The tensor `object` holds, or null when it is not an ember.Tensor.
const Tensor *asTensor(PyObject *object) {
  if (Py_TYPE(object) != tensorType && !PyType_IsSubtype(Py_TYPE(object), tensorType))
    return nullptr;
  auto *instance = reinterpret_cast<py::detail::instance *>(object);
  return static_cast<const Tensor *>(
      instance->get_value_and_holder(tensorInfo, /*throw_if_missing=*/false).value_ptr());
}

/// A tensor or a Python number, as the bound `__add__` accepts it.
std::optional<Operand> asOperand(PyObject *object, const Tensor *tensor) {
  if (tensor)
    return Operand(*tensor);
  if (std::optional<Scalar> scalar = toScalar(object))
    return Operand(*scalar);
  return std::nullopt;
}

/// A new ember.Tensor owning `result`: what pybind11's cast (move policy)
/// and class_<Tensor>::init_instance do, with the type's info found once
/// rather than by hashing its name for every result.
PyObject *toPython(Tensor result) {
  auto object = py::reinterpret_steal<py::object>(py::detail::make_new_instance(tensorType));
  auto *instance = reinterpret_cast<py::detail::instance *>(object.ptr());
  instance->owned = true;
  py::detail::value_and_holder slot = instance->get_value_and_holder(tensorInfo);
  auto *tensor = new Tensor(std::move(result));
  slot.value_ptr() = tensor;
  py::detail::register_instance(instance, tensor, tensorInfo);
  slot.set_instance_registered();
  // class_<Tensor>'s holder: the default std::unique_ptr.
  new (std::addressof(slot.holder<std::unique_ptr<Tensor>>())) std::unique_ptr<Tensor>(tensor);
  slot.set_holder_constructed();
  return object.release().ptr();
}

/// Sets the Python error for the exception being handled, as pybind11's
/// dispatcher does (module-local translators, then global ones).
void translateCurrentException() {
  if (py::detail::apply_exception_translators(
          py::detail::get_local_internals().registered_exception_translators))
    return;
  if (py::detail::apply_exception_translators(
          py::detail::get_internals().registered_exception_translators))
    return;
  PyErr_SetString(PyExc_SystemError, "Exception escaped from default exception translator!");
}

template <OpCode op>
PyObject *binarySlot(PyObject *lhs, PyObject *rhs) {
  try {
    const Tensor *left = asTensor(lhs);
    const Tensor *right = asTensor(rhs);
    std::optional<Operand> a = asOperand(lhs, left), b = asOperand(rhs, right);
    // A tensor on either side (the slot is only called then) and a number
    // or tensor on the other: x op y, or the reflected y.__rop__(x).
    if ((!left && !right) || !a || !b)
      Py_RETURN_NOTIMPLEMENTED;
    return toPython(binary(op, *a, *b));
  } catch (py::error_already_set &error) {
    error.restore();
  } catch (...) {
    translateCurrentException();
  }
  return nullptr;
}

PyObject *itemMethod(PyObject *self, PyObject *) {
  try {
    const Tensor *x = asTensor(self);
    if (!x)
      throwError(Error::Kind::Type, "item(): self is not an initialized ember.Tensor");
    if (deviceOf(*x) == Backend::Cpu)
      return itemOf(*x).release().ptr();
    return itemOf(toDevice(*x, Backend::Cpu)).release().ptr();
  } catch (py::error_already_set &error) {
    error.restore();
  } catch (...) {
    translateCurrentException();
  }
  return nullptr;
}

PyMethodDef itemDefinition = {
    "item", itemMethod, METH_NOARGS,
    "item() -> number\n\nThe value of a one-element tensor as a Python number "
    "(computed first when pending)."};

} // namespace

void installFastCalls(py::class_<Tensor> &cls) {
  static_assert(std::is_same_v<py::class_<Tensor>::holder_type, std::unique_ptr<Tensor>>,
                "toPython constructs this holder");
  tensorType = reinterpret_cast<PyTypeObject *>(cls.ptr());
  tensorInfo = py::detail::get_type_info(typeid(Tensor));
  PyNumberMethods *number = tensorType->tp_as_number;
  number->nb_add = binarySlot<OpCode::Add>;
  number->nb_subtract = binarySlot<OpCode::Sub>;
  number->nb_multiply = binarySlot<OpCode::Mul>;
  number->nb_true_divide = binarySlot<OpCode::Div>;
  number->nb_remainder = binarySlot<OpCode::Remainder>;
  number->nb_and = binarySlot<OpCode::And>;
  number->nb_or = binarySlot<OpCode::Or>;
  number->nb_xor = binarySlot<OpCode::Xor>;
  number->nb_lshift = binarySlot<OpCode::ShiftLeft>;
  number->nb_rshift = binarySlot<OpCode::ShiftRight>;
  py::object item = py::reinterpret_steal<py::object>(
      PyDescr_NewMethod(tensorType, &itemDefinition));
  if (!item || PyObject_SetAttrString(cls.ptr(), "item", item.ptr()) != 0)
    throw py::error_already_set();
}

bool fastCallsInstalled() {
  if (!tensorType || tensorType->tp_as_number->nb_add != binarySlot<OpCode::Add> ||
      tensorType->tp_as_number->nb_multiply != binarySlot<OpCode::Mul>)
    return false;
  PyObject *item = PyDict_GetItemString(tensorType->tp_dict, "item");
  return item && Py_TYPE(item) == &PyMethodDescr_Type &&
         reinterpret_cast<PyMethodDescrObject *>(item)->d_method == &itemDefinition;
}

} // namespace ember::python
