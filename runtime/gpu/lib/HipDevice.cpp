//===- HipDevice.cpp - the ROCm driver over HIP's module API ---------------===//
//
// The CUDA driver's twin (CudaDevice.cpp): HIP has no explicit contexts in
// its supported API, so every operation first selects the device on the
// calling thread with hipSetDevice (cheap), which lets any thread use the
// Device. Streams are non-blocking hipStreams; events are hipEvents without
// timing, except the pairs that time each launch while ember.profiler
// records (LaunchTimer.h). Modules are HSACO code objects (ELF shared objects for one gfx
// target), loaded with hipModuleLoadData.
//
//===----------------------------------------------------------------------===//

#include "HipApi.h"
#include "Drivers.h"
#include "LaunchTimer.h"

#include <map>
#include <mutex>

namespace ember {
namespace gpu {
namespace hip {

std::string hipErrorText(hipError_t result) {
  const char *name = nullptr;
  try {
    name = hipApi().hipGetErrorName(result);
  } catch (const DeviceError &) {
  }
  return std::string(name ? name : "HIP error") + " (" +
         std::to_string(result) + ")";
}

void checkHip(hipError_t result, const char *call) {
  if (result != hipSuccess)
    throw DeviceError(Backend::Rocm,
                      std::string(call) + " failed with " + hipErrorText(result));
}

namespace {

[[noreturn]] void fail(const std::string &message) {
  throw DeviceError(Backend::Rocm, message);
}

std::unique_ptr<HipApi> loadCuda() {
  auto library = DynamicLibrary::open(
      Backend::Rocm, "EMBER_HIP_LIBRARY",
      {"libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5",
       "/opt/rocm/lib/libamdhip64.so"},
      "install ROCm's HIP runtime (libamdhip64) and the amdgpu driver");
  auto api = std::make_unique<HipApi>();
  api->library = library;
  EMBER_HIP_SYMBOLS(EMBER_GPU_RESOLVE_SYMBOL)
  hipError_t result = api->hipInit(0);
  if (result != hipSuccess) {
    const char *name = api->hipGetErrorName(result);
    throw DeviceUnavailableError(
        Backend::Rocm, std::string("hipInit failed with ") +
                           (name ? name : "an unknown error") + " (" +
                           std::to_string(result) + ")" +
                           (result == hipErrorNoDevice
                                ? ": no ROCm device (HIP_VISIBLE_DEVICES?)"
                                : ""));
  }
  return api;
}

/// The device address `offset` bytes into `buffer`.
void *pointerOf(DeviceBuffer buffer, size_t offset) {
  return reinterpret_cast<void *>(buffer.handle + offset);
}

/// Selects device `ordinal` on this thread for the operations that follow.
void makeCurrent(int ordinal) {
  checkHip(hipApi().hipSetDevice(ordinal), "hipSetDevice");
}

class HipBlockSource : public BlockSource {
public:
  explicit HipBlockSource(int ordinal) : ordinal(ordinal) {}
  uint64_t allocateBlock(size_t bytes) override {
    makeCurrent(ordinal);
    void *pointer = nullptr;
    hipError_t result = hipApi().hipMalloc(&pointer, bytes);
    if (result == hipErrorOutOfMemory)
      return 0;
    checkHip(result, "hipMalloc");
    return reinterpret_cast<uint64_t>(pointer);
  }
  void releaseBlock(uint64_t handle, size_t) override {
    makeCurrent(ordinal);
    // hipFree synchronizes the device; freeing is rare with the cache.
    hipApi().hipFree(reinterpret_cast<void *>(handle));
  }

private:
  int ordinal;
};

class HipEvent : public Event {
public:
  explicit HipEvent(int ordinal) : ordinal(ordinal) {
    makeCurrent(ordinal);
    checkHip(hipApi().hipEventCreateWithFlags(&event, hipEventDisableTiming),
              "hipEventCreateWithFlags");
  }
  ~HipEvent() override {
    hipApi().hipSetDevice(ordinal);
    hipApi().hipEventDestroy(event);
  }
  void synchronize() override {
    makeCurrent(ordinal);
    checkHip(hipApi().hipEventSynchronize(event), "hipEventSynchronize");
  }
  bool isComplete() override {
    makeCurrent(ordinal);
    hipError_t result = hipApi().hipEventQuery(event);
    if (result == hipErrorNotReady)
      return false;
    checkHip(result, "hipEventQuery");
    return true;
  }

