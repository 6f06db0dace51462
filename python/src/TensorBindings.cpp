//===- TensorBindings.cpp - ember.Tensor and the op functions -------------===//
//
// Every op is a C++ function bound directly (as a Tensor method and, where
// torch has one, as an `ember.*` function), so that an error raised while
// tracing surfaces with the user's line as the traceback's last frame.
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

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

py::object sizeObject(llvm::ArrayRef<int64_t> shape) {
  static py::handle sizeClass = leak(py::module_::import("ember._size").attr("Size"));
  py::tuple dims(shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    dims[i] = py::int_(shape[i]);
  return sizeClass(dims);
}

py::object itemOf(const Tensor &x) {
  if (x.numel() != 1)
    throwError(Error::Kind::Runtime,
               "a Tensor with " + std::to_string(x.numel()) +
                   " elements cannot be converted to Scalar (shape " +
                   shapeString(x.shape()) + ")");
  if (x.dtype() == DType::BFloat16)
    return itemOf(cast(x, DType::Float32));
  py::array a = tensorToNumpy(x);
  return a.attr("reshape")(py::tuple()).attr("item")();
}

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

std::optional<int64_t> optionalDim(py::handle dim) {
  if (dim.is_none())
    return std::nullopt;
  return dim.cast<int64_t>();
}

Shape shapeOrArgs(const py::args &args) { return shapeFromArgs(args); }

/// `.to(dtype)`, `.to("vulkan")`, `.to(other)`, `.to("cuda", dtype)`.
Tensor toImpl(const Tensor &x, const py::args &args, const py::kwargs &kwargs) {
  std::optional<DType> target;
  std::optional<DeviceKind> device;
  auto consider = [&](py::handle arg) {
    if (py::isinstance<PyDType>(arg)) {
      target = arg.cast<PyDType>().dtype;
    } else if (py::isinstance<Tensor>(arg)) {
      target = arg.cast<const Tensor &>().dtype();
      device = deviceOf(arg.cast<const Tensor &>());
    } else if (!arg.is_none()) {
      device = parseDeviceKind(py::str(arg));
    }
  };
  for (py::handle arg : args)
    consider(arg);
  for (auto item : kwargs)
    if (std::string(py::str(item.first)) == "dtype" ||
        std::string(py::str(item.first)) == "device")
      consider(item.second);
  Tensor result = device ? toDevice(x, *device) : x;
  return target ? cast(result, *target) : result;
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

} // namespace

void bindTensor(py::module_ &m) {
  // dynamic_attr: Python subclasses (nn.Parameter) and modules attach
  // attributes to tensors, as with torch.
  py::class_<Tensor> cls(m, "Tensor", py::dynamic_attr());
  // Tensor(other): a new leaf sharing other's storage (how nn.Parameter
  // wraps data).
  cls.def(py::init([](const Tensor &other) { return detach(other); }),
          py::arg("data"));

  // Properties.
  cls.def_property_readonly("shape", [](const Tensor &x) { return sizeObject(x.shape()); })
      .def("size",
           [](const Tensor &x, py::handle dim) -> py::object {
             if (dim.is_none())
               return sizeObject(x.shape());
             return py::int_(x.shape()[wrapDim(dim.cast<int64_t>(), x.dim())]);
           },
           py::arg("dim") = py::none())
      .def("dim", &Tensor::dim)
      .def("ndimension", &Tensor::dim)
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("nelement", &Tensor::numel)
      .def_property_readonly("dtype",
                             [](const Tensor &x) { return dtypeObject(x.dtype()); })
      .def_property_readonly("device", [](const Tensor &x) {
        return py::module_::import("ember._size")
            .attr("device")(deviceKindName(deviceOf(x)));
      })
      .def_property_readonly("is_cuda",
                             [](const Tensor &x) { return deviceOf(x) == DeviceKind::Cuda; })
      .def("stride",
           [](const Tensor &x, py::handle dim) -> py::object {
             if (dim.is_none())
               return py::tuple(py::cast(std::vector<int64_t>(
                   x.strides().begin(), x.strides().end())));
             return py::int_(x.strides()[wrapDim(dim.cast<int64_t>(), x.dim())]);
           },
           py::arg("dim") = py::none())
      .def("storage_offset", &Tensor::offset)
      .def("element_size", [](const Tensor &x) { return dtypeSize(x.dtype()); })
      .def("is_contiguous", &Tensor::isContiguous)
      .def("is_floating_point", [](const Tensor &x) { return isFloating(x.dtype()); })
      .def("data_ptr", [](const Tensor &x) {
        return reinterpret_cast<uintptr_t>(x.data());
      });

  // Values.
  cls.def("numpy", [](const Tensor &x) { return tensorToNumpy(x); })
      .def("__array__",
           [](const Tensor &x, py::handle dtype) -> py::object {
             py::array a = tensorToNumpy(x);
             if (dtype.is_none())
               return a;
             return a.attr("astype")(dtype);
           },
           py::arg("dtype") = py::none())
      .def("item", [](const Tensor &x) { return itemOf(toDevice(x, DeviceKind::Cpu)); })
      .def("tolist", [](const Tensor &x) -> py::object {
        Tensor host = toDevice(x, DeviceKind::Cpu);
        Tensor source = host.dtype() == DType::BFloat16 ? cast(host, DType::Float32) : host;
        return tensorToNumpy(source).attr("tolist")();
      })
      .def("__bool__",
           [](const Tensor &x) {
             if (x.numel() != 1)
               throwError(Error::Kind::Runtime,
                          "Boolean value of Tensor with more than one value is "
                          "ambiguous (shape " +
                              shapeString(x.shape()) + ")");
             return py::bool_(itemOf(toDevice(x, DeviceKind::Cpu)));
           })
      .def("__float__",
           [](const Tensor &x) { return py::float_(itemOf(toDevice(x, DeviceKind::Cpu))); })
      .def("__int__",
           [](const Tensor &x) { return py::int_(itemOf(toDevice(x, DeviceKind::Cpu))); })
      .def("__index__",
           [](const Tensor &x) {
             if (isFloating(x.dtype()) || x.numel() != 1)
               throwError(Error::Kind::Type,
                          "only integer tensors of a single element can be "
                          "converted to an index");
             return py::int_(itemOf(x));
           })
      .def("__len__",
           [](const Tensor &x) {
             if (x.dim() == 0)
               throwError(Error::Kind::Type, "len() of a 0-d tensor");
             return x.shape()[0];
           })
      .def("__iter__",
           [](const Tensor &x) {
             if (x.dim() == 0)
               throwError(Error::Kind::Type, "iteration over a 0-d tensor");
             py::list rows;
             for (int64_t i = 0; i < x.shape()[0]; ++i)
               rows.append(py::cast(select(x, 0, i)));
             return rows.attr("__iter__")();
           })
      .def("__hash__", [](py::handle self) { return reinterpret_cast<intptr_t>(self.ptr()); })
      .def("__repr__", [](py::handle self) {
        static py::handle format =
            leak(py::module_::import("ember._tensor_str").attr("format_tensor"));
        return format(self);
      });

  // Arithmetic operators.
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

  // Reductions.
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
  defBoth(m, cls, "argmax",
          [](const Tensor &x, py::handle dim, bool keepdim) {
            // max/min with a dim give bool tensors indices; argmax does not.
            // (torch skips its kernel where the reduced dim has one element)
            if (x.dtype() == DType::Bool && x.numel() != 0 &&
                (dim.is_none() ||
                 (x.dim() > 0 &&
                  x.shape()[wrapDim(dim.cast<int64_t>(), x.dim())] != 1)))
              throwError(Error::Kind::Runtime,
                         "\"argmax_cpu\" not implemented for 'Bool'");
            return argReduce(OpCode::Argmax, x, optionalDim(dim), keepdim);
          },
          py::arg("dim") = py::none(),
          py::arg("keepdim") = false);
  defBoth(m, cls, "argmin",
          [](const Tensor &x, py::handle dim, bool keepdim) {
            // max/min with a dim give bool tensors indices; argmax does not.
            // (torch skips its kernel where the reduced dim has one element)
            if (x.dtype() == DType::Bool && x.numel() != 0 &&
                (dim.is_none() ||
                 (x.dim() > 0 &&
                  x.shape()[wrapDim(dim.cast<int64_t>(), x.dim())] != 1)))
              throwError(Error::Kind::Runtime,
                         "\"argmin_cpu\" not implemented for 'Bool'");
            return argReduce(OpCode::Argmin, x, optionalDim(dim), keepdim);
          },
          py::arg("dim") = py::none(),
          py::arg("keepdim") = false);
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

  // Linear algebra.
  defBoth(m, cls, "matmul", &matmul);
  defBoth(m, cls, "mm", &mm);
  defBoth(m, cls, "bmm", &bmm);

  // Shapes and views.
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

  // Conversions.
  cls.def("to", [](py::handle self, const py::args &args,
                   const py::kwargs &kwargs) -> py::object {
    const Tensor &x = self.cast<const Tensor &>();
    Tensor result = toImpl(x, args, kwargs);
    if (result.impl == x.impl)
      return py::reinterpret_borrow<py::object>(self);
    return py::cast(result);
  });
  cls.def("type_as", [](const Tensor &x, const Tensor &other) {
    return cast(x, other.dtype());
  });
  // Like torch, a conversion to the tensor's own dtype returns the tensor.
  auto converter = [&cls](const char *name, DType dtype) {
    cls.def(name, [dtype](py::handle self) -> py::object {
      const Tensor &x = self.cast<const Tensor &>();
      if (x.dtype() == dtype)
        return py::reinterpret_borrow<py::object>(self);
      return py::cast(cast(x, dtype));
    });
  };
  converter("float", DType::Float32);
  converter("double", DType::Float64);
  converter("half", DType::Float16);
  converter("bfloat16", DType::BFloat16);
  converter("long", DType::Int64);
  converter("int", DType::Int32);
  converter("bool", DType::Bool);
  cls.def("cpu", [](const Tensor &x) { return toDevice(x, DeviceKind::Cpu); });

  // Autograd.
  cls.def_property(
      "requires_grad", [](const Tensor &x) { return x.requiresGrad(); },
      [](const Tensor &x, bool flag) { setRequiresGrad(x, flag); });
  cls.def("requires_grad_",
          [](py::handle self, bool flag) {
            const Tensor &x = self.cast<const Tensor &>();
            // torch: a no-op on a non-leaf that already requires grad.
            if (!(flag && !x.isLeaf() && x.requiresGrad()))
              setRequiresGrad(x, flag);
            return py::reinterpret_borrow<py::object>(self);
          },
          py::arg("requires_grad") = true);
  cls.def_property_readonly("is_leaf", &Tensor::isLeaf);
  cls.def_property_readonly("grad_fn", [](const Tensor &x) -> py::object {
    std::string name = gradFnName(x);
    if (name.empty())
      return py::none();
    static py::handle type = leak(py::module_::import("ember._size").attr("GradFn"));
    return type(name);
  });
  cls.def_property(
      "grad",
      [](const Tensor &x) -> py::object {
        if (!x.impl->grad)
          return py::none();
        return py::cast(Tensor(x.impl->grad));
      },
      [](const Tensor &x, py::handle value) {
        if (value.is_none()) {
          x.impl->grad.reset();
          return;
        }
        const Tensor &grad = value.cast<const Tensor &>();
        if (grad.shape() != x.shape())
          throwError(Error::Kind::Runtime,
                     "assigned grad has data of a different size (grad shape " +
                         shapeString(grad.shape()) + ", tensor shape " +
                         shapeString(x.shape()) + ")");
        if (grad.dtype() != x.dtype())
          throwError(Error::Kind::Type,
                     "assigned grad has data of a different type");
        x.impl->grad = grad.impl;
      });
  cls.def("backward",
          [](const Tensor &x, py::handle gradient, py::handle retainGraph,
             bool createGraph) {
            std::optional<Tensor> seed;
            if (!gradient.is_none())
              seed = gradient.cast<Tensor>();
            bool retain = retainGraph.is_none() ? createGraph
                                                : retainGraph.cast<bool>();
            backward(x, seed, retain, createGraph);
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(),
          py::arg("create_graph") = false);
  m.def("is_grad_enabled", [] { return gradEnabled(); });
  m.def("_set_grad_enabled", [](bool enabled) { setGradEnabled(enabled); });
  // ember.autograd.grad, bound in C++ so that its errors surface at the
  // caller's line.
  m.def(
      "_autograd_grad",
      [](py::handle outputs, py::handle inputs, py::handle gradOutputs,
         py::handle retainGraph, bool createGraph, bool allowUnused) {
        auto tensors = [](py::handle object) {
          std::vector<Tensor> result;
          if (py::isinstance<Tensor>(object))
            result.push_back(object.cast<Tensor>());
          else
            for (py::handle item : py::reinterpret_borrow<py::iterable>(object))
              result.push_back(item.cast<Tensor>());
          return result;
        };
        std::vector<Tensor> outs = tensors(outputs), ins = tensors(inputs);
        std::vector<std::optional<Tensor>> seeds(outs.size());
        if (!gradOutputs.is_none()) {
          std::vector<py::handle> items;
          if (py::isinstance<Tensor>(gradOutputs))
            items.push_back(gradOutputs);
          else
            for (py::handle item :
                 py::reinterpret_borrow<py::iterable>(gradOutputs))
              items.push_back(item);
          if (items.size() != outs.size())
            throwError(Error::Kind::Runtime,
                       "grad requires one grad_output per output: got " +
                           std::to_string(items.size()) + " for " +
                           std::to_string(outs.size()) + " outputs");
          for (size_t i = 0; i < items.size(); ++i)
            if (!items[i].is_none())
              seeds[i] = items[i].cast<Tensor>();
        }
        bool retain =
            retainGraph.is_none() ? createGraph : retainGraph.cast<bool>();
        py::tuple result(ins.size());
        std::vector<std::optional<Tensor>> grads =
            gradients(outs, ins, seeds, retain, createGraph, allowUnused);
        for (size_t i = 0; i < grads.size(); ++i)
          result[i] = grads[i] ? py::cast(*grads[i]) : py::none();
        return result;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(),
      py::arg("retain_graph") = py::none(), py::arg("create_graph") = false,
      py::arg("allow_unused") = false);

  bindIndexing(cls);
}

} // namespace ember::python
