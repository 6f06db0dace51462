//===- TensorBindings.cpp - ember.Tensor and the op functions -------------===//
//
// Every op is a C++ function bound directly (as a Tensor method and, where
// torch has one, as an `ember.*` function), so that an error raised while
// tracing surfaces with the user's line as the traceback's last frame.
// This file: the class, its properties, values and conversions; the other
// areas are listed in TensorBindings.h.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include <pybind11/stl.h>

#include <cstring>

namespace ember::python {
namespace {

py::object sizeObject(llvm::ArrayRef<int64_t> shape) {
  static py::handle sizeClass = leak(py::module_::import("ember._size").attr("Size"));
  py::tuple dims(shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    dims[i] = py::int_(shape[i]);
  return sizeClass(dims);
}


/// `.to(dtype)`, `.to("vulkan")`, `.to(other)`, `.to("cuda", dtype)`.
Tensor toImpl(const Tensor &x, const py::args &args, const py::kwargs &kwargs) {
  std::optional<DType> target;
  std::optional<Backend> device;
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

void bindTensorProperties(py::class_<Tensor> &cls) {
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
            .attr("device")(backendDeviceType(deviceOf(x)));
      })
      .def_property_readonly("is_cuda",
                             [](const Tensor &x) { return deviceOf(x) == Backend::Cuda; })
      .def("stride",
           [](const Tensor &x, py::handle dim) -> py::object {
             if (dim.is_none())
               return py::tuple(py::cast(std::vector<int64_t>(
                   x.strides().begin(), x.strides().end())));
             return py::int_(x.strides()[wrapDim(dim.cast<int64_t>(), x.dim())]);
           },
           py::arg("dim") = py::none())
      .def("storage_offset", &Tensor::offset)
      .def("element_size", [](const Tensor &x) { return elementSize(x.dtype()); })
      .def("is_contiguous", &Tensor::isContiguous)
      .def("is_floating_point", [](const Tensor &x) { return isFloating(x.dtype()); })
      .def("data_ptr", [](const Tensor &x) {
        return reinterpret_cast<uintptr_t>(x.data());
      });
}

void bindTensorValues(py::class_<Tensor> &cls) {
  cls.def("numpy", [](const Tensor &x) { return tensorToNumpy(x); })
      .def("__array__",
           [](const Tensor &x, py::handle dtype) -> py::object {
             py::array a = tensorToNumpy(x);
             if (dtype.is_none())
               return a;
             return a.attr("astype")(dtype);
           },
           py::arg("dtype") = py::none())
      .def("item", [](const Tensor &x) { return itemOf(toDevice(x, Backend::Cpu)); })
      .def("tolist", [](const Tensor &x) -> py::object {
        Tensor host = toDevice(x, Backend::Cpu);
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
             return py::bool_(itemOf(toDevice(x, Backend::Cpu)));
           })
      .def("__float__",
           [](const Tensor &x) { return py::float_(itemOf(toDevice(x, Backend::Cpu))); })
      .def("__int__",
           [](const Tensor &x) {
             py::object value = itemOf(toDevice(x, Backend::Cpu));
             // A bool is an int subclass that py::int_ would keep; torch
             // gives a plain int.
             if (PyBool_Check(value.ptr()))
               return py::int_(value.ptr() == Py_True ? 1 : 0);
             return py::int_(value);
           })
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
}

void bindTensorConversions(py::class_<Tensor> &cls) {
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
  cls.def("cpu", [](const Tensor &x) { return toDevice(x, Backend::Cpu); });
}

} // namespace

py::object itemOf(const Tensor &x) {
  if (x.numel() != 1)
    throwError(Error::Kind::Runtime,
               "a Tensor with " + std::to_string(x.numel()) +
                   " elements cannot be converted to Scalar (shape " +
                   shapeString(x.shape()) + ")");
  // The one element is read in place (data() computes it first): the
  // per-op loop `y = x + 1; y.item()` must not pay for a NumPy array.
  const void *data = x.data();
  auto load = [data](auto zero) {
    decltype(zero) value;
    memcpy(&value, data, sizeof(value));
    return value;
  };
  switch (x.dtype()) {
  case DType::Bool:
    return py::bool_(load(uint8_t()) != 0);
  case DType::Int32:
    return py::int_(load(int32_t()));
  case DType::Int64:
    return py::int_(load(int64_t()));
  case DType::Float16:
    return py::float_(halfToFloat(load(uint16_t())));
  case DType::BFloat16:
    return py::float_(bfloat16ToFloat(load(uint16_t())));
  case DType::Float32:
    return py::float_(load(float()));
  case DType::Float64:
    return py::float_(load(double()));
  }
  llvm_unreachable("unknown dtype");
}

// DLPack.cpp: __dlpack__, __dlpack_device__, ember.from_dlpack and the
// buffer protocol.
void bindDlpack(py::module_ &m, py::class_<Tensor> &cls);

void bindTensor(py::module_ &m) {
  // dynamic_attr: Python subclasses (nn.Parameter) and modules attach
  // attributes to tensors, as with torch.
  py::class_<Tensor> cls(m, "Tensor", py::dynamic_attr());
  // Tensor(other): a new leaf sharing other's storage (how nn.Parameter
  // wraps data).
  cls.def(py::init([](const Tensor &other) { return detach(other); }),
          py::arg("data"));

  bindTensorProperties(cls);
  bindTensorValues(cls);
  bindTensorOperators(m, cls);
  bindElementwiseOps(m, cls);
  bindReductions(m, cls);
  bindAttention(m);
  bindConv(m);
  bindCustomOps(m);
  bindCollectives(m);
  bindLinearAlgebra(m, cls);
  bindTensorViews(m, cls);
  bindTensorConversions(cls);
  bindAutograd(m, cls);
  bindCustomFunction(m);
  bindIndexing(cls);
  bindSharedMemory(m, cls);
  bindDlpack(m, cls);
  installFastCalls(cls);
  m.def("_fast_calls_installed", &fastCallsInstalled);
}

} // namespace ember::python
