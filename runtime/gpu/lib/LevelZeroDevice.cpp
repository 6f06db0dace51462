//===- LevelZeroDevice.cpp - the oneAPI Level Zero driver ------------------===//
//
// One ze context per Device. A stream is an immediate command list on the
// device's compute queue group; since immediate lists do not promise order,
// every operation is followed by a barrier. Host copies go through host
// allocations (zeMemAllocHost, cached like device memory) because a device
// may not reach pageable memory; they complete before returning. Events
// are host-visible ze events, one pool each. Modules are SPIR-V in the
// OpenCL flavour (Kernel capability, Physical64 addressing), built by the
// driver; its build log is part of the error when that fails.
//
//===----------------------------------------------------------------------===//

#include "Drivers.h"
#include "LevelZeroApi.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

namespace ember {
namespace gpu {
namespace ze {

std::string levelZeroResultText(ze_result_t result) {
  const char *name = nullptr;
  switch (result) {
  case ZE_RESULT_NOT_READY:
    name = "ZE_RESULT_NOT_READY";
    break;
  case ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY:
    name = "ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY";
    break;
  case ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY:
    name = "ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY";
    break;
  case ZE_RESULT_ERROR_MODULE_BUILD_FAILURE:
    name = "ZE_RESULT_ERROR_MODULE_BUILD_FAILURE";
    break;
  case ZE_RESULT_ERROR_UNINITIALIZED:
    name = "ZE_RESULT_ERROR_UNINITIALIZED";
    break;
  case ZE_RESULT_ERROR_INVALID_KERNEL_NAME:
    name = "ZE_RESULT_ERROR_INVALID_KERNEL_NAME";
    break;
  default:
    name = "a Level Zero error";
  }
  char code[16];
  std::snprintf(code, sizeof(code), "0x%x", result);
  return std::string(name) + " (" + code + ")";
}

void checkLevelZero(ze_result_t result, const char *call) {
  if (result != ZE_RESULT_SUCCESS)
    throw DeviceError(Backend::LevelZero, std::string(call) + " failed with " +
                                              levelZeroResultText(result));
}

namespace {

[[noreturn]] void fail(const std::string &message) {
  throw DeviceError(Backend::LevelZero, message);
}

std::unique_ptr<LevelZeroApi> loadLevelZero() {
  auto library = DynamicLibrary::open(
      Backend::LevelZero, "EMBER_LEVEL_ZERO_LIBRARY",
      {"libze_loader.so.1", "libze_loader.so"},
      "install level-zero (the oneAPI loader) and a GPU driver such as "
      "intel-level-zero-gpu");
  auto api = std::make_unique<LevelZeroApi>();
  api->library = library;
  EMBER_LEVEL_ZERO_SYMBOLS(EMBER_GPU_RESOLVE_SYMBOL)
  ze_result_t result = api->zeInit(0);
  if (result != ZE_RESULT_SUCCESS)
    throw DeviceUnavailableError(Backend::LevelZero,
                                 "zeInit failed with " +
                                     levelZeroResultText(result) +
                                     " (no Level Zero driver installed?)");
  uint32_t driverCount = 0;
  checkLevelZero(api->zeDriverGet(&driverCount, nullptr), "zeDriverGet");
  std::vector<ze_driver_handle_t> drivers(driverCount);
  checkLevelZero(api->zeDriverGet(&driverCount, drivers.data()), "zeDriverGet");
  for (ze_driver_handle_t driver : drivers) {
    uint32_t count = 0;
    checkLevelZero(api->zeDeviceGet(driver, &count, nullptr), "zeDeviceGet");
    std::vector<ze_device_handle_t> devices(count);
    checkLevelZero(api->zeDeviceGet(driver, &count, devices.data()),
                   "zeDeviceGet");
    for (ze_device_handle_t device : devices)
      api->devices.push_back({driver, device});
  }
  return api;
}

class LevelZeroBlockSource : public BlockSource {
public:
  LevelZeroBlockSource(ze_context_handle_t context, ze_device_handle_t device,
                       bool host)
      : context(context), device(device), host(host) {}
  uint64_t allocateBlock(size_t bytes) override {
    void *pointer = nullptr;
    ze_result_t result;
    if (host) {
      ze_host_mem_alloc_desc_t desc;
      result = levelZeroApi().zeMemAllocHost(context, &desc, bytes, 64, &pointer);
    } else {
      ze_device_mem_alloc_desc_t desc;
      result = levelZeroApi().zeMemAllocDevice(context, &desc, bytes, 64, device,
                                               &pointer);
    }
    if (result == ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY ||
        result == ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY)
      return 0;
    checkLevelZero(result, host ? "zeMemAllocHost" : "zeMemAllocDevice");
    return reinterpret_cast<uint64_t>(pointer);
  }
  void releaseBlock(uint64_t handle, size_t) override {
    levelZeroApi().zeMemFree(context, reinterpret_cast<void *>(handle));
  }

private:
  ze_context_handle_t context;
  ze_device_handle_t device;
  bool host;
};

/// One host-visible event in a pool of its own.
struct OwnedEvent {
  ze_event_pool_handle_t pool = nullptr;
  ze_event_handle_t event = nullptr;

