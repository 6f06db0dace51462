//===- NcclBackend.cpp - the "nccl" and "rccl" engines --------------------===//
//
// ember::dist::Communicator over NVIDIA's NCCL (libnccl.so.2, shipped with
// the CUDA toolkit) or AMD's RCCL (librccl.so.1, the same API for ROCm),
// both opened with dlopen like the GPU drivers in runtime/gpu, so that Ember
// builds and runs without them and a missing library or GPU is a
// CollectiveError that says which.
//
// No NCCL or CUDA header is needed: the few types, enum values and entry
// points below are declared with nccl.h's values (NCCL 2.28; stable since
// 2.10, which added ncclAvg). Rank 0 creates the unique id and publishes it
// through the rendezvous Store; every rank calls ncclCommInitRank.
//
// Buffers are device memory (MemoryKind::Cuda / Rocm: `data` is the
// CUdeviceptr / hipDeviceptr_t) of the process's device 0, the one Ember's
// GPU layer (runtime/gpu) uses, in that device's primary context. Ember's
// streams are not visible from here, so each call first waits for the
// context's work (cuCtxSynchronize: the tensor's producers are done), runs
// on the engine's own stream and waits for it: blocking, as the
// Communicator contract says; async_op goes through runAsync's worker.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CollectiveChecks.h"
#include "ember/Runtime/NcclBackend.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>

namespace ember::dist {
namespace {

//===- NCCL's API (nccl.h values) ---------------------------------------===//

using ncclResult_t = int;
using ncclComm_t = struct ncclComm *;
using ncclDataType_t = int;
using ncclRedOp_t = int;
using GpuStream = struct GpuStream_st *; // cudaStream_t / hipStream_t
struct ncclUniqueId {
  char internal[128];
};

constexpr ncclResult_t ncclSuccess = 0;
constexpr ncclRedOp_t ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3,
                      ncclAvg = 4;
constexpr ncclDataType_t ncclUint8 = 1, ncclInt32 = 2, ncclInt64 = 4,
                         ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8,
                         ncclBfloat16 = 9;

#define EMBER_NCCL_SYMBOLS(X)                                                  \
  X(ncclGetVersion, ncclResult_t, int *)                                       \
  X(ncclGetUniqueId, ncclResult_t, ncclUniqueId *)                             \
  X(ncclCommInitRank, ncclResult_t, ncclComm_t *, int, ncclUniqueId, int)      \
  X(ncclCommDestroy, ncclResult_t, ncclComm_t)                                 \
  X(ncclGetErrorString, const char *, ncclResult_t)                            \
  X(ncclGroupStart, ncclResult_t)                                              \
  X(ncclGroupEnd, ncclResult_t)                                                \
  X(ncclAllReduce, ncclResult_t, const void *, void *, size_t,                 \
    ncclDataType_t, ncclRedOp_t, ncclComm_t, GpuStream)                        \
  X(ncclBroadcast, ncclResult_t, const void *, void *, size_t, ncclDataType_t, \
    int, ncclComm_t, GpuStream)                                                \
  X(ncclReduce, ncclResult_t, const void *, void *, size_t, ncclDataType_t,    \
    ncclRedOp_t, int, ncclComm_t, GpuStream)                                   \
  X(ncclAllGather, ncclResult_t, const void *, void *, size_t, ncclDataType_t, \
    ncclComm_t, GpuStream)                                                     \
  X(ncclReduceScatter, ncclResult_t, const void *, void *, size_t,             \
    ncclDataType_t, ncclRedOp_t, ncclComm_t, GpuStream)                        \
  X(ncclSend, ncclResult_t, const void *, size_t, ncclDataType_t, int,         \
    ncclComm_t, GpuStream)                                                     \
  X(ncclRecv, ncclResult_t, void *, size_t, ncclDataType_t, int, ncclComm_t,   \
    GpuStream)

/// The GPU driver calls the engine needs, CUDA's driver API or HIP.
struct GpuDriver {
  int (*init)(unsigned) = nullptr;
  int (*deviceCount)(int *) = nullptr;
  /// Makes device 0's primary context current on this thread.
  std::function<int()> makeCurrent;
  int (*synchronizeContext)() = nullptr;
  int (*streamCreate)(GpuStream *, unsigned) = nullptr;
  int (*streamSynchronize)(GpuStream) = nullptr;
  int (*streamDestroy)(GpuStream) = nullptr;
  int (*alloc)(void **, size_t) = nullptr;
  int (*free)(void *) = nullptr;
};

void *openFirst(const char *envOverride,
                std::initializer_list<const char *> names, std::string &tried) {
  if (const char *path = std::getenv(envOverride); path && *path) {
    if (void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))
      return handle;
    tried = std::string(path) + " (" + envOverride + "): " + dlerror();
    return nullptr;
  }
  for (const char *name : names) {
    if (void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL))
      return handle;
    tried += std::string(tried.empty() ? "" : "; ") + dlerror();
  }
  return nullptr;
}

