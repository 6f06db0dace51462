//===- NcclCheck.cpp - the "nccl" engine on one real GPU ------------------===//
//
// One rank on device 0: all_reduce (sum, avg, max) of f32 and bf16 device
// buffers, broadcast, all_gather and a barrier, each result copied back and
// compared. Where NCCL or a GPU is missing it prints "SKIP: <reason>" and
// exits 0 (nccl_check_test here; scripts/gpu-check run on the GPU machine,
// where a skip is a failure: pass --require).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/NcclBackend.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

using namespace ember;
using namespace ember::dist;

namespace {

/// The one-process store (rank 0 only sets, nobody waits).
class LocalStore : public Store {
public:
  void set(const std::string &key, const std::vector<uint8_t> &value) override {
    values[key] = value;
  }
  std::vector<uint8_t> get(const std::string &key) override {
    auto it = values.find(key);
    if (it == values.end())
      throw CollectiveError("LocalStore: no key " + key);
    return it->second;
  }
  int64_t add(const std::string &key, int64_t delta) override {
    return counters[key] += delta;
  }
  void wait(const std::vector<std::string> &) override {}

private:
  std::map<std::string, std::vector<uint8_t>> values;
  std::map<std::string, int64_t> counters;
};

/// Device memory through the CUDA driver (the engine made device 0's
/// primary context current on this thread).
struct Cuda {
  int (*alloc)(unsigned long long *, size_t);
  int (*free)(unsigned long long);
  int (*toDevice)(unsigned long long, const void *, size_t);
  int (*toHost)(void *, unsigned long long, size_t);
  Cuda() {
    void *library = dlopen("libcuda.so.1", RTLD_NOW);
    alloc = reinterpret_cast<decltype(alloc)>(dlsym(library, "cuMemAlloc_v2"));
    free = reinterpret_cast<decltype(free)>(dlsym(library, "cuMemFree_v2"));
    toDevice = reinterpret_cast<decltype(toDevice)>(
        dlsym(library, "cuMemcpyHtoD_v2"));
    toHost =
        reinterpret_cast<decltype(toHost)>(dlsym(library, "cuMemcpyDtoH_v2"));
  }
};

int failures = 0;

void expectClose(const char *what, float got, float want, float tolerance) {
  if (std::fabs(got - want) > tolerance) {
    std::fprintf(stderr, "nccl check: %s gave %g, expected %g\n", what, got,
                 want);
    ++failures;
  }
}

} // namespace

int main(int argc, char **argv) {
  bool require = argc > 1 && std::strcmp(argv[1], "--require") == 0;
  std::string reason = ncclUnavailableReason();
  if (!reason.empty()) {
    std::printf("SKIP: %s\n", reason.c_str());
    return require ? 1 : 0;
  }
  try {
    CommunicatorOptions options;
    options.backend = "nccl";
    options.rank = 0;
    options.worldSize = 1;
    options.store = std::make_shared<LocalStore>();
    std::unique_ptr<Communicator> comm = createNcclCommunicator(options);
    Cuda cuda;
    const size_t n = 1000;
    std::vector<float> host(n), back(n);
    for (size_t i = 0; i < n; ++i)
      host[i] = static_cast<float>(i % 17) - 8.0f;
    unsigned long long device = 0, gathered = 0;
    if (cuda.alloc(&device, n * 4) || cuda.alloc(&gathered, n * 4))
      throw CollectiveError("cuMemAlloc failed");
    Buffer buffer;
    buffer.data = reinterpret_cast<void *>(device);
    buffer.numElements = n;
    buffer.type = ElementType::Float32;
    buffer.memory = MemoryKind::Cuda;

    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
      cuda.toDevice(device, host.data(), n * 4);
      comm->allReduce(buffer, op);
      cuda.toHost(back.data(), device, n * 4);
      for (size_t i = 0; i < n; i += 97) // one rank: the input itself
        expectClose("all_reduce f32", back[i], host[i], 0);
    }

    std::vector<uint16_t> half(n), halfBack(n);
    for (size_t i = 0; i < n; ++i)
      half[i] = floatToBFloat16(host[i]);
    cuda.toDevice(device, half.data(), n * 2);
    Buffer bf16 = buffer;
    bf16.type = ElementType::BFloat16;
    comm->allReduce(bf16, ReduceOp::Sum);
    cuda.toHost(halfBack.data(), device, n * 2);
    for (size_t i = 0; i < n; i += 97)
      expectClose("all_reduce bf16", bfloat16ToFloat(halfBack[i]), host[i], 0);

    cuda.toDevice(device, host.data(), n * 4);
    comm->broadcast(buffer, 0);
    Buffer out = buffer;
    out.data = reinterpret_cast<void *>(gathered);
    comm->allGather(buffer, out);
    cuda.toHost(back.data(), gathered, n * 4);
    for (size_t i = 0; i < n; i += 97)
      expectClose("all_gather", back[i], host[i], 0);
    comm->barrier();

    // A CPU buffer is refused with a message that says so.
    bool refused = false;
    try {
      Buffer cpu = buffer;
      cpu.data = host.data();
      cpu.memory = MemoryKind::Host;
      comm->allReduce(cpu, ReduceOp::Sum);
    } catch (const CollectiveError &error) {
      refused = std::strstr(error.what(), "CUDA device tensors only");
    }
    if (!refused) {
      std::fprintf(stderr, "nccl check: a host buffer was not refused\n");
      ++failures;
    }
    cuda.free(device);
    cuda.free(gathered);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "nccl check: %s\n", error.what());
    return 1;
  }
  if (failures)
    return 1;
  std::printf("nccl check ok: all_reduce (f32 sum/avg/max, bf16), broadcast, "
              "all_gather, barrier on 1 GPU\n");
  return 0;
}
