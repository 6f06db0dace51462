//===- Conversions.cpp - Python <-> eager frontend values ------------------===//

#include "Conversions.h"

#include "ember/Runtime/ElementType.h"

#include <pybind11/stl.h>

#include <cstring>

namespace ember::python {

py::object dtypeObject(DType dtype) {
  static py::handle objects[kNumDTypes];
  py::handle &object = objects[static_cast<int>(dtype)];
  if (!object)
    object = leak(py::cast(PyDType{dtype}));
  return py::reinterpret_borrow<py::object>(object);
}

static std::optional<DType> dtypeFromName(const std::string &name) {
  static const std::pair<const char *, DType> names[] = {
      {"bool", DType::Bool},          {"int32", DType::Int32},
      {"int", DType::Int32},          {"int64", DType::Int64},
      {"long", DType::Int64},         {"float16", DType::Float16},
      {"half", DType::Float16},       {"bfloat16", DType::BFloat16},
      {"float32", DType::Float32},    {"float", DType::Float32},
      {"float64", DType::Float64},    {"double", DType::Float64}};
  for (auto &[spelling, dtype] : names)
    if (name == spelling)
      return dtype;
  return std::nullopt;
}

std::optional<DType> parseDType(py::handle object) {
  if (object.is_none())
    return std::nullopt;
  if (py::isinstance<PyDType>(object))
    return object.cast<PyDType>().dtype;
  // Python's own types, NumPy dtypes and strings.
  if (object.ptr() == reinterpret_cast<PyObject *>(&PyFloat_Type))
    return DType::Float64;
  if (object.ptr() == reinterpret_cast<PyObject *>(&PyLong_Type))
    return DType::Int64;
  if (object.ptr() == reinterpret_cast<PyObject *>(&PyBool_Type))
    return DType::Bool;
  std::string name;
  if (py::isinstance<py::str>(object))
    name = object.cast<std::string>();
  else
    name = py::str(py::dtype::from_args(py::reinterpret_borrow<py::object>(object)));
  if (std::optional<DType> dtype = dtypeFromName(name))
    return dtype;
  throwError(Error::Kind::Type, "unsupported dtype " + name);
}

std::optional<Scalar> toScalar(py::handle object) {
  PyObject *o = object.ptr();
  if (PyBool_Check(o))
    return Scalar::fromBool(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow)
      throwError(Error::Kind::Runtime,
                 "Overflow when unpacking long: the integer does not fit in "
                 "int64");
    return Scalar::fromInt(value);
  }
  if (PyFloat_Check(o))
    return Scalar::fromFloat(PyFloat_AS_DOUBLE(o));
  // NumPy scalars (np.float32(2), np.int64(3), np.bool_).
  static PyObject *generic =
      py::object(py::module_::import("numpy").attr("generic")).release().ptr();
  if (PyObject_IsInstance(o, generic) == 1)
    return toScalar(object.attr("item")());
  return std::nullopt;
}

std::optional<PyOperand> toOperand(py::handle object) {
  PyOperand operand;
  if (py::isinstance<Tensor>(object)) {
    operand.tensor = object.cast<const Tensor &>();
    return operand;
  }
  if (std::optional<Scalar> scalar = toScalar(object)) {
    operand.scalar = *scalar;
    return operand;
  }
  return std::nullopt;
}

static int64_t toSize(py::handle item) {
  if (py::isinstance<Tensor>(item) || !PyIndex_Check(item.ptr()))
    throwError(Error::Kind::Type,
               std::string("expected a sequence of integers, but got ") +
                   Py_TYPE(item.ptr())->tp_name);
  return py::cast<int64_t>(py::reinterpret_borrow<py::int_>(
      py::handle(PyNumber_Index(item.ptr()))));
}

Shape shapeFromObject(py::handle object) {
  Shape shape;
  if (PyIndex_Check(object.ptr()) && !py::isinstance<Tensor>(object)) {
    shape.push_back(toSize(object));
    return shape;
  }
  if (!py::isinstance<py::sequence>(object))
    throwError(Error::Kind::Type,
               std::string("expected a sequence of integers, but got ") +
                   Py_TYPE(object.ptr())->tp_name);
  for (py::handle item : py::reinterpret_borrow<py::sequence>(object))
    shape.push_back(toSize(item));
  return shape;
}

Shape shapeFromArgs(const py::args &args) {
  if (args.size() == 1 && !PyIndex_Check(args[0].ptr()))
    return shapeFromObject(args[0]);
  Shape shape;
  for (py::handle item : args)
    shape.push_back(toSize(item));
  return shape;
}

std::optional<llvm::SmallVector<int64_t, 4>> dimsFromObject(py::handle object) {
  if (object.is_none())
    return std::nullopt;
  llvm::SmallVector<int64_t, 4> dims;
  for (int64_t d : shapeFromObject(object))
    dims.push_back(d);
  return dims;
}

//===----------------------------------------------------------------------===//
// NumPy
//===----------------------------------------------------------------------===//

static std::optional<DType> dtypeOfNumpy(const py::dtype &dtype) {
  switch (dtype.kind()) {
  case 'b':
    return DType::Bool;
  case 'i':
    if (dtype.itemsize() == 4)
      return DType::Int32;
    if (dtype.itemsize() == 8)
      return DType::Int64;
    break;
  case 'f':
    if (dtype.itemsize() == 2)
      return DType::Float16;
    if (dtype.itemsize() == 4)
      return DType::Float32;
    if (dtype.itemsize() == 8)
      return DType::Float64;
    break;
  default:
    break;
  }
  return std::nullopt;
}

