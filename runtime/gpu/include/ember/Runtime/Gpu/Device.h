//===- Device.h - GPU devices: memory, streams, modules, launches -*- C++ -*-===//
//
// The one interface every GPU backend implements: CUDA (driver API), ROCm
// (HIP's module API), Level Zero and Vulkan compute. A backend's driver
// library is opened with dlopen when first asked for, so nothing links
// against a GPU library and a machine without one gets a DeviceUnavailable
// error naming the backend and what is missing, never a crash.
//
// A Device owns a caching allocator (see CachingAllocator.h), streams
// (in-order queues of copies and launches), events that streams record and
// wait for, and modules loaded from compiled binaries (SPIR-V, PTX, cubin,
// HSACO). Kernels are launched with a grid, a block (workgroup) size and
// arguments described by a KernelLayout: device buffers and 32/64-bit
// scalars, with a Vulkan binding (descriptor set/binding, push-constant
// offset) for each.
//
// No LLVM: C++17, libc and libdl only.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_DEVICE_H
#define EMBER_RUNTIME_GPU_DEVICE_H

#include "ember/Runtime/Backend.h"
#include "ember/Runtime/Gpu/CachingAllocator.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// A device has one of the GPU backends of the runtime's one backend enum
/// (ember/Runtime/Backend.h). The alias keeps apps that spell it
/// gpu::Backend building.
using Backend = ember::Backend;
using ember::backendName;

/// Every GPU backend, in enum order.
constexpr Backend kAllBackends[] = {Backend::Cuda, Backend::Rocm,
                                    Backend::LevelZero, Backend::Vulkan};

/// The GPU backend named by backendName's spelling; throws
/// std::invalid_argument for any other name ("cpu" included).
Backend parseBackend(const std::string &name);

/// Any failure of a device operation. what() starts with the backend's name
/// ("vulkan: vkCreateBuffer failed with VK_ERROR_OUT_OF_DEVICE_MEMORY ...").
class DeviceError : public std::runtime_error {
public:
  DeviceError(Backend backend, const std::string &message);
  Backend backend() const { return backendValue; }

protected:
  /// `what` is the whole message, without the "<backend>: " prefix added.
  struct Verbatim {};
  DeviceError(Backend backend, const std::string &what, Verbatim)
      : std::runtime_error(what), backendValue(backend) {}

private:
  Backend backendValue;
};

/// The backend cannot be used on this machine: its driver library is
/// missing, lacks an entry point, fails to initialize, or has no device.
/// what() reads "cuda is not available: libcuda.so.1 not found (...)".
class DeviceUnavailableError : public DeviceError {
public:
  DeviceUnavailableError(Backend backend, const std::string &reason);
  /// The text after "<backend> is not available: ".
  const std::string &reason() const { return reasonText; }

private:
  std::string reasonText;
};

/// What enumerateDevices reports about one device.
struct DeviceInfo {
  /// The driver's name for it ("NVIDIA H100", "llvmpipe (LLVM 15.0.6, ...)").
  std::string name;
  Backend backend = Backend::Vulkan;
  /// Its index among the backend's devices: openDevice's `ordinal`.
  int ordinal = 0;
  /// Device memory in bytes (for Vulkan the largest device-local heap).
  uint64_t totalMemory = 0;
  /// The architecture code is compiled for: "sm_90" (CUDA compute
  /// capability); empty where the driver does not say (the others).
  std::string arch;
};

/// The devices of `backend`; empty when its driver loads but has none.
/// Throws DeviceUnavailableError when the driver cannot be loaded or
/// initialized.
std::vector<DeviceInfo> enumerateDevices(Backend backend);

/// Why `backend` cannot be used here (DeviceUnavailableError's what()), or
/// "" when it has at least one device. Never throws; for skip messages.
std::string backendUnavailableReason(Backend backend);

/// A block of device memory from a Device's caching allocator. A plain
/// value: give it back with Device::free.
struct DeviceBuffer {
  /// The backend's handle: a CUdeviceptr, a HIP or Level Zero device
  /// pointer, or the Vulkan driver's block record. 0 for no buffer.
  uint64_t handle = 0;
  /// The bytes that were asked for (the block may be larger).
  size_t size = 0;
  explicit operator bool() const { return handle != 0; }
};

