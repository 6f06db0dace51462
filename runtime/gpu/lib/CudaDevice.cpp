//===- CudaDevice.cpp - the CUDA driver-API driver -------------------------===//
//
// One device's primary context (shared with any CUDA runtime code in the
// process, as the runtime API does), made current on the calling thread at
// the start of every operation so that any thread may use the Device.
// Streams are non-blocking CUstreams (no implicit sync with the legacy
// stream 0); events are CUevents without timing. While ember.profiler
// records, each launch is timed by a pair of timing events (LaunchTimer.h),
// read back once the stream has run them. Modules come from PTX,
// which the driver JIT-compiles for the device (its log is part of the
// error when it fails), or from a cubin.
//
//===----------------------------------------------------------------------===//

#include "CudaApi.h"
#include "Drivers.h"
#include "LaunchTimer.h"

#include <map>
#include <mutex>

namespace ember {
namespace gpu {
namespace cuda {

std::string cudaErrorText(CUresult result) {
  const char *name = nullptr;
  try {
    if (cudaApi().cuGetErrorName(result, &name) != CUDA_SUCCESS)
      name = nullptr;
  } catch (const DeviceError &) {
  }
  return std::string(name ? name : "CUDA error") + " (" +
         std::to_string(result) + ")";
}

void checkCuda(CUresult result, const char *call) {
  if (result != CUDA_SUCCESS)
    throw DeviceError(Backend::Cuda,
                      std::string(call) + " failed with " + cudaErrorText(result));
}

namespace {

[[noreturn]] void fail(const std::string &message) {
  throw DeviceError(Backend::Cuda, message);
}

std::unique_ptr<CudaApi> loadCuda() {
  auto library = DynamicLibrary::open(
      Backend::Cuda, "EMBER_CUDA_LIBRARY", {"libcuda.so.1", "libcuda.so"},
      "install the NVIDIA driver; the CUDA toolkit is not needed");
  auto api = std::make_unique<CudaApi>();
  api->library = library;
  EMBER_CUDA_SYMBOLS(EMBER_GPU_RESOLVE_SYMBOL)
  CUresult result = api->cuInit(0);
  if (result != CUDA_SUCCESS) {
    const char *name = nullptr;
    api->cuGetErrorName(result, &name);
    throw DeviceUnavailableError(
        Backend::Cuda, std::string("cuInit failed with ") +
                           (name ? name : "an unknown error") + " (" +
                           std::to_string(result) + ")" +
                           (result == CUDA_ERROR_NO_DEVICE
                                ? ": no CUDA device (CUDA_VISIBLE_DEVICES?)"
                                : ""));
  }
  return api;
}

/// Makes `context` current on this thread for the scope's operations.
void makeCurrent(CUcontext context) {
  checkCuda(cudaApi().cuCtxSetCurrent(context), "cuCtxSetCurrent");
}

class CudaBlockSource : public BlockSource {
public:
  explicit CudaBlockSource(CUcontext context) : context(context) {}
  uint64_t allocateBlock(size_t bytes) override {
    makeCurrent(context);
    CUdeviceptr pointer = 0;
    CUresult result = cudaApi().cuMemAlloc_v2(&pointer, bytes);
    if (result == CUDA_ERROR_OUT_OF_MEMORY)
      return 0;
    checkCuda(result, "cuMemAlloc_v2");
    return pointer;
  }
  void releaseBlock(uint64_t handle, size_t) override {
    makeCurrent(context);
    // cuMemFree synchronizes the device; freeing is rare with the cache.
    cudaApi().cuMemFree_v2(handle);
  }

private:
  CUcontext context;
};

class CudaEvent : public Event {
public:
  explicit CudaEvent(CUcontext context) : context(context) {
    makeCurrent(context);
    checkCuda(cudaApi().cuEventCreate(&event, CU_EVENT_DISABLE_TIMING),
              "cuEventCreate");
  }
  ~CudaEvent() override {
    cudaApi().cuCtxSetCurrent(context);
    cudaApi().cuEventDestroy_v2(event);
  }
  void synchronize() override {
    makeCurrent(context);
    checkCuda(cudaApi().cuEventSynchronize(event), "cuEventSynchronize");
  }
  bool isComplete() override {
    makeCurrent(context);
    CUresult result = cudaApi().cuEventQuery(event);
    if (result == CUDA_ERROR_NOT_READY)
      return false;
    checkCuda(result, "cuEventQuery");
    return true;
  }

