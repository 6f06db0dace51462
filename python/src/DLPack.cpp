//===- DLPack.cpp - zero-copy exchange through DLPack ---------------------===//
//
// Tensor.__dlpack__ / __dlpack_device__, ember.from_dlpack and the buffer
// protocol. Both directions share memory: an exported tensor's buffer
// counts as exported while the consumer holds it (so ember's own updates of
// it are written into that memory at once, as for .numpy()), and an
// imported buffer is always visible to its producer (ember never replaces
// it, and a graph reads it when it runs: a write by the producer before then
// is seen). Exporting a pending tensor computes it first.
//
// The structs are DLPack's (dlpack.h, the unversioned ABI that NumPy 1.24,
// PyTorch 1.13 and JAX exchange as "dltensor" capsules); they are spelled
// out here because the header is not a dependency of the build.
//
// Device memory: CUDA and ROCm tensors are exported and imported as device
// pointers (the runtime's DeviceBuffer handle is the CUdeviceptr / HIP
// pointer); the device is synchronized at the hand-over, so either side's
// queued work is done. Vulkan and Level Zero memory has no pointer another
// library could use: such tensors are refused with a message.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include "ember/Frontend/Graph.h"
#include "ember/Runtime/Gpu/Device.h"

#include <Python.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace ember::python {

namespace {

// dlpack.h (v0.8), the parts the unversioned ABI uses.
enum DLDeviceType : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLVulkan = 7,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLOneAPI = 14,
};
enum DLDataTypeCode : uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
};
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(DLManagedTensor *self);
};

constexpr const char kCapsuleName[] = "dltensor";
constexpr const char kUsedCapsuleName[] = "used_dltensor";

DLDataType dlpackType(DType dtype) {
  switch (dtype) {
  case DType::Bool:
    return {kDLBool, 8, 1};
  case DType::Int32:
    return {kDLInt, 32, 1};
  case DType::Int64:
    return {kDLInt, 64, 1};
  case DType::Float16:
    return {kDLFloat, 16, 1};
  case DType::BFloat16:
    return {kDLBfloat, 16, 1};
  case DType::Float32:
    return {kDLFloat, 32, 1};
  case DType::Float64:
    return {kDLFloat, 64, 1};
  }
  return {kDLFloat, 32, 1};
}

std::optional<DType> dtypeOfDlpack(DLDataType type) {
  if (type.lanes != 1)
    return std::nullopt;
  switch (type.code) {
  case kDLBool:
    return type.bits == 8 ? std::optional<DType>(DType::Bool) : std::nullopt;
  case kDLInt:
    if (type.bits == 32)
      return DType::Int32;
    if (type.bits == 64)
      return DType::Int64;
    return std::nullopt;
  case kDLFloat:
    if (type.bits == 16)
      return DType::Float16;
    if (type.bits == 32)
      return DType::Float32;
    if (type.bits == 64)
      return DType::Float64;
    return std::nullopt;
  case kDLBfloat:
    return type.bits == 16 ? std::optional<DType>(DType::BFloat16) : std::nullopt;
  default:
    return std::nullopt;
  }
}

std::string dlpackTypeName(DLDataType type) {
  static const char *codes[] = {"int", "uint", "float", "opaque handle", "bfloat", "complex",
                                "bool"};
  std::string name = type.code < 7 ? codes[type.code] : "code " + std::to_string(type.code);
  name += std::to_string(type.bits);
  if (type.lanes != 1)
    name += "x" + std::to_string(type.lanes);
  return name;
}

/// (DLPack device type, device id) of a tensor's memory.
std::pair<int32_t, int32_t> dlpackDevice(Backend device) {
  switch (device) {
  case Backend::Cpu:
    return {kDLCPU, 0};
  case Backend::Cuda:
    return {kDLCUDA, 0};
  case Backend::Rocm:
    return {kDLROCM, 0};
  case Backend::Vulkan:
    return {kDLVulkan, 0};
  case Backend::LevelZero:
    return {kDLOneAPI, 0};
  }
  return {kDLCPU, 0};
}

/// What an exported tensor keeps alive: its buffer (counted as exported)
/// and the shape and strides the DLTensor points at.
struct ExportContext {
  DLManagedTensor managed;
  std::shared_ptr<Buffer> buffer;
  std::vector<int64_t> shape, strides;
};

