//===- TensorOperators.cpp - operators and element-wise ops ---------------===//
//
// Python's operators on ember.Tensor, and the element-wise ops of the op
// vocabulary (each torch name as a function, a method and an in-place
// method), logical ops, fills, clamp and where.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include <pybind11/stl.h>

#include "llvm/ADT/StringRef.h"

#include <deque>

namespace ember::python {
namespace {

py::object notImplementedObject() {
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

/// Wraps `x op other` for Python operators: NotImplemented when `other` is
/// not a tensor or number, so Python can try the reflected form.
template <typename F>
py::object withOperand(py::handle other, F f) {
  std::optional<PyOperand> operand = toOperand(other);
  if (!operand)
    return notImplementedObject();
  return py::cast(f(operand->get()));
}

PyOperand requireOperand(py::handle other, const char *what) {
  std::optional<PyOperand> operand = toOperand(other);
  if (!operand)
    throwError(Error::Kind::Type,
               std::string(what) + "(): argument 'other' must be a Tensor or a "
                                   "number, not " +
                   Py_TYPE(other.ptr())->tp_name);
  return *operand;
}

/// torch's `out=`: writes `result` into `out` (resizing is not supported:
/// shapes must agree) and returns `out`; returns `result` without one.
py::object withOut(const Tensor &result, py::handle out) {
  if (out.is_none())
    return py::cast(result);
  if (!py::isinstance<Tensor>(out))
    throwError(Error::Kind::Type, std::string("argument 'out' must be Tensor, not ") +
                                      Py_TYPE(out.ptr())->tp_name);
  const Tensor &target = out.cast<const Tensor &>();
  if (target.shape() != result.shape())
    throwError(Error::Kind::Runtime,
               "out= tensor has shape " + shapeString(target.shape()) +
                   " but the result has shape " + shapeString(result.shape()) +
                   " (Ember does not resize out= tensors)");
  if (!canCast(result.dtype(), target.dtype()))
    throwError(Error::Kind::Runtime,
               std::string("result type ") + dtypeTorchName(result.dtype()) +
                   " can't be cast to the desired output type " +
                   dtypeTorchName(target.dtype()));
  assign(target, result);
  return py::reinterpret_borrow<py::object>(out);
}

} // namespace

void bindTensorOperators(py::module_ &m, py::class_<Tensor> &cls) {
  auto binaryOperator = [&cls](const char *name, const char *reflected,
                               const char *inplace, OpCode op) {
    cls.def(name, [op](const Tensor &x, py::handle other) {
      return withOperand(other, [&](Operand o) { return binary(op, x, o); });
    });
    cls.def(reflected, [op](const Tensor &x, py::handle other) {
      return withOperand(other, [&](Operand o) { return binary(op, o, x); });
    });
    cls.def(inplace, [op](py::handle self, py::handle other) -> py::object {
      std::optional<PyOperand> operand = toOperand(other);
      if (!operand)
        return notImplementedObject();
      inplaceBinary(op, self.cast<const Tensor &>(), operand->get());
      return py::reinterpret_borrow<py::object>(self);
    });
  };
  binaryOperator("__add__", "__radd__", "__iadd__", OpCode::Add);
  binaryOperator("__sub__", "__rsub__", "__isub__", OpCode::Sub);
  binaryOperator("__mul__", "__rmul__", "__imul__", OpCode::Mul);
  binaryOperator("__truediv__", "__rtruediv__", "__itruediv__", OpCode::Div);
  binaryOperator("__pow__", "__rpow__", "__ipow__", OpCode::Pow);
  binaryOperator("__mod__", "__rmod__", "__imod__", OpCode::Remainder);
  binaryOperator("__and__", "__rand__", "__iand__", OpCode::And);
  binaryOperator("__or__", "__ror__", "__ior__", OpCode::Or);
  binaryOperator("__xor__", "__rxor__", "__ixor__", OpCode::Xor);
  binaryOperator("__lshift__", "__rlshift__", "__ilshift__", OpCode::ShiftLeft);
  binaryOperator("__rshift__", "__rrshift__", "__irshift__", OpCode::ShiftRight);
  cls.def("__matmul__", [](const Tensor &x, py::handle other) -> py::object {
    if (!py::isinstance<Tensor>(other))
      return notImplementedObject();
    return py::cast(matmul(x, other.cast<const Tensor &>()));
  });
  cls.def("__rmatmul__", [](const Tensor &x, py::handle other) -> py::object {
    if (!py::isinstance<Tensor>(other))
      return notImplementedObject();
    return py::cast(matmul(other.cast<const Tensor &>(), x));
  });
  cls.def("__neg__", [](const Tensor &x) { return unary(OpCode::Neg, x); });
  cls.def("__pos__", [](const Tensor &x) { return x; });
  cls.def("__abs__", [](const Tensor &x) { return unary(OpCode::Abs, x); });
  cls.def("__invert__", [](const Tensor &x) { return unary(OpCode::Not, x); });

  auto comparison = [&cls, &m](const char *dunder, const char *name,
                               Comparison predicate) {
    cls.def(dunder, [predicate](const Tensor &x, py::handle other) {
      return withOperand(other,
                         [&](Operand o) { return compare(predicate, x, o); });
    });
    defBoth(m, cls, name, [predicate](const Tensor &x, py::handle other) {
      PyOperand o = requireOperand(other, "compare");
      return compare(predicate, x, o.get());
    });
  };
  comparison("__eq__", "eq", Comparison::Eq);
  comparison("__ne__", "ne", Comparison::Ne);
  comparison("__lt__", "lt", Comparison::Lt);
  comparison("__le__", "le", Comparison::Le);
  comparison("__gt__", "gt", Comparison::Gt);
  comparison("__ge__", "ge", Comparison::Ge);
}

void bindElementwiseOps(py::module_ &m, py::class_<Tensor> &cls) {
  // Element-wise ops, from the op vocabulary (ODS): each of an op's torch
  // names is an `ember.*` function (with torch's keyword names and `out=`),
  // a Tensor method and an in-place method `name_`.
  static std::deque<std::string> names; // pybind keeps the pointers
  auto forEachName = [](const char *list, auto bind) {
    llvm::SmallVector<llvm::StringRef, 4> split;
    llvm::StringRef(list).split(split, ' ', -1, false);
    for (llvm::StringRef name : split) {
      names.push_back(name.str());
      bind(names.back().c_str());
      names.push_back(name.str() + "_");
      bind.inplace(names.back().c_str());
    }
  };
  struct UnaryBinder {
    py::module_ &m;
    py::class_<Tensor> &cls;
    OpCode op;
    void operator()(const char *name) const {
      OpCode op = this->op;
      cls.def(name, [op](const Tensor &x) { return unary(op, x); });
      m.def(name,
            [op](const Tensor &x, py::handle out) {
              return withOut(unary(op, x), out);
            },
            py::arg("input"), py::kw_only(), py::arg("out") = py::none());
    }
    void inplace(const char *name) const {
      OpCode op = this->op;
      cls.def(name, [op](py::handle self) {
        inplaceUnary(op, self.cast<const Tensor &>());
        return py::reinterpret_borrow<py::object>(self);
      });
    }
  };
  struct BinaryBinder {
    py::module_ &m;
    py::class_<Tensor> &cls;
    OpCode op;
    void operator()(const char *name) const {
      OpCode op = this->op;
      // add and sub scale `other` by `alpha`, as torch's do.
      bool scaled = op == OpCode::Add || op == OpCode::Sub;
      // torch's maximum, minimum and atan2 take tensors only.
      bool tensorOnly = op == OpCode::Maximum || op == OpCode::Minimum ||
                        op == OpCode::Atan2;
      auto compute = [op, name, scaled, tensorOnly](const Operand &x,
                                                    py::handle other,
                                                    py::handle alpha) {
        if (tensorOnly && !py::isinstance<Tensor>(other))
          throwError(Error::Kind::Type,
                     std::string(name) +
                         "(): argument 'other' must be Tensor, not " +
                         Py_TYPE(other.ptr())->tp_name);
        PyOperand operand = requireOperand(other, name);
        if (!alpha.is_none()) {
          if (!scaled)
            throwError(Error::Kind::Type,
                       std::string(name) + "() got an unexpected keyword argument 'alpha'");
          PyOperand factor = requireOperand(alpha, name);
          return binary(op, x, binary(OpCode::Mul, operand.get(), factor.get()));
        }
        return binary(op, x, operand.get());
      };
      cls.def(name,
              [compute](const Tensor &x, py::handle other, py::handle alpha) {
                return compute(Operand(x), other, alpha);
              },
              py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
      // ember.add(2, x): torch takes a number as the input where the other
      // operand is a tensor (fmod does not).
      bool numberInput = op != OpCode::Fmod && !tensorOnly;
      m.def(name,
            [compute, name, numberInput](py::handle input, py::handle other,
                                         py::handle alpha, py::handle out) {
              if (py::isinstance<Tensor>(input))
                return withOut(compute(input.cast<const Tensor &>(), other, alpha),
                               out);
              std::optional<PyOperand> number = toOperand(input);
              if (!numberInput || !number || !py::isinstance<Tensor>(other))
                throwError(Error::Kind::Type,
                           std::string(name) +
                               "(): argument 'input' must be Tensor, not " +
                               Py_TYPE(input.ptr())->tp_name);
              return withOut(compute(number->get(), other, alpha), out);
            },
            py::arg("input"), py::arg("other"), py::kw_only(),
            py::arg("alpha") = py::none(), py::arg("out") = py::none());
    }
    void inplace(const char *name) const {
      OpCode op = this->op;
      cls.def(name, [op, name](py::handle self, py::handle other, py::handle alpha) {
        PyOperand operand = requireOperand(other, name);
        const Tensor &x = self.cast<const Tensor &>();
        if (!alpha.is_none()) {
          PyOperand factor = requireOperand(alpha, name);
          inplaceBinary(op, x, binary(OpCode::Mul, operand.get(), factor.get()));
        } else {
          inplaceBinary(op, x, operand.get());
        }
        return py::reinterpret_borrow<py::object>(self);
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
    }
  };
#define EMBER_UNARY_OP(Name, Mnemonic, Types, TorchNames)                      \
  forEachName(TorchNames, UnaryBinder{m, cls, OpCode::Name});
#define EMBER_BINARY_OP(Name, Mnemonic, Types, TorchNames)                     \
  forEachName(TorchNames, BinaryBinder{m, cls, OpCode::Name});
#include "ember/Dialect/EmberVocabulary.inc"

  // Logical ops compare with zero first, as torch's do.
  auto logical = [&cls, &m](const char *name, OpCode op) {
    auto compute = [op, name](const Tensor &x, py::handle other) {
      if (!py::isinstance<Tensor>(other)) // torch takes tensors only
        throwError(Error::Kind::Type,
                   std::string(name) + "(): argument 'other' must be Tensor, not " +
                       Py_TYPE(other.ptr())->tp_name);
      PyOperand o = requireOperand(other, name);
      return binary(op, compare(Comparison::Ne, x, Scalar::fromInt(0)),
                    compare(Comparison::Ne, o.get(), Scalar::fromInt(0)));
    };
    cls.def(name, compute, py::arg("other"));
    m.def(name,
          [compute](const Tensor &x, py::handle other, py::handle out) {
            return withOut(compute(x, other), out);
          },
          py::arg("input"), py::arg("other"), py::kw_only(),
          py::arg("out") = py::none());
  };
  logical("logical_and", OpCode::And);
  logical("logical_or", OpCode::Or);
  logical("logical_xor", OpCode::Xor);
  cls.def("zero_", [](py::handle self) {
    fill(self.cast<const Tensor &>(), Scalar::fromInt(0));
    return py::reinterpret_borrow<py::object>(self);
  });
  cls.def("fill_", [](py::handle self, py::handle value) {
    fill(self.cast<const Tensor &>(), requireOperand(value, "fill_").get());
    return py::reinterpret_borrow<py::object>(self);
  });
  cls.def("copy_", [](py::handle self, const Tensor &source) {
    // Across devices too: assign copies the source over first, as torch does.
    checkNoPartialOverlap(self.cast<const Tensor &>(), source);
    assign(self.cast<const Tensor &>(), source);
    return py::reinterpret_borrow<py::object>(self);
  });

  defBoth(m, cls, "logical_not", [](const Tensor &x) {
    return compare(Comparison::Eq, x, Scalar::fromInt(0));
  });
  auto clampFn = [](const Tensor &x, py::handle min, py::handle max) {
    // Tensor bounds are element-wise maximum/minimum.
    if (py::isinstance<Tensor>(min) || py::isinstance<Tensor>(max)) {
      Tensor result = x;
      if (!min.is_none())
        result = binary(OpCode::Maximum, result, requireOperand(min, "clamp").get());
      if (!max.is_none())
        result = binary(OpCode::Minimum, result, requireOperand(max, "clamp").get());
      return result;
    }
    return clamp(x, min.is_none() ? std::nullopt : toScalar(min),
                 max.is_none() ? std::nullopt : toScalar(max));
  };
  defBoth(m, cls, "clamp", clampFn, py::arg("min") = py::none(),
          py::arg("max") = py::none());
  defBoth(m, cls, "clip", clampFn, py::arg("min") = py::none(),
          py::arg("max") = py::none());
  cls.def("clamp_", [clampFn](py::handle self, py::handle min, py::handle max) {
    const Tensor &x = self.cast<const Tensor &>();
    Tensor result = clampFn(x, min, max);
    if (!canCast(result.dtype(), x.dtype()))
      throwError(Error::Kind::Runtime,
                 std::string("result type ") + dtypeTorchName(result.dtype()) +
                     " can't be cast to the desired output type " +
                     dtypeTorchName(x.dtype()));
    assign(x, result);
    return py::reinterpret_borrow<py::object>(self);
  }, py::arg("min") = py::none(), py::arg("max") = py::none());
  m.def("where", [](const Tensor &condition, py::handle a, py::handle b) {
    return where(condition, requireOperand(a, "where").get(),
                 requireOperand(b, "where").get());
  });
  // x.where(condition, other) == where(condition, x, other).
  cls.def("where", [](const Tensor &x, const Tensor &condition,
                      py::handle other) {
    return where(condition, x, requireOperand(other, "where").get());
  });
}

} // namespace ember::python