  CUcontext context;
  CUevent event = nullptr;
};

/// The timing events of one stream's LaunchTimer.
class CudaTimingEvents : public TimingEvents {
public:
  CudaTimingEvents(CUcontext context, CUstream stream)
      : context(context), stream(stream) {}
  void *create() override {
    makeCurrent(context);
    CUevent event = nullptr;
    checkCuda(cudaApi().cuEventCreate(&event, 0), "cuEventCreate");
    return event;
  }
  void destroy(void *event) override {
    cudaApi().cuCtxSetCurrent(context);
    cudaApi().cuEventDestroy_v2(static_cast<CUevent>(event));
  }
  void record(void *event) override {
    checkCuda(cudaApi().cuEventRecord(static_cast<CUevent>(event), stream),
              "cuEventRecord");
  }
  bool isComplete(void *event) override {
    cudaApi().cuCtxSetCurrent(context);
    return cudaApi().cuEventQuery(static_cast<CUevent>(event)) == CUDA_SUCCESS;
  }
  bool elapsedMs(void *from, void *to, float *ms) override {
    cudaApi().cuCtxSetCurrent(context);
    return cudaApi().cuEventElapsedTime(ms, static_cast<CUevent>(from),
                                        static_cast<CUevent>(to)) == CUDA_SUCCESS;
  }

private:
  CUcontext context;
  CUstream stream;
};

class CudaStream : public Stream {
public:
  explicit CudaStream(CUcontext context) : context(context) {
    makeCurrent(context);
    checkCuda(cudaApi().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
              "cuStreamCreate");
    timer = std::make_unique<LaunchTimer>(
        std::make_unique<CudaTimingEvents>(context, stream), "cuda launch");
  }
  ~CudaStream() override {
    cudaApi().cuCtxSetCurrent(context);
    bool idle = cudaApi().cuStreamSynchronize(stream) == CUDA_SUCCESS;
    try {
      if (idle)
        timer->collect(/*synchronized=*/true);
    } catch (...) {
    }
    timer.reset();
    cudaApi().cuStreamDestroy_v2(stream);
  }
  void record(Event &event) override {
    makeCurrent(context);
    checkCuda(cudaApi().cuEventRecord(asCuda(event).event, stream),
              "cuEventRecord");
  }
  void wait(Event &event) override {
    makeCurrent(context);
    checkCuda(cudaApi().cuStreamWaitEvent(stream, asCuda(event).event, 0),
              "cuStreamWaitEvent");
  }
  void synchronize() override {
    makeCurrent(context);
    checkCuda(cudaApi().cuStreamSynchronize(stream), "cuStreamSynchronize");
    timer->collect(/*synchronized=*/true);
  }
  void *nativeHandle() override {
    makeCurrent(context);
    return stream;
  }

  CUcontext context;
  CUstream stream = nullptr;
  /// Device times of its launches while the profiler records.
  std::unique_ptr<LaunchTimer> timer;

private:
  CudaEvent &asCuda(Event &event) {
    auto *cudaEvent = dynamic_cast<CudaEvent *>(&event);
    if (!cudaEvent || cudaEvent->context != context)
      fail("an event of another device or backend was passed to a stream");
    return *cudaEvent;
  }
};

class CudaKernel : public Kernel {
public:
  CudaKernel(const std::string &name, const KernelLayout &layout,
             CUcontext context, CUfunction function)
      : Kernel(name, layout), context(context), function(function) {}
  CUcontext context;
  CUfunction function;
  /// The dynamic shared memory the function was opted in to.
  int sharedLimit = 48 << 10;
};

class CudaModule : public Module {
public:
  CudaModule(CUcontext context, CUmodule module)
      : context(context), module(module) {}
  ~CudaModule() override {
    cudaApi().cuCtxSetCurrent(context);
    cudaApi().cuModuleUnload(module);
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
    makeCurrent(context);
    CUfunction function = nullptr;
    CUresult result =
        cudaApi().cuModuleGetFunction(&function, module, name.c_str());
    if (result == CUDA_ERROR_NOT_FOUND)
      fail("the module has no kernel '" + name +
           "' (is it .entry and not name-mangled?)");
    checkCuda(result, "cuModuleGetFunction");
    auto kernel = std::make_unique<CudaKernel>(name, layout, context, function);
    return *kernels.emplace(name, std::move(kernel)).first->second;
  }

private:
  CUcontext context;
  CUmodule module;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<CudaKernel>> kernels;
};

class CudaDevice : public Device {
public:
  CudaDevice(DeviceInfo info, CUdevice device, CUcontext context)
      : Device(std::move(info), std::make_unique<CudaBlockSource>(context)),
        device(device), context(context) {
    mainStream = std::make_unique<CudaStream>(context);
  }
  ~CudaDevice() override {
    mainStream.reset();
    cudaApi().cuCtxSetCurrent(context);
    cudaApi().cuCtxSynchronize();
    releaseAllocator();
    cudaApi().cuDevicePrimaryCtxRelease_v2(device);
  }