  int ordinal;
  hipEvent_t event = nullptr;
};

/// The timing events of one stream's LaunchTimer.
class HipTimingEvents : public TimingEvents {
public:
  HipTimingEvents(int ordinal, hipStream_t stream) : ordinal(ordinal), stream(stream) {}
  void *create() override {
    makeCurrent(ordinal);
    hipEvent_t event = nullptr;
    checkHip(hipApi().hipEventCreateWithFlags(&event, 0), "hipEventCreateWithFlags");
    return event;
  }
  void destroy(void *event) override {
    hipApi().hipSetDevice(ordinal);
    hipApi().hipEventDestroy(static_cast<hipEvent_t>(event));
  }
  void record(void *event) override {
    checkHip(hipApi().hipEventRecord(static_cast<hipEvent_t>(event), stream),
             "hipEventRecord");
  }
  bool isComplete(void *event) override {
    hipApi().hipSetDevice(ordinal);
    return hipApi().hipEventQuery(static_cast<hipEvent_t>(event)) == hipSuccess;
  }
  bool elapsedMs(void *from, void *to, float *ms) override {
    hipApi().hipSetDevice(ordinal);
    return hipApi().hipEventElapsedTime(ms, static_cast<hipEvent_t>(from),
                                        static_cast<hipEvent_t>(to)) == hipSuccess;
  }

private:
  int ordinal;
  hipStream_t stream;
};

class HipStream : public Stream {
public:
  explicit HipStream(int ordinal) : ordinal(ordinal) {
    makeCurrent(ordinal);
    checkHip(hipApi().hipStreamCreateWithFlags(&stream, hipStreamNonBlocking),
              "hipStreamCreateWithFlags");
    timer = std::make_unique<LaunchTimer>(
        std::make_unique<HipTimingEvents>(ordinal, stream), "rocm launch");
  }
  ~HipStream() override {
    hipApi().hipSetDevice(ordinal);
    bool idle = hipApi().hipStreamSynchronize(stream) == hipSuccess;
    try {
      if (idle)
        timer->collect(/*synchronized=*/true);
    } catch (...) {
    }
    timer.reset();
    hipApi().hipStreamDestroy(stream);
  }
  void record(Event &event) override {
    makeCurrent(ordinal);
    checkHip(hipApi().hipEventRecord(asHip(event).event, stream),
              "hipEventRecord");
  }
  void wait(Event &event) override {
    makeCurrent(ordinal);
    checkHip(hipApi().hipStreamWaitEvent(stream, asHip(event).event, 0),
              "hipStreamWaitEvent");
  }
  void synchronize() override {
    makeCurrent(ordinal);
    checkHip(hipApi().hipStreamSynchronize(stream), "hipStreamSynchronize");
    timer->collect(/*synchronized=*/true);
  }