/// The kinds of kernel arguments.
enum class ArgKind { Buffer, I32, I64, F32, F64 };

/// "buffer", "i32", "i64", "f32" or "f64".
const char *argKindName(ArgKind kind);

/// One argument of a launch: a buffer (plus a byte offset into it) or a
/// scalar.
struct KernelArg {
  ArgKind kind = ArgKind::Buffer;
  DeviceBuffer buffer;
  size_t offset = 0;
  /// The scalar's bytes (the low 4 for 32-bit kinds).
  uint64_t bits = 0;

  static KernelArg ofBuffer(DeviceBuffer buffer, size_t offset = 0);
  static KernelArg ofI32(int32_t value);
  static KernelArg ofI64(int64_t value);
  static KernelArg ofF32(float value);
  static KernelArg ofF64(double value);
  /// 4 or 8 for scalars; 0 for buffers.
  size_t scalarBytes() const;
};

/// One parameter of a kernel. CUDA, HIP and Level Zero pass parameters in
/// order; Vulkan binds a buffer at (set, binding) as a storage buffer and
/// writes a scalar at byte `offset` of the push constants.
struct KernelParam {
  ArgKind kind = ArgKind::Buffer;
  uint32_t set = 0;
  uint32_t binding = 0;
  uint32_t offset = 0;
};

/// A kernel's parameters: what a launch must pass and, for Vulkan, the
/// pipeline layout.
struct KernelLayout {
  std::vector<KernelParam> params;
  /// Vulkan: the specialization constant ids that receive the launch's
  /// block size (x, y, z) when the shader takes its workgroup size from
  /// them; when false the block must equal the shader's LocalSize.
  bool workgroupSizeFromSpecConstants = false;
  uint32_t workgroupSizeSpecIds[3] = {0, 1, 2};

  /// The usual layout: the i-th buffer at set 0, binding i; scalars packed
  /// in order into the push constants at their natural alignment.
  static KernelLayout sequential(const std::vector<ArgKind> &kinds);
  /// Bytes of push constants the scalars need (a multiple of 4).
  uint32_t pushConstantBytes() const;
};

/// Three extents (grid in blocks, or block in threads).
struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

/// One kernel launch.
struct LaunchParams {
  /// Blocks (workgroups) per dimension.
  Dim3 grid;
  /// Threads per block (the workgroup size).
  Dim3 block;
  /// Dynamic shared memory in bytes (CUDA, HIP); must be 0 elsewhere.
  uint32_t sharedMemoryBytes = 0;
  std::vector<KernelArg> args;
};

class Device;

/// Marks a point in a stream's work; other streams and the host wait for it.
class Event {
public:
  virtual ~Event();
  /// Blocks until the recorded work has finished (at once if never
  /// recorded).
  virtual void synchronize() = 0;
  /// True when the recorded work has finished.
  virtual bool isComplete() = 0;
};

/// An in-order queue of copies and launches on one device.
class Stream {
public:
  virtual ~Stream();
  /// Marks the work enqueued so far; `event` completes when it has run.
  virtual void record(Event &event) = 0;
  /// Work enqueued after this call starts after `event`'s work finished.
  virtual void wait(Event &event) = 0;
  /// Blocks until every enqueued operation has finished.
  virtual void synchronize() = 0;
  /// The driver's own queue (a CUstream for CUDA), for code that enqueues
  /// work itself (a custom op's CUDA host function); null where there is
  /// none to hand out.
  virtual void *nativeHandle() { return nullptr; }
};

/// A kernel of a loaded module with its parameter layout. Lives as long as
/// its Module.
class Kernel {
public:
  virtual ~Kernel();
  const std::string &name() const { return kernelName; }
  const KernelLayout &layout() const { return kernelLayout; }

protected:
  Kernel(std::string name, KernelLayout layout)
      : kernelName(std::move(name)), kernelLayout(std::move(layout)) {}

private:
  std::string kernelName;
  KernelLayout kernelLayout;
};