void deleteExport(DLManagedTensor *managed) {
  auto *context = static_cast<ExportContext *>(managed->manager_ctx);
  // The consumer may drop it from any thread; the buffer's own release (a
  // borrowed NumPy array's) takes the GIL itself.
  --context->buffer->liveExports;
  delete context;
}

py::capsule toDlpack(const Tensor &x, py::handle stream) {
  Backend device = deviceOf(x);
  if (device == Backend::Vulkan || device == Backend::LevelZero)
    throw py::buffer_error(std::string("a ") + backendDeviceType(device) +
                           " tensor cannot be exported through DLPack (its memory has no "
                           "pointer another library can use); move it with .cpu() first");
  if (device == Backend::Cpu && !stream.is_none())
    throw py::buffer_error("__dlpack__: stream must be None for a CPU tensor");
  if (x.requiresGrad())
    runtimeError("Can't export tensors that require gradient, use tensor.detach()");
  Storage &storage = x.storage();
  // A pending value is computed first; the consumer reads memory.
  materialize(storage);
  auto *context = new ExportContext;
  context->buffer = storage.buffer;
  context->shape.assign(x.shape().begin(), x.shape().end());
  context->strides.assign(x.strides().begin(), x.strides().end());
  ++context->buffer->liveExports;
  DLTensor &t = context->managed.dl_tensor;
  size_t elementBytes = elementSize(x.dtype());
  char *start;
  if (device == Backend::Cpu) {
    start = static_cast<char *>(context->buffer->data);
  } else {
    // The device pointer; the queued work that computed it is finished
    // before the consumer's stream (whichever it is) reads it.
    start = reinterpret_cast<char *>(static_cast<uintptr_t>(context->buffer->deviceHandle));
    gpuDevice(device).synchronize();
  }
  // A view's offset goes into the pointer: PyTorch 1.13 ignores
  // byte_offset.
  t.data = start + x.offset() * static_cast<int64_t>(elementBytes);
  t.byte_offset = 0;
  auto [type, id] = dlpackDevice(device);
  t.device = {type, id};
  t.ndim = static_cast<int32_t>(x.dim());
  t.dtype = dlpackType(x.dtype());
  t.shape = context->shape.data();
  t.strides = context->strides.data();
  context->managed.manager_ctx = context;
  context->managed.deleter = deleteExport;
  // A capsule no consumer took (still named "dltensor") deletes its tensor.
  PyObject *capsule = PyCapsule_New(&context->managed, kCapsuleName, [](PyObject *self) {
    if (!PyCapsule_IsValid(self, kCapsuleName))
      return; // consumed: the consumer calls the deleter
    auto *managed = static_cast<DLManagedTensor *>(PyCapsule_GetPointer(self, kCapsuleName));
    if (managed && managed->deleter)
      managed->deleter(managed);
  });
  if (!capsule) {
    deleteExport(&context->managed);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(capsule);
}

/// The layout of a DLTensor's elements: dense row-major, a permutation of a
/// dense array (a transposed view), or something else.
struct Layout {
  bool dense = true;
  /// Dims ordered by decreasing stride: a dense array of these sizes read
  /// through the inverse permutation (only when `permuted`).
  bool permuted = false;
  std::vector<int64_t> order;
};

Layout layoutOf(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides) {
  Layout layout;
  size_t rank = shape.size();
  int64_t numel = 1;
  for (int64_t s : shape)
    numel *= s;
  if (numel <= 1 || strides.empty())
    return layout;
  // Dims of size 1 may carry any stride.
  int64_t expected = 1;
  for (size_t d = rank; d-- > 0;) {
    if (shape[d] != 1 && strides[d] != expected)
      layout.dense = false;
    expected *= shape[d];
  }
  if (layout.dense)
    return layout;
  layout.order.resize(rank);
  std::iota(layout.order.begin(), layout.order.end(), 0);
  std::stable_sort(layout.order.begin(), layout.order.end(), [&](int64_t a, int64_t b) {
    // Size-1 dims go innermost: their stride does not matter.
    int64_t sa = shape[a] == 1 ? 0 : strides[a], sb = shape[b] == 1 ? 0 : strides[b];
    return sa > sb;
  });
  expected = 1;
  bool permutation = true;
  for (size_t k = rank; k-- > 0;) {
    int64_t d = layout.order[k];
    if (shape[d] != 1 && strides[d] != expected)
      permutation = false;
    expected *= shape[d];
  }
  layout.permuted = permutation;
  return layout;
}

/// The DLManagedTensor of `object`: a capsule, or what its __dlpack__ gives.
py::capsule capsuleOf(py::handle object, int32_t *deviceType) {
  if (PyCapsule_CheckExact(object.ptr()))
    return py::reinterpret_borrow<py::capsule>(object);
  if (!py::hasattr(object, "__dlpack__"))
    typeError(std::string("ember.from_dlpack: expected an object with __dlpack__ (a NumPy "
                          "array, a torch or JAX tensor) or a DLPack capsule, got ") +
              std::string(py::str(py::type::of(object).attr("__name__"))));
  py::tuple device = object.attr("__dlpack_device__")();
  *deviceType = device[0].cast<int32_t>();
  if (*deviceType == kDLCUDA || *deviceType == kDLROCM)
    // The legacy default stream (1, as the array API asks for CUDA); the
    // device is synchronized below as well.
    return object.attr("__dlpack__")(py::arg("stream") = 1);
  return object.attr("__dlpack__")();
}

Tensor fromDlpack(py::handle object) {
  int32_t announced = kDLCPU;
  py::capsule capsule = capsuleOf(object, &announced);
  if (PyCapsule_IsValid(capsule.ptr(), kUsedCapsuleName))
    valueError("ember.from_dlpack: this DLPack capsule was already consumed (a capsule "
               "can be imported once)");
  auto *managed =
      static_cast<DLManagedTensor *>(PyCapsule_GetPointer(capsule.ptr(), kCapsuleName));
  if (!managed)
    throw py::error_already_set();
  const DLTensor &t = managed->dl_tensor;
  std::optional<DType> dtype = dtypeOfDlpack(t.dtype);
  if (!dtype)
    typeError("ember.from_dlpack: unsupported dtype " + dlpackTypeName(t.dtype) +
              "; ember takes bool, int32, int64, float16, bfloat16, float32 and float64");
  Backend device;
  switch (t.device.device_type) {
  case kDLCPU:
  case kDLCUDAHost:
  case kDLROCMHost:
    device = Backend::Cpu;
    break;
  case kDLCUDA:
    device = Backend::Cuda;
    break;
  case kDLROCM:
    device = Backend::Rocm;
    break;
  default:
    runtimeError("ember.from_dlpack: memory of DLPack device type " +
                 std::to_string(t.device.device_type) +
                 " is not supported (ember takes CPU, CUDA and ROCm memory)");
  }
  if (device != Backend::Cpu && t.device.device_id != 0)
    runtimeError("ember.from_dlpack: ember uses device 0 of " +
                 std::string(backendDeviceType(device)) + "; this tensor is on device " +
                 std::to_string(t.device.device_id));
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
  std::vector<int64_t> strides;
  if (t.strides)
    strides.assign(t.strides, t.strides + t.ndim);
  for (int64_t s : strides)
    if (s < 0)
      runtimeError("ember.from_dlpack: negative strides are not supported");
  Layout layout = layoutOf(shape, strides);
  size_t elementBytes = elementSize(*dtype);
  char *base = static_cast<char *>(t.data) + t.byte_offset;
  bool aligned = reinterpret_cast<uintptr_t>(base) % elementBytes == 0;
  if (!layout.dense && !layout.permuted) {
    // Slices with steps, broadcasts: no dense array to borrow.
    if (device != Backend::Cpu)
      runtimeError("ember.from_dlpack: a non-contiguous " +
                   std::string(backendDeviceType(device)) +
                   " tensor whose strides are not a permutation of a dense layout; "
                   "call .contiguous() on it first");
  }
  if (device != Backend::Cpu)
    gpuDevice(device).synchronize();

  // The capsule is ours now: its memory is released with ember's buffer.
  PyCapsule_SetName(capsule.ptr(), kUsedCapsuleName);
  int64_t numel = 1;
  for (int64_t s : shape)
    numel *= s;
  auto release = [managed] {
    if (!managed->deleter)
      return;
    // NumPy's deleter drops a reference to its array.
    py::gil_scoped_acquire gil;
    managed->deleter(managed);
  };

  if ((!layout.dense && !layout.permuted) || !aligned) {
    // A copy (documented): read the elements through a strided NumPy view.
    if (*dtype == DType::BFloat16)
      runtimeError("ember.from_dlpack: a non-contiguous bfloat16 tensor; call "
                   ".contiguous() on it first");
    std::vector<py::ssize_t> byteStrides;
    for (int64_t s : strides)
      byteStrides.push_back(s * static_cast<int64_t>(elementBytes));
    py::module_ numpy = py::module_::import("numpy");
    py::dtype numpyType = py::dtype(std::string(elementTypeName(*dtype)));
    py::array view(numpyType, std::vector<py::ssize_t>(shape.begin(), shape.end()),
                   byteStrides, base);
    py::array dense = numpy.attr("array")(view, py::arg("copy") = true);
    release();
    return tensorFromNumpy(dense);
  }

  // The dense array the tensor (or its permutation) is.
  std::vector<int64_t> denseShape = shape;
  if (layout.permuted)
    for (size_t k = 0; k < shape.size(); ++k)
      denseShape[k] = shape[layout.order[k]];
  size_t bytes = static_cast<size_t>(numel) * elementBytes;
  std::shared_ptr<Buffer> buffer;
  if (device == Backend::Cpu) {
    buffer = std::make_shared<Buffer>(base, bytes, [] { return true; }, release);
  } else {
    // Device memory ember does not own: released through the producer.
    buffer = std::make_shared<Buffer>(nullptr, bytes, [] { return true; }, release);
    buffer->data = nullptr;
    buffer->device = device;
    buffer->deviceHandle = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(base));
    buffer->deviceBytes = bytes;
  }
  auto storage = std::make_shared<Storage>();
  storage->dtype = *dtype;
  storage->shape = Shape(denseShape.begin(), denseShape.end());
  storage->device = device;
  storage->buffer = std::move(buffer);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->dtype = *dtype;
  impl->shape = Shape(denseShape.begin(), denseShape.end());
  impl->strides = contiguousStrides(impl->shape);
  Tensor dense(std::move(impl));
  if (!layout.permuted)
    return dense;
  // shape[d] is dense dim inverse[d].
  std::vector<int64_t> inverse(shape.size());
  for (size_t k = 0; k < shape.size(); ++k)
    inverse[layout.order[k]] = static_cast<int64_t>(k);
  return permute(dense, inverse);
}