struct Engine {
  bool rocm = false;
  const char *name = "nccl";
  MemoryKind memory = MemoryKind::Cuda;
#define EMBER_NCCL_DECLARE(name, ret, ...) ret (*name)(__VA_ARGS__) = nullptr;
  EMBER_NCCL_SYMBOLS(EMBER_NCCL_DECLARE)
#undef EMBER_NCCL_DECLARE
  GpuDriver gpu;
  int device = 0; // CUdevice of device 0 (CUDA)
};

template <typename T> void resolve(void *library, const char *what, T &slot,
                                   const char *symbol) {
  slot = reinterpret_cast<T>(dlsym(library, symbol));
  if (!slot)
    throw CollectiveError(std::string(what) + ": " + symbol +
                          " is missing from the library");
}

std::unique_ptr<Engine> loadEngine(bool rocm) {
  auto engine = std::make_unique<Engine>();
  engine->rocm = rocm;
  engine->name = rocm ? "rccl" : "nccl";
  engine->memory = rocm ? MemoryKind::Rocm : MemoryKind::Cuda;
  const char *what = engine->name;
  std::string tried;
  void *library =
      rocm ? openFirst("EMBER_RCCL_LIBRARY",
                       {"librccl.so.1", "/opt/rocm/lib/librccl.so.1"}, tried)
           : openFirst("EMBER_NCCL_LIBRARY",
                       {"libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2",
                        "/usr/local/cuda/lib64/libnccl.so.2"},
                       tried);
  if (!library)
    throw CollectiveError(
        std::string(what) + " is not available: " +
        (rocm ? "librccl.so.1" : "libnccl.so.2") + " not found (" + tried +
        "); install " +
        (rocm ? "ROCm's RCCL" : "NCCL (it comes with the CUDA toolkit)") +
        " or set " + (rocm ? "EMBER_RCCL_LIBRARY" : "EMBER_NCCL_LIBRARY"));
#define EMBER_NCCL_RESOLVE(name, ret, ...)                                     \
  resolve(library, what, engine->name, #name);
  EMBER_NCCL_SYMBOLS(EMBER_NCCL_RESOLVE)
#undef EMBER_NCCL_RESOLVE

  // The GPU driver: libcuda.so.1 (driver API) or libamdhip64.so.
  tried.clear();
  void *driver =
      rocm ? openFirst("EMBER_HIP_LIBRARY",
                       {"libamdhip64.so", "libamdhip64.so.6",
                        "/opt/rocm/lib/libamdhip64.so"},
                       tried)
           : openFirst("EMBER_CUDA_LIBRARY", {"libcuda.so.1"}, tried);
  if (!driver)
    throw CollectiveError(std::string(what) + " is not available: no " +
                          (rocm ? "HIP runtime" : "CUDA driver") +
                          " (" + tried + "); it needs a GPU and its driver");
  GpuDriver &gpu = engine->gpu;
  if (rocm) {
    resolve(driver, what, gpu.init, "hipInit");
    resolve(driver, what, gpu.deviceCount, "hipGetDeviceCount");
    int (*setDevice)(int) = nullptr;
    resolve(driver, what, setDevice, "hipSetDevice");
    gpu.makeCurrent = [setDevice] { return setDevice(0); };
    resolve(driver, what, gpu.synchronizeContext, "hipDeviceSynchronize");
    resolve(driver, what, gpu.streamCreate, "hipStreamCreateWithFlags");
    resolve(driver, what, gpu.streamSynchronize, "hipStreamSynchronize");
    resolve(driver, what, gpu.streamDestroy, "hipStreamDestroy");
    resolve(driver, what, gpu.alloc, "hipMalloc");
    resolve(driver, what, gpu.free, "hipFree");
  } else {
    using Context = struct CUctx_st *;
    resolve(driver, what, gpu.init, "cuInit");
    resolve(driver, what, gpu.deviceCount, "cuDeviceGetCount");
    int (*deviceGet)(int *, int) = nullptr;
    int (*retain)(Context *, int) = nullptr;
    int (*setCurrent)(Context) = nullptr;
    resolve(driver, what, deviceGet, "cuDeviceGet");
    resolve(driver, what, retain, "cuDevicePrimaryCtxRetain");
    resolve(driver, what, setCurrent, "cuCtxSetCurrent");
    resolve(driver, what, gpu.synchronizeContext, "cuCtxSynchronize");
    resolve(driver, what, gpu.streamCreate, "cuStreamCreate");
    resolve(driver, what, gpu.streamSynchronize, "cuStreamSynchronize");
    resolve(driver, what, gpu.streamDestroy, "cuStreamDestroy_v2");
    int (*memAlloc)(unsigned long long *, size_t) = nullptr;
    int (*memFree)(unsigned long long) = nullptr;
    resolve(driver, what, memAlloc, "cuMemAlloc_v2");
    resolve(driver, what, memFree, "cuMemFree_v2");
    // The primary context, retained once for the process (what Ember's
    // CUDA device and NCCL's own runtime use).
    gpu.makeCurrent = [deviceGet, retain, setCurrent] {
      static Context context = nullptr;
      static int status = [&] {
        int device = 0;
        int rc = deviceGet(&device, 0);
        return rc ? rc : retain(&context, device);
      }();
      return status ? status : setCurrent(context);
    };
    static int (*allocFn)(unsigned long long *, size_t) = memAlloc;
    static int (*freeFn)(unsigned long long) = memFree;
    gpu.alloc = [](void **p, size_t bytes) {
      unsigned long long address = 0;
      int rc = allocFn(&address, bytes);
      *p = reinterpret_cast<void *>(address);
      return rc;
    };
    gpu.free = [](void *p) {
      return freeFn(reinterpret_cast<unsigned long long>(p));
    };
  }
  int count = 0;
  if (gpu.init(0) != 0 || gpu.deviceCount(&count) != 0 || count == 0)
    throw CollectiveError(std::string(what) +
                          " is not available: no GPU found by the " +
                          (rocm ? "HIP runtime" : "CUDA driver"));
  return engine;
}

Engine &engine(bool rocm) {
  // Loaded once per process; a failure is remembered and rethrown.
  static std::once_flag once[2];
  static std::unique_ptr<Engine> engines[2];
  static std::string reasons[2];
  std::call_once(once[rocm], [&] {
    try {
      engines[rocm] = loadEngine(rocm);
    } catch (const std::exception &error) {
      reasons[rocm] = error.what();
    }
  });
  if (!engines[rocm])
    throw CollectiveError(reasons[rocm]);
  return *engines[rocm];
}

//===- The communicator -------------------------------------------------===//

class NcclCommunicator final : public Communicator, private RankedChecks {
public:
  NcclCommunicator(Engine &engine, std::shared_ptr<Store> store,
                   std::string prefix, int rank, int size,
                   std::vector<int> globalRanks)
      : RankedChecks(engine.name, rank, size), e_(engine),
        store_(std::move(store)), prefix_(std::move(prefix)),
        globalRanks_(std::move(globalRanks)) {
    gpuCall("make the device current", e_.gpu.makeCurrent());
    // Rank 0's unique id through the store.
    ncclUniqueId id;
    std::string key = prefix_ + "/unique_id";
    if (rank_ == 0) {
      ncclCall("ncclGetUniqueId", e_.ncclGetUniqueId(&id));
      store_->set(key, std::vector<uint8_t>(id.internal,
                                            id.internal + sizeof(id)));
    } else {
      std::vector<uint8_t> bytes = store_->get(key);
      if (bytes.size() != sizeof(id))
        throw error("the unique id in the store has " +
                    std::to_string(bytes.size()) + " bytes");
      std::memcpy(id.internal, bytes.data(), sizeof(id));
    }
    ncclCall("ncclCommInitRank",
             e_.ncclCommInitRank(&comm_, size_, id, rank_));
    gpuCall("create a stream", e_.gpu.streamCreate(&stream_, /*flags=*/1));
    gpuCall("allocate the barrier's word",
            e_.gpu.alloc(&barrierWord_, sizeof(float)));
  }

  ~NcclCommunicator() override {
    if (e_.gpu.makeCurrent() != 0)
      return;
    if (comm_)
      e_.ncclCommDestroy(comm_);
    if (stream_)
      e_.gpu.streamDestroy(stream_);
    if (barrierWord_)
      e_.gpu.free(barrierWord_);
  }

  const char *backendName() const override { return e_.name; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allReduce(Buffer buffer, ReduceOp op) override {
    run("ncclAllReduce", {buffer}, [&] {
      return e_.ncclAllReduce(buffer.data, buffer.data, buffer.numElements,
                              type(buffer), reduction(buffer.type, op), comm_,
                              stream_);
    });
  }

  void broadcast(Buffer buffer, int root) override {
    checkRank(root, "broadcast");
    run("ncclBroadcast", {buffer}, [&] {
      return e_.ncclBroadcast(buffer.data, buffer.data, buffer.numElements,
                              type(buffer), root, comm_, stream_);
    });
  }

  void reduce(Buffer buffer, ReduceOp op, int root) override {
    checkRank(root, "reduce");
    run("ncclReduce", {buffer}, [&] {
      return e_.ncclReduce(buffer.data, buffer.data, buffer.numElements,
                           type(buffer), reduction(buffer.type, op), root,
                           comm_, stream_);
    });
  }

  void allGather(Buffer input, Buffer output) override {
    expectSizes(output, input.numElements * size_, "all_gather", "output");
    run("ncclAllGather", {input, output}, [&] {
      return e_.ncclAllGather(input.data, output.data, input.numElements,
                              type(input), comm_, stream_);
    });
  }

  void reduceScatter(Buffer input, Buffer output, ReduceOp op) override {
    expectSizes(input, output.numElements * size_, "reduce_scatter", "input");
    run("ncclReduceScatter", {input, output}, [&] {
      return e_.ncclReduceScatter(input.data, output.data, output.numElements,
                                  type(output), reduction(output.type, op),
                                  comm_, stream_);
    });
  }

  // gather, scatter and all-to-all: grouped sends and receives (NCCL has
  // no such collectives).
  void gather(Buffer input, Buffer output, int root) override {
    checkRank(root, "gather");
    bool atRoot = rank_ == root;
    if (atRoot)
      expectSizes(output, input.numElements * size_, "gather", "output");
    run("gather", atRoot ? std::vector<Buffer>{input, output}
                         : std::vector<Buffer>{input},
        [&] {
          return grouped([&] {
            ncclResult_t rc = e_.ncclSend(input.data, input.numElements,
                                          type(input), root, comm_, stream_);
            for (int r = 0; atRoot && r < size_ && rc == ncclSuccess; ++r)
              rc = e_.ncclRecv(at(output, r * input.numElements),
                               input.numElements, type(input), r, comm_,
                               stream_);
            return rc;
          });
        });
  }

  void scatter(Buffer input, Buffer output, int root) override {
    checkRank(root, "scatter");
    bool atRoot = rank_ == root;
    if (atRoot)
      expectSizes(input, output.numElements * size_, "scatter", "input");
    run("scatter", atRoot ? std::vector<Buffer>{input, output}
                          : std::vector<Buffer>{output},
        [&] {
          return grouped([&] {
            ncclResult_t rc = ncclSuccess;
            for (int r = 0; atRoot && r < size_ && rc == ncclSuccess; ++r)
              rc = e_.ncclSend(at(input, r * output.numElements),
                               output.numElements, type(output), r, comm_,
                               stream_);
            if (rc == ncclSuccess)
              rc = e_.ncclRecv(output.data, output.numElements, type(output),
                               root, comm_, stream_);
            return rc;
          });
        });
  }

  void allToAll(Buffer input, Buffer output,
                const std::vector<size_t> &inputSplits,
                const std::vector<size_t> &outputSplits) override {
    std::vector<size_t> sendSizes = splits(input, inputSplits, "input");
    std::vector<size_t> recvSizes = splits(output, outputSplits, "output");
    run("all_to_all", {input, output}, [&] {
      return grouped([&] {
        size_t sendOffset = 0, recvOffset = 0;
        ncclResult_t rc = ncclSuccess;
        for (int r = 0; r < size_ && rc == ncclSuccess; ++r) {
          rc = e_.ncclSend(at(input, sendOffset), sendSizes[r], type(input), r,
                           comm_, stream_);
          if (rc == ncclSuccess)
            rc = e_.ncclRecv(at(output, recvOffset), recvSizes[r],
                             type(output), r, comm_, stream_);
          sendOffset += sendSizes[r];
          recvOffset += recvSizes[r];
        }
        return rc;
      });
    });
  }

  void send(Buffer buffer, int peer, int tag) override {
    (void)tag; // NCCL matches sends and receives by order, not tag
    checkRank(peer, "send");
    run("ncclSend", {buffer}, [&] {
      return e_.ncclSend(buffer.data, buffer.numElements, type(buffer), peer,
                         comm_, stream_);
    });
  }

  void recv(Buffer buffer, int peer, int tag) override {
    (void)tag;
    checkRank(peer, "recv");
    run("ncclRecv", {buffer}, [&] {
      return e_.ncclRecv(buffer.data, buffer.numElements, type(buffer), peer,
                         comm_, stream_);
    });
  }

  void barrier() override {
    Buffer word;
    word.data = barrierWord_;
    word.numElements = 1;
    word.memory = e_.memory;
    allReduce(word, ReduceOp::Sum);
  }

  std::unique_ptr<Communicator> split(const std::vector<int> &ranks) override {
    // Every rank of this group counts the split, so the store keys agree;
    // the members rendezvous on a fresh unique id.
    std::string prefix = prefix_ + "/split" + std::to_string(splits_++);
    int self = -1;
    std::vector<int> globals;
    for (int global : ranks) {
      bool known = false;
      for (int r = 0; r < size_; ++r)
        if (globalRanks_[r] == global) {
          known = true;
          if (r == rank_)
            self = static_cast<int>(globals.size());
        }
      if (!known)
        throw error("new_group: rank " + std::to_string(global) +
                    " is not in this group");
      globals.push_back(global);
    }
    if (self < 0)
      return nullptr;
    return std::make_unique<NcclCommunicator>(
        e_, store_, prefix, self, static_cast<int>(globals.size()),
        std::move(globals));
  }

private:
  void ncclCall(const char *what, ncclResult_t rc) const {
    if (rc != ncclSuccess)
      throw error(std::string(what) + " failed: " + e_.ncclGetErrorString(rc));
  }

  void gpuCall(const char *what, int rc) const {
    if (rc != 0)
      throw error(std::string("cannot ") + what + " (" +
                  (e_.rocm ? "HIP" : "CUDA") + " error " +
                  std::to_string(rc) + ")");
  }

  template <typename F> ncclResult_t grouped(F &&body) {
    ncclResult_t rc = e_.ncclGroupStart();
    if (rc != ncclSuccess)
      return rc;
    ncclResult_t inner = body();
    ncclResult_t end = e_.ncclGroupEnd();
    return inner != ncclSuccess ? inner : end;
  }

  /// Waits for the buffers' producers, runs `issue` on the engine's
  /// stream and waits for it.
  template <typename F>
  void run(const char *what, const std::vector<Buffer> &buffers, F &&issue) {
    for (const Buffer &buffer : buffers)
      if (buffer.memory != e_.memory)
        throw error(std::string(what) + ": the " + e_.name + " backend takes " +
                    (e_.rocm ? "ROCm" : "CUDA") +
                    " device tensors only (use gloo or mpi for CPU tensors)");
    std::lock_guard<std::mutex> lock(mutex_);
    gpuCall("make the device current", e_.gpu.makeCurrent());
    gpuCall("wait for the device", e_.gpu.synchronizeContext());
    ncclCall(what, issue());
    gpuCall("wait for the collective", e_.gpu.streamSynchronize(stream_));
  }

  std::vector<size_t> splits(const Buffer &buffer,
                             const std::vector<size_t> &given,
                             const char *what) const {
    std::vector<size_t> sizes = given;
    if (sizes.empty()) {
      if (buffer.numElements % size_)
        throw error(std::string("all_to_all: the ") + what +
                    " does not split equally over the ranks");
      sizes.assign(size_, buffer.numElements / size_);
    }
    size_t total = 0;
    for (size_t s : sizes)
      total += s;
    if (sizes.size() != static_cast<size_t>(size_) ||
        total != buffer.numElements)
      throw error(std::string("all_to_all: the ") + what +
                  " splits do not match the buffer");
    return sizes;
  }

  static void *at(const Buffer &buffer, size_t element) {
    return static_cast<char *>(buffer.data) +
           element * elementSize(buffer.type);
  }

  ncclDataType_t type(const Buffer &buffer) const {
    switch (buffer.type) {
    case ElementType::Bool:
      return ncclUint8;
    case ElementType::Int32:
      return ncclInt32;
    case ElementType::Int64:
      return ncclInt64;
    case ElementType::Float16:
      return ncclFloat16;
    case ElementType::BFloat16:
      return ncclBfloat16;
    case ElementType::Float32:
      return ncclFloat32;
    case ElementType::Float64:
      return ncclFloat64;
    }
    throw error("unsupported element type");
  }

  ncclRedOp_t reduction(ElementType elementType, ReduceOp op) const {
    if (op == ReduceOp::Avg && !isFloating(elementType))
      throw error(std::string("ReduceOp.AVG needs a floating dtype, got ") +
                  elementTypeName(elementType));
    if (elementType == ElementType::Bool) // or / and over 0 and 1
      return op == ReduceOp::Sum || op == ReduceOp::Max ? ncclMax : ncclMin;
    switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Avg:
      return ncclAvg;
    case ReduceOp::Min:
      return ncclMin;
    case ReduceOp::Max:
      return ncclMax;
    case ReduceOp::Product:
      return ncclProd;
    }
    throw error("unsupported reduce op");
  }

  Engine &e_;
  std::shared_ptr<Store> store_;
  std::string prefix_;
  std::vector<int> globalRanks_;
  ncclComm_t comm_ = nullptr;
  GpuStream stream_ = nullptr;
  void *barrierWord_ = nullptr;
  int splits_ = 0;
  std::mutex mutex_;
};

std::unique_ptr<Communicator> create(const CommunicatorOptions &options,
                                     bool rocm) {
  const char *name = rocm ? "rccl" : "nccl";
  if (!options.store || options.rank < 0 || options.worldSize <= 0)
    throw CollectiveError(std::string(name) +
                          ": needs a rendezvous store, a rank and a world "
                          "size (init_process_group's init_method)");
  Engine &e = engine(rocm);
  // Every rank creates its groups in the same order, so the n-th one's
  // store keys agree (and never meet an earlier group's unique id).
  static std::atomic<int> created{0};
  std::string prefix = std::string(name) + "/" + std::to_string(created++);
  std::vector<int> globals(options.worldSize);
  for (int r = 0; r < options.worldSize; ++r)
    globals[r] = r;
  return std::make_unique<NcclCommunicator>(e, options.store, prefix,
                                            options.rank,
                                            options.worldSize,
                                            std::move(globals));
}

} // namespace

std::unique_ptr<Communicator>
createNcclCommunicator(const CommunicatorOptions &options) {
  return create(options, /*rocm=*/false);
}

std::unique_ptr<Communicator>
createRcclCommunicator(const CommunicatorOptions &options) {
  return create(options, /*rocm=*/true);
}

std::string ncclUnavailableReason(bool rocm) {
  try {
    engine(rocm);
    return "";
  } catch (const std::exception &error) {
    return error.what();
  }
}

namespace {
// "nccl" and "rccl" in the engine table (alwayslink): the libraries open
// when a group is created.
const bool registered =
    (registerBackend("nccl", createNcclCommunicator),
     registerBackend("rccl", createRcclCommunicator), true);
} // namespace

} // namespace ember::dist