  OwnedEvent(ze_context_handle_t context, ze_device_handle_t device) {
    const LevelZeroApi &api = levelZeroApi();
    ze_event_pool_desc_t poolDesc;
    poolDesc.flags = ZE_EVENT_POOL_FLAG_HOST_VISIBLE;
    poolDesc.count = 1;
    checkLevelZero(api.zeEventPoolCreate(context, &poolDesc, 1, &device, &pool),
                   "zeEventPoolCreate");
    ze_event_desc_t desc;
    desc.signal = ZE_EVENT_SCOPE_FLAG_HOST;
    desc.wait = ZE_EVENT_SCOPE_FLAG_HOST;
    ze_result_t result = api.zeEventCreate(pool, &desc, &event);
    if (result != ZE_RESULT_SUCCESS) {
      api.zeEventPoolDestroy(pool);
      checkLevelZero(result, "zeEventCreate");
    }
  }
  ~OwnedEvent() {
    levelZeroApi().zeEventDestroy(event);
    levelZeroApi().zeEventPoolDestroy(pool);
  }
  void hostSynchronize() {
    checkLevelZero(levelZeroApi().zeEventHostSynchronize(event, UINT64_MAX),
                   "zeEventHostSynchronize");
  }
};

class LevelZeroEvent : public Event {
public:
  LevelZeroEvent(ze_context_handle_t context, ze_device_handle_t device)
      : context(context), owned(context, device) {}
  void synchronize() override {
    if (recorded)
      owned.hostSynchronize();
  }
  bool isComplete() override {
    if (!recorded)
      return true;
    ze_result_t result = levelZeroApi().zeEventQueryStatus(owned.event);
    if (result == ZE_RESULT_NOT_READY)
      return false;
    checkLevelZero(result, "zeEventQueryStatus");
    return true;
  }

  ze_context_handle_t context;
  OwnedEvent owned;
  bool recorded = false;
};

class LevelZeroStream : public Stream {
public:
  LevelZeroStream(ze_context_handle_t context, ze_device_handle_t device,
                  uint32_t queueOrdinal)
      : context(context), device(device), idle(context, device) {
    ze_command_queue_desc_t desc;
    desc.ordinal = queueOrdinal;
    desc.mode = ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS;
    checkLevelZero(levelZeroApi().zeCommandListCreateImmediate(context, device,
                                                               &desc, &list),
                   "zeCommandListCreateImmediate");
  }
  ~LevelZeroStream() override {
    try {
      synchronize();
    } catch (const DeviceError &) {
    }
    levelZeroApi().zeCommandListDestroy(list);
  }

  /// Orders everything appended later after everything appended so far.
  void barrier() {
    checkLevelZero(
        levelZeroApi().zeCommandListAppendBarrier(list, nullptr, 0, nullptr),
        "zeCommandListAppendBarrier");
  }

  void record(Event &event) override {
    LevelZeroEvent &zeEvent = asLevelZero(event);
    const LevelZeroApi &api = levelZeroApi();
    checkLevelZero(api.zeEventHostReset(zeEvent.owned.event), "zeEventHostReset");
    // A barrier's signal fires once all earlier commands have completed.
    checkLevelZero(
        api.zeCommandListAppendBarrier(list, zeEvent.owned.event, 0, nullptr),
        "zeCommandListAppendBarrier");
    zeEvent.recorded = true;
  }
  void wait(Event &event) override {
    LevelZeroEvent &zeEvent = asLevelZero(event);
    if (!zeEvent.recorded)
      return;
    checkLevelZero(levelZeroApi().zeCommandListAppendWaitOnEvents(
                       list, 1, &zeEvent.owned.event),
                   "zeCommandListAppendWaitOnEvents");
  }
  void synchronize() override {
    const LevelZeroApi &api = levelZeroApi();
    checkLevelZero(api.zeEventHostReset(idle.event), "zeEventHostReset");
    checkLevelZero(api.zeCommandListAppendBarrier(list, idle.event, 0, nullptr),
                   "zeCommandListAppendBarrier");
    idle.hostSynchronize();
  }