  Stream &defaultStream() override { return *mainStream; }
  std::unique_ptr<Stream> createStream() override {
    return std::make_unique<CudaStream>(context);
  }
  std::unique_ptr<Event> createEvent() override {
    return std::make_unique<CudaEvent>(context);
  }
  void synchronize() override {
    makeCurrent(context);
    checkCuda(cudaApi().cuCtxSynchronize(), "cuCtxSynchronize");
    // Streams made by createStream report theirs at their own synchronize.
    mainStream->timer->collect(/*synchronized=*/true);
  }

  void copyToDevice(DeviceBuffer dst, size_t dstOffset, const void *src,
                    size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyToDevice");
    if (!bytes)
      return;
    makeCurrent(context);
    // From pageable memory this returns once `src` has been staged.
    checkCuda(cudaApi().cuMemcpyHtoDAsync_v2(dst.handle + dstOffset, src, bytes,
                                             asCuda(stream).stream),
              "cuMemcpyHtoDAsync_v2");
  }
  void copyToHost(void *dst, DeviceBuffer src, size_t srcOffset, size_t bytes,
                  Stream &stream) override {
    checkRange(src, srcOffset, bytes, "copyToHost");
    if (!bytes)
      return;
    makeCurrent(context);
    CUstream cuStream = asCuda(stream).stream;
    checkCuda(cudaApi().cuMemcpyDtoHAsync_v2(dst, src.handle + srcOffset, bytes,
                                             cuStream),
              "cuMemcpyDtoHAsync_v2");
    checkCuda(cudaApi().cuStreamSynchronize(cuStream), "cuStreamSynchronize");
    asCuda(stream).timer->collect(/*synchronized=*/true);
  }
  void copyOnDevice(DeviceBuffer dst, size_t dstOffset, DeviceBuffer src,
                    size_t srcOffset, size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyOnDevice (destination)");
    checkRange(src, srcOffset, bytes, "copyOnDevice (source)");
    if (!bytes)
      return;
    makeCurrent(context);
    checkCuda(cudaApi().cuMemcpyDtoDAsync_v2(dst.handle + dstOffset,
                                             src.handle + srcOffset, bytes,
                                             asCuda(stream).stream),
              "cuMemcpyDtoDAsync_v2");
  }

