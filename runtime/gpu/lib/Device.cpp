//===- Device.cpp - the backend-independent part of every Device ----------===//
//
// Names and errors, argument descriptions, the caching allocator's front
// end, the launch argument checks every backend shares, and the dispatch
// to the backend drivers.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/Device.h"

#include "Drivers.h"

#include <algorithm>
#include <cstring>

namespace ember {
namespace gpu {

Backend parseBackend(const std::string &name) {
  Backend backend;
  if (parseBackendName(name, &backend) && isGpuBackend(backend))
    return backend;
  throw std::invalid_argument("unknown GPU backend '" + name +
                              "' (expected cuda, rocm, level_zero or vulkan)");
}

DeviceError::DeviceError(Backend backend, const std::string &message)
    : std::runtime_error(std::string(backendName(backend)) + ": " + message),
      backendValue(backend) {}

DeviceUnavailableError::DeviceUnavailableError(Backend backend,
                                               const std::string &reason)
    : DeviceError(backend,
                  std::string(backendName(backend)) +
                      " is not available: " + reason,
                  Verbatim()),
      reasonText(reason) {}

const char *argKindName(ArgKind kind) {
  switch (kind) {
  case ArgKind::Buffer:
    return "buffer";
  case ArgKind::I32:
    return "i32";
  case ArgKind::I64:
    return "i64";
  case ArgKind::F32:
    return "f32";
  case ArgKind::F64:
    return "f64";
  }
  return "unknown";
}

const char *moduleFormatName(ModuleFormat format) {
  switch (format) {
  case ModuleFormat::Spirv:
    return "spirv";
  case ModuleFormat::Ptx:
    return "ptx";
  case ModuleFormat::Cubin:
    return "cubin";
  case ModuleFormat::Hsaco:
    return "hsaco";
  }
  return "unknown";
}

//===----------------------------------------------------------------------===//
// Arguments and layouts
//===----------------------------------------------------------------------===//

namespace {
template <typename T> KernelArg scalarArg(ArgKind kind, T value) {
  KernelArg arg;
  arg.kind = kind;
  std::memcpy(&arg.bits, &value, sizeof(T));
  return arg;
}
} // namespace

KernelArg KernelArg::ofBuffer(DeviceBuffer buffer, size_t offset) {
  KernelArg arg;
  arg.buffer = buffer;
  arg.offset = offset;
  return arg;
}
KernelArg KernelArg::ofI32(int32_t value) {
  return scalarArg(ArgKind::I32, value);
}
KernelArg KernelArg::ofI64(int64_t value) {
  return scalarArg(ArgKind::I64, value);
}
KernelArg KernelArg::ofF32(float value) {
  return scalarArg(ArgKind::F32, value);
}
KernelArg KernelArg::ofF64(double value) {
  return scalarArg(ArgKind::F64, value);
}

size_t KernelArg::scalarBytes() const {
  switch (kind) {
  case ArgKind::Buffer:
    return 0;
  case ArgKind::I32:
  case ArgKind::F32:
    return 4;
  case ArgKind::I64:
  case ArgKind::F64:
    return 8;
  }
  return 0;
}

namespace {
size_t kindBytes(ArgKind kind) {
  KernelArg arg;
  arg.kind = kind;
  return arg.scalarBytes();
}

std::string signatureOf(const KernelLayout &layout) {
  std::string text;
  for (const KernelParam &param : layout.params)
    text += (text.empty() ? "" : ", ") + std::string(argKindName(param.kind));
  return "(" + text + ")";
}
} // namespace

KernelLayout KernelLayout::sequential(const std::vector<ArgKind> &kinds) {
  KernelLayout layout;
  uint32_t binding = 0, offset = 0;
  for (ArgKind kind : kinds) {
    KernelParam param;
    param.kind = kind;
    if (kind == ArgKind::Buffer) {
      param.binding = binding++;
    } else {
      uint32_t bytes = uint32_t(kindBytes(kind));
      offset = (offset + bytes - 1) / bytes * bytes;
      param.offset = offset;
      offset += bytes;
    }
    layout.params.push_back(param);
  }
  return layout;
}

uint32_t KernelLayout::pushConstantBytes() const {
  uint32_t end = 0;
  for (const KernelParam &param : params)
    if (param.kind != ArgKind::Buffer)
      end = std::max(end, param.offset + uint32_t(kindBytes(param.kind)));
  return (end + 3) / 4 * 4;
}

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

Event::~Event() = default;
Stream::~Stream() = default;
Kernel::~Kernel() = default;
Module::~Module() = default;

Device::Device(DeviceInfo info, std::unique_ptr<BlockSource> blockSource)
    : deviceInfo(std::move(info)),
      allocator(std::make_unique<CachingAllocator>(std::move(blockSource))) {}

Device::~Device() = default;

void Device::releaseAllocator() { allocator.reset(); }

void Device::fail(const std::string &message) const {
  throw DeviceError(backend(), message);
}

DeviceBuffer Device::allocate(size_t bytes) {
  uint64_t handle = allocator->allocate(bytes);
  if (!handle) {
    DeviceAllocatorStats stats = allocator->stats();
    fail("out of device memory allocating " + std::to_string(bytes) +
         " bytes on " + info().name + " (" +
         std::to_string(stats.allocatedBytes) + " bytes in use)");
  }
  return DeviceBuffer{handle, bytes};
}

void Device::free(DeviceBuffer &buffer) {
  if (!buffer)
    return;
  if (!allocator->free(buffer.handle))
    fail("free of a buffer that is not live on this device (freed twice, or "
         "from another device)");
  buffer = DeviceBuffer();
}

DeviceAllocatorStats Device::allocatorStats() const {
  return allocator->stats();
}

void Device::emptyCache() { allocator->emptyCache(); }

void Device::checkRange(DeviceBuffer buffer, size_t offset, size_t bytes,
                        const char *what) const {
  if (!buffer)
    fail(std::string(what) + ": null buffer");
  // A freed or foreign handle would crash the driver; name it instead.
  if (!allocator->blockSize(buffer.handle))
    fail(std::string(what) + ": the buffer is not live on this device "
                             "(freed, or from another device)");
  if (offset > buffer.size || bytes > buffer.size - offset)
    fail(std::string(what) + ": bytes [" + std::to_string(offset) + ", " +
         std::to_string(offset + bytes) + ") are outside the buffer of " +
         std::to_string(buffer.size) + " bytes");
}

void Device::launch(Kernel &kernel, const LaunchParams &params,
                    Stream &stream) {
  const KernelLayout &layout = kernel.layout();
  std::string where = "launch of kernel '" + kernel.name() + "'";
  if (params.args.size() != layout.params.size())
    fail(where + ": it takes " + std::to_string(layout.params.size()) +
         " arguments " + signatureOf(layout) + " but the launch passes " +
         std::to_string(params.args.size()));
  for (size_t i = 0; i < params.args.size(); ++i) {
    const KernelArg &arg = params.args[i];
    std::string argument = where + ": argument " + std::to_string(i);
    if (arg.kind != layout.params[i].kind)
      fail(argument + " is " + argKindName(layout.params[i].kind) +
           " but the launch passes " + argKindName(arg.kind));
    if (arg.kind == ArgKind::Buffer)
      checkRange(arg.buffer, arg.offset, 0, argument.c_str());
  }
  const Dim3 &grid = params.grid, &block = params.block;
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z)
    fail(where + ": grid " + std::to_string(grid.x) + "x" +
         std::to_string(grid.y) + "x" + std::to_string(grid.z) + " and block " +
         std::to_string(block.x) + "x" + std::to_string(block.y) + "x" +
         std::to_string(block.z) + " must be at least 1 in every dimension");
  launchChecked(kernel, params, stream);
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

void throwNoSuchDevice(Backend backend, int ordinal, size_t count) {
  if (count == 0)
    throw DeviceUnavailableError(backend, "the driver reports no device");
  throw DeviceUnavailableError(backend, "no device " + std::to_string(ordinal) +
                                            " (the driver reports " +
                                            std::to_string(count) + ")");
}

std::vector<DeviceInfo> enumerateDevices(Backend backend) {
  switch (backend) {
  case Backend::Cuda:
    return enumerateCudaDevices();
  case Backend::Rocm:
    return enumerateHipDevices();
  case Backend::LevelZero:
    return enumerateLevelZeroDevices();
  case Backend::Vulkan:
    return enumerateVulkanDevices();
  case Backend::Cpu:
    break;
  }
  return {};
}

std::unique_ptr<Device> openDevice(Backend backend, int ordinal) {
  switch (backend) {
  case Backend::Cuda:
    return openCudaDevice(ordinal);
  case Backend::Rocm:
    return openHipDevice(ordinal);
  case Backend::LevelZero:
    return openLevelZeroDevice(ordinal);
  case Backend::Vulkan:
    return openVulkanDevice(ordinal);
  case Backend::Cpu:
    break;
  }
  throw std::invalid_argument("unknown backend");
}

std::string backendUnavailableReason(Backend backend) {
  try {
    if (enumerateDevices(backend).empty())
      return DeviceUnavailableError(backend, "the driver reports no device")
          .what();
    return "";
  } catch (const std::exception &error) {
    return error.what();
  }
}

} // namespace gpu
} // namespace ember