  ze_context_handle_t context;
  ze_device_handle_t device;
  ze_command_list_handle_t list = nullptr;
  /// Appending to one command list must not race.
  std::mutex mutex;

private:
  LevelZeroEvent &asLevelZero(Event &event) {
    auto *zeEvent = dynamic_cast<LevelZeroEvent *>(&event);
    if (!zeEvent || zeEvent->context != context)
      fail("an event of another device or backend was passed to a stream");
    return *zeEvent;
  }
  OwnedEvent idle;
};

class LevelZeroKernel : public Kernel {
public:
  LevelZeroKernel(const std::string &name, const KernelLayout &layout,
                  ze_context_handle_t context, ze_kernel_handle_t kernel)
      : Kernel(name, layout), context(context), kernel(kernel) {}
  ~LevelZeroKernel() override { levelZeroApi().zeKernelDestroy(kernel); }
  ze_context_handle_t context;
  ze_kernel_handle_t kernel;
  /// Arguments and group size live on the kernel object until appended.
  std::mutex mutex;
};

class LevelZeroModule : public Module {
public:
  LevelZeroModule(ze_context_handle_t context, ze_module_handle_t module)
      : context(context), module(module) {}
  ~LevelZeroModule() override {
    kernels.clear();
    levelZeroApi().zeModuleDestroy(module);
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
    ze_kernel_desc_t desc;
    desc.pKernelName = name.c_str();
    ze_kernel_handle_t kernel = nullptr;
    ze_result_t result = levelZeroApi().zeKernelCreate(module, &desc, &kernel);
    if (result == ZE_RESULT_ERROR_INVALID_KERNEL_NAME)
      fail("the module has no kernel '" + name + "'");
    checkLevelZero(result, "zeKernelCreate");
    auto owned = std::make_unique<LevelZeroKernel>(name, layout, context, kernel);
    return *kernels.emplace(name, std::move(owned)).first->second;
  }

private:
  ze_context_handle_t context;
  ze_module_handle_t module;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<LevelZeroKernel>> kernels;
};

void *pointerOf(DeviceBuffer buffer, size_t offset) {
  return reinterpret_cast<void *>(buffer.handle + offset);
}

class LevelZeroDeviceImpl : public Device {
public:
  LevelZeroDeviceImpl(DeviceInfo info, ze_context_handle_t context,
                      ze_device_handle_t device, uint32_t queueOrdinal)
      : Device(std::move(info),
               std::make_unique<LevelZeroBlockSource>(context, device, false)),
        context(context), device(device), queueOrdinal(queueOrdinal),
        staging(std::make_unique<LevelZeroBlockSource>(context, device, true)) {
    mainStream =
        std::make_unique<LevelZeroStream>(context, device, queueOrdinal);
  }
  ~LevelZeroDeviceImpl() override {
    mainStream.reset();
    releaseAllocator();
    staging.emptyCache();
    levelZeroApi().zeContextDestroy(context);
  }

  Stream &defaultStream() override { return *mainStream; }
  std::unique_ptr<Stream> createStream() override {
    return std::make_unique<LevelZeroStream>(context, device, queueOrdinal);
  }
  std::unique_ptr<Event> createEvent() override {
    return std::make_unique<LevelZeroEvent>(context, device);
  }
  void synchronize() override { mainStream->synchronize(); }

  void copyToDevice(DeviceBuffer dst, size_t dstOffset, const void *src,
                    size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyToDevice");
    if (!bytes)
      return;
    LevelZeroStream &zeStream = asLevelZero(stream);
    uint64_t host = stagingBlock(bytes);
    std::memcpy(reinterpret_cast<void *>(host), src, bytes);
    try {
      std::lock_guard<std::mutex> lock(zeStream.mutex);
      checkLevelZero(levelZeroApi().zeCommandListAppendMemoryCopy(
                         zeStream.list, pointerOf(dst, dstOffset),
                         reinterpret_cast<void *>(host), bytes, nullptr, 0,
                         nullptr),
                     "zeCommandListAppendMemoryCopy");
      zeStream.barrier();
      zeStream.synchronize();
    } catch (...) {
      staging.free(host);
      throw;
    }
    staging.free(host);
  }

