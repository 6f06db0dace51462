//===- FakeGpuDriver.cpp - a CUDA and HIP driver without a GPU ------------===//
//
// The entry points CudaApi.h and HipApi.h resolve, for launch_timer_test
// (EMBER_CUDA_LIBRARY / EMBER_HIP_LIBRARY name this library). One device
// whose memory is host memory; a launch runs nothing and advances a device
// clock by 1 microsecond per block of its grid's x; an event records that
// clock and completes only when a synchronize (stream, context, device or
// the event's own) has passed it, as a real GPU that is still busy would
// answer. Timing is refused for events made without it, as drivers do.
//
//===----------------------------------------------------------------------===//

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace {

struct FakeEvent {
  bool timing = false;
  bool recorded = false;
  bool complete = false;
  double atMs = 0;
};

struct FakeState {
  std::mutex mutex;
  double clockMs = 0;
  /// Events recorded and not yet passed by a synchronize.
  FakeEvent *pending[1 << 12];
  int pendingCount = 0;
};

FakeState &state() {
  static FakeState s;
  return s;
}

int dummyObject;
void *const kContext = &dummyObject;

} // namespace

extern "C" {

/// What the test reads back (with dlsym): timing events created, launches.
struct FakeGpuCounters {
  int timingEventsCreated;
  int eventsCreated;
  int launches;
};
FakeGpuCounters ember_fake_gpu_counters = {0, 0, 0};

} // extern "C"

namespace {

constexpr int kSuccess = 0, kInvalidHandle = 400, kNotReady = 600;

int createEvent(void **event, unsigned flags) {
  auto *e = new FakeEvent;
  e->timing = (flags & 2) == 0; // 2: DISABLE_TIMING in both APIs
  ++ember_fake_gpu_counters.eventsCreated;
  if (e->timing)
    ++ember_fake_gpu_counters.timingEventsCreated;
  *event = e;
  return kSuccess;
}

int destroyEvent(void *event) {
  std::lock_guard<std::mutex> lock(state().mutex);
  FakeState &s = state();
  for (int i = 0; i < s.pendingCount; ++i)
    if (s.pending[i] == event)
      s.pending[i] = s.pending[--s.pendingCount];
  delete static_cast<FakeEvent *>(event);
  return kSuccess;
}

int recordEvent(void *event) {
  std::lock_guard<std::mutex> lock(state().mutex);
  FakeState &s = state();
  auto *e = static_cast<FakeEvent *>(event);
  e->recorded = true;
  e->atMs = s.clockMs;
  e->complete = false;
  for (int i = 0; i < s.pendingCount; ++i)
    if (s.pending[i] == e)
      return kSuccess;
  if (s.pendingCount == (1 << 12))
    return 2; // the test never gets this far ahead
  s.pending[s.pendingCount++] = e;
  return kSuccess;
}

/// Everything enqueued so far has run.
int synchronizeAll() {
  std::lock_guard<std::mutex> lock(state().mutex);
  FakeState &s = state();
  for (int i = 0; i < s.pendingCount; ++i)
    s.pending[i]->complete = true;
  s.pendingCount = 0;
  return kSuccess;
}

int queryEvent(void *event) {
  std::lock_guard<std::mutex> lock(state().mutex);
  auto *e = static_cast<FakeEvent *>(event);
  return !e->recorded || e->complete ? kSuccess : kNotReady;
}

int elapsed(float *ms, void *from, void *to) {
  std::lock_guard<std::mutex> lock(state().mutex);
  auto *a = static_cast<FakeEvent *>(from), *b = static_cast<FakeEvent *>(to);
  if (!a->timing || !b->timing || !a->recorded || !b->recorded)
    return kInvalidHandle;
  if (!a->complete || !b->complete)
    return kNotReady;
  *ms = float(b->atMs - a->atMs);
  return kSuccess;
}

int launch(unsigned gridX) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().clockMs += 0.001 * gridX;
  ++ember_fake_gpu_counters.launches;
  return kSuccess;
}

int allocate(void **pointer, size_t bytes) {
  *pointer = std::calloc(1, bytes ? bytes : 1);
  return *pointer ? kSuccess : 2;
}

int anyStream(void **stream) {
  *stream = new int(0);
  return kSuccess;
}

int name(char *out, int length) {
  std::strncpy(out, "Fake GPU", size_t(length));
  return kSuccess;
}

} // namespace

using Ptr = unsigned long long;

