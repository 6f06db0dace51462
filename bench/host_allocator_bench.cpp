//===- host_allocator_bench.cpp - first-touch cost vs a reused block --------===//
//
// Allocates a buffer, writes every byte (as a kernel writing its output
// would) and frees it, several times per size: with malloc/free, and with
// hostAlloc/hostFree, whose second round reuses the cached, already-faulted
// block. Prints milliseconds per round: the first, and the best of the rest.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/HostAllocator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  double first, rest;
};

template <typename Alloc, typename Free>
Timing timeRounds(size_t bytes, int rounds, Alloc alloc, Free release) {
  Timing timing{0, 1e30};
  for (int round = 0; round < rounds; ++round) {
    auto start = Clock::now();
    void *ptr = alloc(bytes);
    std::memset(ptr, round, bytes);
    // Keeps the compiler from deleting the malloc/memset/free triple.
    asm volatile("" : : "r"(ptr) : "memory");
    release(ptr);
    double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (round == 0)
      timing.first = ms;
    else
      timing.rest = std::min(timing.rest, ms);
  }
  return timing;
}

} // namespace

int main() {
  const int rounds = 10;
  std::printf("%10s  %22s  %22s\n", "size", "malloc first / reused",
              "hostAlloc first / reused");
  for (size_t mib : {1, 4, 16, 64, 256}) {
    size_t bytes = mib << 20;
    Timing system = timeRounds(bytes, rounds, std::malloc, std::free);
    Timing host = timeRounds(bytes, rounds, ember::hostAlloc, ember::hostFree);
    std::printf("%7zu MiB  %9.2f / %9.2f ms  %9.2f / %9.2f ms\n", mib,
                system.first, system.rest, host.first, host.rest);
  }
  ember::HostAllocatorStats stats = ember::hostAllocatorStats();
  std::printf("host allocator: %llu allocations, %llu cache hits, %llu MiB "
              "cached\n",
              static_cast<unsigned long long>(stats.allocations),
              static_cast<unsigned long long>(stats.cacheHits),
              static_cast<unsigned long long>(stats.cachedBytes >> 20));
  return 0;
}