  void copyToHost(void *dst, DeviceBuffer src, size_t srcOffset, size_t bytes,
                  Stream &stream) override {
    checkRange(src, srcOffset, bytes, "copyToHost");
    if (!bytes)
      return;
    LevelZeroStream &zeStream = asLevelZero(stream);
    uint64_t host = stagingBlock(bytes);
    try {
      std::lock_guard<std::mutex> lock(zeStream.mutex);
      checkLevelZero(levelZeroApi().zeCommandListAppendMemoryCopy(
                         zeStream.list, reinterpret_cast<void *>(host),
                         pointerOf(src, srcOffset), bytes, nullptr, 0, nullptr),
                     "zeCommandListAppendMemoryCopy");
      zeStream.barrier();
      zeStream.synchronize();
      std::memcpy(dst, reinterpret_cast<void *>(host), bytes);
    } catch (...) {
      staging.free(host);
      throw;
    }
    staging.free(host);
  }

  void copyOnDevice(DeviceBuffer dst, size_t dstOffset, DeviceBuffer src,
                    size_t srcOffset, size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyOnDevice (destination)");
    checkRange(src, srcOffset, bytes, "copyOnDevice (source)");
    if (!bytes)
      return;
    LevelZeroStream &zeStream = asLevelZero(stream);
    std::lock_guard<std::mutex> lock(zeStream.mutex);
    checkLevelZero(levelZeroApi().zeCommandListAppendMemoryCopy(
                       zeStream.list, pointerOf(dst, dstOffset),
                       pointerOf(src, srcOffset), bytes, nullptr, 0, nullptr),
                   "zeCommandListAppendMemoryCopy");
    zeStream.barrier();
  }

  std::unique_ptr<Module> loadModule(ModuleFormat format, const void *data,
                                     size_t bytes) override {
    if (format != ModuleFormat::Spirv)
      Device::fail(std::string("cannot load a ") + moduleFormatName(format) +
                   " module; Level Zero takes SPIR-V (OpenCL flavour)");
    const LevelZeroApi &api = levelZeroApi();
    ze_module_desc_t desc;
    desc.inputSize = bytes;
    desc.pInputModule = static_cast<const uint8_t *>(data);
    desc.pBuildFlags = "";
    ze_module_handle_t module = nullptr;
    ze_module_build_log_handle_t log = nullptr;
    ze_result_t result = api.zeModuleCreate(context, device, &desc, &module, &log);
    std::string logText;
    if (log) {
      size_t size = 0;
      if (api.zeModuleBuildLogGetString(log, &size, nullptr) ==
              ZE_RESULT_SUCCESS &&
          size > 1) {
        logText.resize(size);
        api.zeModuleBuildLogGetString(log, &size, &logText[0]);
        logText.resize(std::strlen(logText.c_str()));
      }
      api.zeModuleBuildLogDestroy(log);
    }
    if (result != ZE_RESULT_SUCCESS)
      Device::fail("zeModuleCreate failed with " + levelZeroResultText(result) +
                   (logText.empty() ? "" : ": " + logText));
    return std::make_unique<LevelZeroModule>(context, module);
  }

protected:
  void launchChecked(Kernel &kernelIn, const LaunchParams &params,
                     Stream &stream) override {
    auto *kernel = dynamic_cast<LevelZeroKernel *>(&kernelIn);
    if (!kernel || kernel->context != context)
      Device::fail("launch of kernel '" + kernelIn.name() +
                   "': it was loaded on another device");
    if (params.sharedMemoryBytes)
      Device::fail("launch of kernel '" + kernel->name() +
                   "': dynamic shared memory is not supported on Level Zero "
                   "yet; use Workgroup variables");
    const LevelZeroApi &api = levelZeroApi();
    LevelZeroStream &zeStream = asLevelZero(stream);
    std::lock_guard<std::mutex> kernelLock(kernel->mutex);
    checkLevelZero(api.zeKernelSetGroupSize(kernel->kernel, params.block.x,
                                            params.block.y, params.block.z),
                   "zeKernelSetGroupSize");
    for (size_t i = 0; i < params.args.size(); ++i) {
      const KernelArg &arg = params.args[i];
      uint64_t value = arg.kind == ArgKind::Buffer
                           ? arg.buffer.handle + arg.offset
                           : arg.bits;
      size_t size = arg.kind == ArgKind::Buffer ? sizeof(void *)
                                                : arg.scalarBytes();
      ze_result_t result =
          api.zeKernelSetArgumentValue(kernel->kernel, uint32_t(i), size, &value);
      if (result != ZE_RESULT_SUCCESS)
        Device::fail("zeKernelSetArgumentValue failed for argument " +
                     std::to_string(i) + " of kernel '" + kernel->name() +
                     "' with " + levelZeroResultText(result) +
                     " (does the KernelLayout match the kernel?)");
    }
    ze_group_count_t groups = {params.grid.x, params.grid.y, params.grid.z};
    std::lock_guard<std::mutex> streamLock(zeStream.mutex);
    checkLevelZero(api.zeCommandListAppendLaunchKernel(
                       zeStream.list, kernel->kernel, &groups, nullptr, 0,
                       nullptr),
                   "zeCommandListAppendLaunchKernel");
    zeStream.barrier();
  }

private:
  LevelZeroStream &asLevelZero(Stream &stream) {
    auto *zeStream = dynamic_cast<LevelZeroStream *>(&stream);
    if (!zeStream || zeStream->context != context)
      Device::fail("a stream of another device or backend was passed");
    return *zeStream;
  }
  uint64_t stagingBlock(size_t bytes) {
    uint64_t handle = staging.allocate(bytes);
    if (!handle)
      Device::fail("out of host memory for a " + std::to_string(bytes) +
                   "-byte staging buffer");
    return handle;
  }