/// The buffer protocol (memoryview, NumPy's buffer path): the exported NumPy
/// view's buffer, so the memory stays shared and counted as exported for as
/// long as the view lives.
int getTensorBuffer(PyObject *self, Py_buffer *view, int flags) {
  try {
    py::gil_scoped_acquire gil;
    const Tensor &x = py::reinterpret_borrow<py::object>(self).cast<const Tensor &>();
    if (x.dtype() == DType::BFloat16)
      throw py::buffer_error("a bfloat16 tensor has no buffer format; use "
                             "tensor.float() or DLPack");
    py::array array = tensorToNumpy(x);
    return PyObject_GetBuffer(array.ptr(), view, flags);
  } catch (py::error_already_set &error) {
    error.restore();
  } catch (const py::builtin_exception &error) {
    error.set_error();
  } catch (const std::exception &error) {
    PyErr_SetString(PyExc_BufferError, error.what());
  }
  view->obj = nullptr;
  return -1;
}

} // namespace

void bindDlpack(py::module_ &m, py::class_<Tensor> &cls) {
  cls.def("__dlpack__", &toDlpack, py::arg("stream") = py::none())
      .def("__dlpack_device__", [](const Tensor &x) {
        auto [type, id] = dlpackDevice(deviceOf(x));
        return py::make_tuple(type, id);
      });
  m.def("from_dlpack", &fromDlpack, py::arg("ext_tensor"));
  m.def("_to_dlpack", [](const Tensor &x) { return toDlpack(x, py::none()); });
  // pybind11 has no hook for a buffer that needs an owner: the slot is
  // filled on the heap type directly, as pybind11 does for its own.
  auto *heap = reinterpret_cast<PyHeapTypeObject *>(cls.ptr());
  heap->as_buffer.bf_getbuffer = getTensorBuffer;
  heap->as_buffer.bf_releasebuffer = nullptr;
  reinterpret_cast<PyTypeObject *>(cls.ptr())->tp_as_buffer = &heap->as_buffer;
  PyType_Modified(reinterpret_cast<PyTypeObject *>(cls.ptr()));
}

} // namespace ember::python