extern "C" {

// CUDA's driver API (CudaApi.h).
int cuInit(unsigned) { return kSuccess; }
int cuGetErrorName(int, const char **text) {
  *text = "CUDA_ERROR_FAKE";
  return kSuccess;
}
int cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
int cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return kSuccess;
}
int cuDeviceGetName(char *out, int length, int) { return name(out, length); }
int cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(1) << 30;
  return kSuccess;
}
int cuDeviceGetAttribute(int *value, int attribute, int) {
  *value = attribute == 75 ? 9 : 0; // sm_90
  return kSuccess;
}
int cuDevicePrimaryCtxRetain(void **context, int) {
  *context = kContext;
  return kSuccess;
}
int cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
int cuCtxSetCurrent(void *) { return kSuccess; }
int cuCtxSynchronize() { return synchronizeAll(); }
int cuMemAlloc_v2(Ptr *pointer, size_t bytes) {
  void *p = nullptr;
  int result = allocate(&p, bytes);
  *pointer = Ptr(p);
  return result;
}
int cuMemFree_v2(Ptr pointer) {
  std::free(reinterpret_cast<void *>(pointer));
  return kSuccess;
}
int cuMemcpyHtoDAsync_v2(Ptr dst, const void *src, size_t bytes, void *) {
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kSuccess;
}
int cuMemcpyDtoHAsync_v2(void *dst, Ptr src, size_t bytes, void *) {
  std::memcpy(dst, reinterpret_cast<void *>(src), bytes);
  return kSuccess;
}
int cuMemcpyDtoDAsync_v2(Ptr dst, Ptr src, size_t bytes, void *) {
  std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src), bytes);
  return kSuccess;
}
int cuStreamCreate(void **stream, unsigned) { return anyStream(stream); }
int cuStreamDestroy_v2(void *stream) {
  delete static_cast<int *>(stream);
  return kSuccess;
}
int cuStreamSynchronize(void *) { return synchronizeAll(); }
int cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }
int cuEventCreate(void **event, unsigned flags) { return createEvent(event, flags); }
int cuEventDestroy_v2(void *event) { return destroyEvent(event); }
int cuEventRecord(void *event, void *) { return recordEvent(event); }
int cuEventSynchronize(void *) { return synchronizeAll(); }
int cuEventQuery(void *event) { return queryEvent(event); }
int cuEventElapsedTime(float *ms, void *from, void *to) { return elapsed(ms, from, to); }
int cuModuleLoadDataEx(void **module, const void *, unsigned, int *, void **) {
  *module = kContext;
  return kSuccess;
}
int cuModuleUnload(void *) { return kSuccess; }
int cuModuleGetFunction(void **function, void *, const char *) {
  *function = kContext;
  return kSuccess;
}
int cuFuncSetAttribute(void *, int, int) { return kSuccess; }
int cuLaunchKernel(void *, unsigned gridX, unsigned, unsigned, unsigned, unsigned, unsigned,
                   unsigned, void *, void **, void **) {
  return launch(gridX);
}

// HIP (HipApi.h).
int hipInit(unsigned) { return kSuccess; }
const char *hipGetErrorName(int) { return "hipErrorFake"; }
int hipGetDeviceCount(int *count) {
  *count = 1;
  return kSuccess;
}
int hipDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return kSuccess;
}
int hipDeviceGetName(char *out, int length, int) { return name(out, length); }
int hipDeviceTotalMem(size_t *bytes, int) {
  *bytes = size_t(1) << 30;
  return kSuccess;
}
int hipSetDevice(int) { return kSuccess; }
int hipDeviceSynchronize() { return synchronizeAll(); }
int hipMalloc(void **pointer, size_t bytes) { return allocate(pointer, bytes); }
int hipFree(void *pointer) {
  std::free(pointer);
  return kSuccess;
}
int hipMemcpyHtoDAsync(void *dst, void *src, size_t bytes, void *) {
  std::memcpy(dst, src, bytes);
  return kSuccess;
}
int hipMemcpyDtoHAsync(void *dst, void *src, size_t bytes, void *) {
  std::memcpy(dst, src, bytes);
  return kSuccess;
}
int hipMemcpyDtoDAsync(void *dst, void *src, size_t bytes, void *) {
  std::memmove(dst, src, bytes);
  return kSuccess;
}
int hipStreamCreateWithFlags(void **stream, unsigned) { return anyStream(stream); }
int hipStreamDestroy(void *stream) { return cuStreamDestroy_v2(stream); }
int hipStreamSynchronize(void *) { return synchronizeAll(); }
int hipStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }
int hipEventCreateWithFlags(void **event, unsigned flags) { return createEvent(event, flags); }
int hipEventDestroy(void *event) { return destroyEvent(event); }
int hipEventRecord(void *event, void *) { return recordEvent(event); }
int hipEventSynchronize(void *) { return synchronizeAll(); }
int hipEventQuery(void *event) { return queryEvent(event); }
int hipEventElapsedTime(float *ms, void *from, void *to) { return elapsed(ms, from, to); }
int hipModuleLoadData(void **module, const void *) {
  *module = kContext;
  return kSuccess;
}
int hipModuleUnload(void *) { return kSuccess; }
int hipModuleGetFunction(void **function, void *, const char *) {
  *function = kContext;
  return kSuccess;
}
int hipModuleLaunchKernel(void *, unsigned gridX, unsigned, unsigned, unsigned, unsigned,
                          unsigned, unsigned, void *, void **, void **) {
  return launch(gridX);
}

} // extern "C"