  ze_context_handle_t context;
  ze_device_handle_t device;
  uint32_t queueOrdinal;
  CachingAllocator staging;
  std::unique_ptr<LevelZeroStream> mainStream;
};

} // namespace

const LevelZeroApi &levelZeroApi() {
  return loadApiOnce<LevelZeroApi>(Backend::LevelZero, loadLevelZero);
}

} // namespace ze

std::vector<DeviceInfo> enumerateLevelZeroDevices() {
  using namespace ze;
  const LevelZeroApi &api = levelZeroApi();
  std::vector<DeviceInfo> infos;
  for (const LevelZeroDevice &entry : api.devices) {
    ze_device_properties_t properties;
    checkLevelZero(api.zeDeviceGetProperties(entry.device, &properties),
                   "zeDeviceGetProperties");
    uint32_t count = 0;
    checkLevelZero(api.zeDeviceGetMemoryProperties(entry.device, &count, nullptr),
                   "zeDeviceGetMemoryProperties");
    std::vector<ze_device_memory_properties_t> memories(count);
    checkLevelZero(
        api.zeDeviceGetMemoryProperties(entry.device, &count, memories.data()),
        "zeDeviceGetMemoryProperties");
    DeviceInfo info;
    info.name = properties.name;
    info.backend = Backend::LevelZero;
    info.ordinal = int(infos.size());
    for (const ze_device_memory_properties_t &memory : memories)
      info.totalMemory += memory.totalSize;
    infos.push_back(info);
  }
  return infos;
}

std::unique_ptr<Device> openLevelZeroDevice(int ordinal) {
  using namespace ze;
  std::vector<DeviceInfo> infos = enumerateLevelZeroDevices();
  if (ordinal < 0 || size_t(ordinal) >= infos.size())
    throwNoSuchDevice(Backend::LevelZero, ordinal, infos.size());
  const LevelZeroApi &api = levelZeroApi();
  const LevelZeroDevice &entry = api.devices[ordinal];
  uint32_t groupCount = 0;
  checkLevelZero(api.zeDeviceGetCommandQueueGroupProperties(entry.device,
                                                            &groupCount, nullptr),
                 "zeDeviceGetCommandQueueGroupProperties");
  std::vector<ze_command_queue_group_properties_t> groups(groupCount);
  checkLevelZero(api.zeDeviceGetCommandQueueGroupProperties(
                     entry.device, &groupCount, groups.data()),
                 "zeDeviceGetCommandQueueGroupProperties");
  uint32_t queueOrdinal = UINT32_MAX;
  for (uint32_t i = 0; i < groupCount; ++i)
    if (groups[i].flags & ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE) {
      queueOrdinal = i;
      break;
    }
  if (queueOrdinal == UINT32_MAX)
    throw DeviceUnavailableError(Backend::LevelZero,
                                 infos[ordinal].name + " has no compute queue");
  ze_context_desc_t contextDesc;
  ze_context_handle_t context = nullptr;
  checkLevelZero(api.zeContextCreate(entry.driver, &contextDesc, &context),
                 "zeContextCreate");
  try {
    return std::make_unique<LevelZeroDeviceImpl>(infos[ordinal], context,
                                                 entry.device, queueOrdinal);
  } catch (...) {
    api.zeContextDestroy(context);
    throw;
  }
}

} // namespace gpu
} // namespace ember