  int ordinal;
  hipStream_t stream = nullptr;
  /// Device times of its launches while the profiler records.
  std::unique_ptr<LaunchTimer> timer;

private:
  HipEvent &asHip(Event &event) {
    auto *hipEventObject = dynamic_cast<HipEvent *>(&event);
    if (!hipEventObject || hipEventObject->ordinal != ordinal)
      fail("an event of another device or backend was passed to a stream");
    return *hipEventObject;
  }
};

class HipKernel : public Kernel {
public:
  HipKernel(const std::string &name, const KernelLayout &layout,
             int ordinal, hipFunction_t function)
      : Kernel(name, layout), ordinal(ordinal), function(function) {}
  int ordinal;
  hipFunction_t function;
};

class HipModule : public Module {
public:
  HipModule(int ordinal, hipModule_t module)
      : ordinal(ordinal), module(module) {}
  ~HipModule() override {
    hipApi().hipSetDevice(ordinal);
    hipApi().hipModuleUnload(module);
  }
  Kernel &getKernel(const std::string &name,
                    const KernelLayout &layout) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = kernels.find(name);
    if (found != kernels.end()) {
      if (found->second->layout().params.size() != layout.params.size())
        fail("kernel '" + name + "' was already looked up with another layout");
      return *found->second;
    }
    makeCurrent(ordinal);
    hipFunction_t function = nullptr;
    hipError_t result =
        hipApi().hipModuleGetFunction(&function, module, name.c_str());
    if (result == hipErrorNotFound)
      fail("the module has no kernel '" + name +
           "' (is it .entry and not name-mangled?)");
    checkHip(result, "hipModuleGetFunction");
    auto kernel = std::make_unique<HipKernel>(name, layout, ordinal, function);
    return *kernels.emplace(name, std::move(kernel)).first->second;
  }

private:
  int ordinal;
  hipModule_t module;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<HipKernel>> kernels;
};

class HipDevice : public Device {
public:
  HipDevice(DeviceInfo info, int ordinal)
      : Device(std::move(info), std::make_unique<HipBlockSource>(ordinal)),
        ordinal(ordinal) {
    mainStream = std::make_unique<HipStream>(ordinal);
  }
  ~HipDevice() override {
    mainStream.reset();
    hipApi().hipSetDevice(ordinal);
    hipApi().hipDeviceSynchronize();
    releaseAllocator();
  }

  Stream &defaultStream() override { return *mainStream; }
  std::unique_ptr<Stream> createStream() override {
    return std::make_unique<HipStream>(ordinal);
  }
  std::unique_ptr<Event> createEvent() override {
    return std::make_unique<HipEvent>(ordinal);
  }
  void synchronize() override {
    makeCurrent(ordinal);
    checkHip(hipApi().hipDeviceSynchronize(), "hipDeviceSynchronize");
    // Streams made by createStream report theirs at their own synchronize.
    mainStream->timer->collect(/*synchronized=*/true);
  }

  void copyToDevice(DeviceBuffer dst, size_t dstOffset, const void *src,
                    size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyToDevice");
    if (!bytes)
      return;
    makeCurrent(ordinal);
    // From pageable memory this returns once `src` has been staged.
    checkHip(hipApi().hipMemcpyHtoDAsync(pointerOf(dst, dstOffset), const_cast<void *>(src), bytes,
                                             asHip(stream).stream),
              "hipMemcpyHtoDAsync");
  }
  void copyToHost(void *dst, DeviceBuffer src, size_t srcOffset, size_t bytes,
                  Stream &stream) override {
    checkRange(src, srcOffset, bytes, "copyToHost");
    if (!bytes)
      return;
    makeCurrent(ordinal);
    hipStream_t hipStreamValue = asHip(stream).stream;
    checkHip(hipApi().hipMemcpyDtoHAsync(dst, pointerOf(src, srcOffset), bytes,
                                             hipStreamValue),
              "hipMemcpyDtoHAsync");
    checkHip(hipApi().hipStreamSynchronize(hipStreamValue), "hipStreamSynchronize");
    asHip(stream).timer->collect(/*synchronized=*/true);
  }
  void copyOnDevice(DeviceBuffer dst, size_t dstOffset, DeviceBuffer src,
                    size_t srcOffset, size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyOnDevice (destination)");
    checkRange(src, srcOffset, bytes, "copyOnDevice (source)");
    if (!bytes)
      return;
    makeCurrent(ordinal);
    checkHip(hipApi().hipMemcpyDtoDAsync(pointerOf(dst, dstOffset),
                                             pointerOf(src, srcOffset), bytes,
                                             asHip(stream).stream),
              "hipMemcpyDtoDAsync");
  }