  std::unique_ptr<Module> loadModule(ModuleFormat format, const void *data,
                                     size_t bytes) override {
    if (format != ModuleFormat::Ptx && format != ModuleFormat::Cubin)
      Device::fail(std::string("cannot load a ") + moduleFormatName(format) +
                   " module; CUDA takes PTX or a cubin");
    // PTX is text the driver reads up to its NUL.
    std::string ptx;
    if (format == ModuleFormat::Ptx) {
      ptx.assign(static_cast<const char *>(data), bytes);
      data = ptx.c_str();
    }
    makeCurrent(context);
    char errorLog[8192] = {}, infoLog[4096] = {};
    CUjit_option options[] = {
        CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {errorLog, reinterpret_cast<void *>(sizeof(errorLog)),
                      infoLog, reinterpret_cast<void *>(sizeof(infoLog))};
    CUmodule module = nullptr;
    CUresult result =
        cudaApi().cuModuleLoadDataEx(&module, data, 4, options, values);
    if (result != CUDA_SUCCESS)
      Device::fail(std::string("cuModuleLoadDataEx failed for a ") +
                   moduleFormatName(format) + " module with " +
                   cudaErrorText(result) +
                   (errorLog[0] ? std::string(": ") + errorLog : ""));
    return std::make_unique<CudaModule>(context, module);
  }

protected:
  void launchChecked(Kernel &kernelIn, const LaunchParams &params,
                     Stream &stream) override {
    auto *kernel = dynamic_cast<CudaKernel *>(&kernelIn);
    if (!kernel || kernel->context != context)
      Device::fail("launch of kernel '" + kernelIn.name() +
                   "': it was loaded on another device");
    makeCurrent(context);
    if (int(params.sharedMemoryBytes) > kernel->sharedLimit) {
      // Beyond 48 KiB a kernel must opt in to dynamic shared memory.
      checkCuda(cudaApi().cuFuncSetAttribute(
                    kernel->function,
                    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    int(params.sharedMemoryBytes)),
                "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
      kernel->sharedLimit = int(params.sharedMemoryBytes);
    }
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
    CudaStream &cudaStream = asCuda(stream);
    LaunchTimer::Start timed = cudaStream.timer->begin();
    CUresult result = cudaApi().cuLaunchKernel(
        kernel->function, grid.x, grid.y, grid.z, block.x, block.y, block.z,
        params.sharedMemoryBytes, cudaStream.stream, pointers.data(), nullptr);
    cudaStream.timer->end(timed, result == CUDA_SUCCESS ? &kernel->name() : nullptr);
    if (result != CUDA_SUCCESS)
      Device::fail("cuLaunchKernel failed for kernel '" + kernel->name() +
                   "' with " + cudaErrorText(result));
  }

private:
  CudaStream &asCuda(Stream &stream) {
    auto *cudaStream = dynamic_cast<CudaStream *>(&stream);
    if (!cudaStream || cudaStream->context != context)
      Device::fail("a stream of another device or backend was passed");
    return *cudaStream;
  }

  CUdevice device;
  CUcontext context;
  std::unique_ptr<CudaStream> mainStream;
};

} // namespace

const CudaApi &cudaApi() { return loadApiOnce<CudaApi>(Backend::Cuda, loadCuda); }

} // namespace cuda

std::vector<DeviceInfo> enumerateCudaDevices() {
  using namespace cuda;
  const CudaApi &api = cudaApi();
  int count = 0;
  checkCuda(api.cuDeviceGetCount(&count), "cuDeviceGetCount");
  std::vector<DeviceInfo> infos;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    CUdevice device = 0;
    checkCuda(api.cuDeviceGet(&device, ordinal), "cuDeviceGet");
    char name[256] = {};
    checkCuda(api.cuDeviceGetName(name, sizeof(name), device),
              "cuDeviceGetName");
    size_t memory = 0;
    checkCuda(api.cuDeviceTotalMem_v2(&memory, device), "cuDeviceTotalMem_v2");
    int major = 0, minor = 0;
    checkCuda(api.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                       device),
              "cuDeviceGetAttribute");
    checkCuda(api.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                       device),
              "cuDeviceGetAttribute");
    DeviceInfo info;
    info.name = name;
    info.arch = "sm_" + std::to_string(major) + std::to_string(minor);
    info.backend = Backend::Cuda;
    info.ordinal = ordinal;
    info.totalMemory = memory;
    infos.push_back(info);
  }
  return infos;
}

std::unique_ptr<Device> openCudaDevice(int ordinal) {
  using namespace cuda;
  std::vector<DeviceInfo> infos = enumerateCudaDevices();
  if (ordinal < 0 || size_t(ordinal) >= infos.size())
    throwNoSuchDevice(Backend::Cuda, ordinal, infos.size());
  const CudaApi &api = cudaApi();
  CUdevice device = 0;
  checkCuda(api.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  CUcontext context = nullptr;
  checkCuda(api.cuDevicePrimaryCtxRetain(&context, device),
            "cuDevicePrimaryCtxRetain");
  try {
    return std::make_unique<CudaDevice>(infos[ordinal], device, context);
  } catch (...) {
    api.cuDevicePrimaryCtxRelease_v2(device);
    throw;
  }
}

} // namespace gpu
} // namespace ember