/// The formats a module binary can have.
enum class ModuleFormat { Spirv, Ptx, Cubin, Hsaco };

/// "spirv", "ptx", "cubin" or "hsaco".
const char *moduleFormatName(ModuleFormat format);

/// Code loaded onto a device.
class Module {
public:
  virtual ~Module();
  /// The kernel `name` with `layout`; looked up once per name (a second
  /// call with another layout is an error).
  virtual Kernel &getKernel(const std::string &name,
                            const KernelLayout &layout) = 0;
};

/// One opened device of one backend.
class Device {
public:
  virtual ~Device();

  const DeviceInfo &info() const { return deviceInfo; }
  Backend backend() const { return deviceInfo.backend; }

  //--- Memory (through the device's caching allocator) ---//

  /// A buffer of at least `bytes` bytes; reuses a cached block of the same
  /// size class. Out of device memory, the cache is emptied and the
  /// allocation retried once before a DeviceError.
  DeviceBuffer allocate(size_t bytes);
  /// Returns `buffer` to the cache and clears it. The block may be handed
  /// out again at once, so work that still uses it must be enqueued on the
  /// stream that will use the next owner, or synchronized first.
  void free(DeviceBuffer &buffer);
  DeviceAllocatorStats allocatorStats() const;
  /// Releases every cached block to the driver.
  void emptyCache();

  //--- Streams and events ---//

  /// The stream created with the device.
  virtual Stream &defaultStream() = 0;
  virtual std::unique_ptr<Stream> createStream() = 0;
  virtual std::unique_ptr<Event> createEvent() = 0;
  /// Blocks until every stream of the device is idle.
  virtual void synchronize() = 0;

  //--- Copies, ordered on `stream` ---//

  /// Copies `bytes` from host memory to `dst` + `dstOffset`. Returns once
  /// `src` may be reused (the data is staged or copied).
  virtual void copyToDevice(DeviceBuffer dst, size_t dstOffset, const void *src,
                            size_t bytes, Stream &stream) = 0;
  /// Copies `bytes` from `src` + `srcOffset` into host memory after the
  /// stream's earlier work; returns when `dst` holds the data.
  virtual void copyToHost(void *dst, DeviceBuffer src, size_t srcOffset,
                          size_t bytes, Stream &stream) = 0;
  /// Copies between two buffers of this device.
  virtual void copyOnDevice(DeviceBuffer dst, size_t dstOffset,
                            DeviceBuffer src, size_t srcOffset, size_t bytes,
                            Stream &stream) = 0;

  //--- Code ---//

  /// Loads a compiled module. Throws DeviceError with the driver's log when
  /// the binary is rejected.
  virtual std::unique_ptr<Module> loadModule(ModuleFormat format,
                                             const void *data,
                                             size_t bytes) = 0;
  /// Enqueues a launch of `kernel`. The arguments are checked against its
  /// layout first (count, kinds, buffers), with a DeviceError naming the
  /// kernel and the argument.
  void launch(Kernel &kernel, const LaunchParams &params, Stream &stream);

protected:
  Device(DeviceInfo info, std::unique_ptr<BlockSource> blockSource);
  /// Tears the allocator down; a driver calls this in its destructor while
  /// its context still exists.
  void releaseAllocator();
  /// The backend's launch, after the arguments were checked.
  virtual void launchChecked(Kernel &kernel, const LaunchParams &params,
                             Stream &stream) = 0;
  /// A DeviceError for this device's backend.
  [[noreturn]] void fail(const std::string &message) const;
  /// Throws unless [offset, offset + bytes) lies inside `buffer`.
  void checkRange(DeviceBuffer buffer, size_t offset, size_t bytes,
                  const char *what) const;

private:
  DeviceInfo deviceInfo;
  std::unique_ptr<CachingAllocator> allocator;
};

/// Opens device `ordinal` (0 = first) of `backend`. Throws
/// DeviceUnavailableError when the backend is unavailable or has no such
/// device.
std::unique_ptr<Device> openDevice(Backend backend, int ordinal = 0);

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_DEVICE_H