  std::unique_ptr<Module> loadModule(ModuleFormat format, const void *data,
                                     size_t bytes) override {
    if (format != ModuleFormat::Hsaco)
      Device::fail(std::string("cannot load a ") + moduleFormatName(format) +
                   " module; ROCm takes an HSACO code object");
    makeCurrent(ordinal);
    hipModule_t module = nullptr;
    hipError_t result = hipApi().hipModuleLoadData(&module, data);
    if (result != hipSuccess)
      Device::fail("hipModuleLoadData failed for a " + std::to_string(bytes) +
                   "-byte HSACO with " + hipErrorText(result) +
                   " (built for another gfx target?)");
    return std::make_unique<HipModule>(ordinal, module);
  }

protected:
  void launchChecked(Kernel &kernelIn, const LaunchParams &params,
                     Stream &stream) override {
    auto *kernel = dynamic_cast<HipKernel *>(&kernelIn);
    if (!kernel || kernel->ordinal != ordinal)
      Device::fail("launch of kernel '" + kernelIn.name() +
                   "': it was loaded on another device");
    makeCurrent(ordinal);
    // kernelParams holds one pointer per parameter to its value.
    std::vector<uint64_t> values(params.args.size());
    std::vector<void *> pointers(params.args.size());
    for (size_t i = 0; i < params.args.size(); ++i) {
      const KernelArg &arg = params.args[i];
      values[i] = arg.kind == ArgKind::Buffer ? arg.buffer.handle + arg.offset
                                              : arg.bits;
      pointers[i] = &values[i];
    }
    const Dim3 &grid = params.grid, &block = params.block;
    HipStream &hipStreamObject = asHip(stream);
    LaunchTimer::Start timed = hipStreamObject.timer->begin();
    hipError_t result = hipApi().hipModuleLaunchKernel(
        kernel->function, grid.x, grid.y, grid.z, block.x, block.y, block.z,
        params.sharedMemoryBytes, hipStreamObject.stream, pointers.data(), nullptr);
    hipStreamObject.timer->end(timed, result == hipSuccess ? &kernel->name() : nullptr);
    if (result != hipSuccess)
      Device::fail("hipModuleLaunchKernel failed for kernel '" + kernel->name() +
                   "' with " + hipErrorText(result));
  }

private:
  HipStream &asHip(Stream &stream) {
    auto *hipStreamObject = dynamic_cast<HipStream *>(&stream);
    if (!hipStreamObject || hipStreamObject->ordinal != ordinal)
      Device::fail("a stream of another device or backend was passed");
    return *hipStreamObject;
  }

  int ordinal;
  std::unique_ptr<HipStream> mainStream;
};

} // namespace

const HipApi &hipApi() { return loadApiOnce<HipApi>(Backend::Rocm, loadCuda); }

} // namespace hip

std::vector<DeviceInfo> enumerateHipDevices() {
  using namespace hip;
  const HipApi &api = hipApi();
  int count = 0;
  checkHip(api.hipGetDeviceCount(&count), "hipGetDeviceCount");
  std::vector<DeviceInfo> infos;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    hipDevice_t device = 0;
    checkHip(api.hipDeviceGet(&device, ordinal), "hipDeviceGet");
    char name[256] = {};
    checkHip(api.hipDeviceGetName(name, sizeof(name), device),
              "hipDeviceGetName");
    size_t memory = 0;
    checkHip(api.hipDeviceTotalMem(&memory, device), "hipDeviceTotalMem");
    DeviceInfo info;
    info.name = name;
    info.backend = Backend::Rocm;
    info.ordinal = ordinal;
    info.totalMemory = memory;
    infos.push_back(info);
  }
  return infos;
}

std::unique_ptr<Device> openHipDevice(int ordinal) {
  using namespace hip;
  std::vector<DeviceInfo> infos = enumerateHipDevices();
  if (ordinal < 0 || size_t(ordinal) >= infos.size())
    throwNoSuchDevice(Backend::Rocm, ordinal, infos.size());
  return std::make_unique<HipDevice>(infos[ordinal], ordinal);
}

} // namespace gpu
} // namespace ember