static py::dtype numpyDType(DType dtype) {
  switch (dtype) {
  case DType::Bool:
    return py::dtype::of<bool>();
  case DType::Int32:
    return py::dtype::of<int32_t>();
  case DType::Int64:
    return py::dtype::of<int64_t>();
  case DType::Float16:
    return py::dtype("float16");
  case DType::Float32:
    return py::dtype::of<float>();
  case DType::Float64:
    return py::dtype::of<double>();
  case DType::BFloat16:
    break;
  }
  throwError(Error::Kind::Type,
             "Got unsupported ScalarType BFloat16: NumPy has no bfloat16 "
             "(convert first, e.g. x.float().numpy())");
}

Tensor tensorFromNumpy(py::array array) {
  std::optional<DType> dtype = dtypeOfNumpy(array.dtype());
  if (!dtype)
    throwError(Error::Kind::Type,
               "can't convert np.ndarray of type " +
                   std::string(py::str(array.dtype())) +
                   ". The only supported types are: float64, float32, "
                   "float16, int64, int32, and bool.");
  Shape shape(array.shape(), array.shape() + array.ndim());
  size_t bytes = shapeNumel(shape) * dtypeSize(*dtype);
  bool dense = array.flags() & py::array::c_style;
  bool aligned = reinterpret_cast<uintptr_t>(array.data()) % dtypeSize(*dtype) == 0;
  if (!dense || !aligned || !array.writeable()) {
    py::array copy = py::array::ensure(array, py::array::c_style | py::array::forcecast);
    py::array owned = py::array(copy.dtype(), copy.request().shape);
    memcpy(owned.mutable_data(), copy.data(), bytes);
    array = owned;
  }
  // Share the array's memory: the storage keeps the array alive.
  PyObject *owner = array.ptr();
  Py_INCREF(owner);
  // The array is visible to others while anything but this buffer holds it
  // (the user's variable, or a NumPy view of it).
  auto buffer = std::make_shared<Buffer>(
      array.mutable_data(), bytes, [owner] { return Py_REFCNT(owner) > 1; },
      [owner] {
        py::gil_scoped_acquire gil;
        Py_DECREF(owner);
      });
  auto storage = std::make_shared<Storage>();
  storage->dtype = *dtype;
  storage->shape = shape;
  storage->buffer = std::move(buffer);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->dtype = *dtype;
  impl->shape = shape;
  impl->strides = contiguousStrides(shape);
  return Tensor(std::move(impl));
}

py::array tensorToNumpy(const Tensor &x) {
  py::dtype dtype = numpyDType(x.dtype());
  void *data = x.data();
  std::shared_ptr<Buffer> buffer = x.storage().buffer;
  // While the array lives it aliases the buffer: updates must write into it.
  ++buffer->liveExports;
  auto *keepAlive = new std::shared_ptr<Buffer>(buffer);
  py::capsule owner(keepAlive, [](void *p) {
    auto *held = static_cast<std::shared_ptr<Buffer> *>(p);
    --(*held)->liveExports;
    delete held;
  });
  std::vector<py::ssize_t> shape(x.shape().begin(), x.shape().end());
  std::vector<py::ssize_t> strides;
  for (int64_t s : x.strides())
    strides.push_back(s * dtypeSize(x.dtype()));
  return py::array(dtype, shape, strides, data, owner);
}

//===----------------------------------------------------------------------===//
// ember.tensor(data)
//===----------------------------------------------------------------------===//

Tensor tensorFromData(py::handle data, std::optional<DType> dtype) {
  if (py::isinstance<Tensor>(data)) {
    Tensor copy = clone(data.cast<const Tensor &>());
    return dtype ? cast(copy, *dtype) : copy;
  }
  if (std::optional<Scalar> scalar = toScalar(data);
      scalar && !py::isinstance<py::array>(data)) {
    DType type = dtype.value_or(scalar->kind == Scalar::Kind::Float
                                    ? defaultFloat()
                                    : scalar->wrappedDType());
    return full({}, *scalar, type);
  }
  py::module_ numpy = py::module_::import("numpy");
  py::array array;
  std::optional<DType> inferred;
  if (py::isinstance<py::array>(data)) {
    array = py::reinterpret_borrow<py::array>(data);
  } else {
    array = numpy.attr("array")(data);
    // Python floats are float32 tensors in torch, not float64.
    char kind = array.dtype().kind();
    if (kind == 'f')
      inferred = defaultFloat();
    else if (kind == 'i' || kind == 'u')
      inferred = DType::Int64;
    else if (kind == 'O' || kind == 'U' || kind == 'S')
      throwError(Error::Kind::Type,
                 "could not infer a tensor from data of type " +
                     std::string(Py_TYPE(data.ptr())->tp_name) +
                     " (expected numbers or nested sequences of numbers)");
  }
  DType target = dtype ? *dtype : inferred ? *inferred : DType::Float32;
  if (!dtype && !inferred) {
    std::optional<DType> own = dtypeOfNumpy(array.dtype());
    if (!own)
      throwError(Error::Kind::Type, "can't convert np.ndarray of type " +
                                        std::string(py::str(array.dtype())));
    target = *own;
  }
  if (target == DType::BFloat16) {
    py::array values = numpy.attr("require")(array, "float32", "C");
    Shape shape(values.shape(), values.shape() + values.ndim());
    std::vector<uint16_t> converted(shapeNumel(shape));
    const float *source = static_cast<const float *>(values.data());
    for (size_t i = 0; i < converted.size(); ++i)
      converted[i] = floatToBFloat16(source[i]);
    return fromData(converted.data(), shape, DType::BFloat16);
  }
  py::array values =
      numpy.attr("require")(array, numpyDType(target), "C");
  Shape shape(values.shape(), values.shape() + values.ndim());
  return fromData(values.data(), shape, target);
}

} // namespace ember::python
