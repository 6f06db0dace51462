//===- Profiler.cpp - per-thread span buffers for ember.profiler ----------===//
//
// Each recording thread owns a buffer, registered in a process-wide list on
// its first record. A thread appends under its own buffer's mutex, which
// only the reader (take) ever contends for, so recording threads never wait
// on each other. Buffers outlive their threads (the list owns them), so a
// pool worker's spans survive until taken.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Profiler.h"

#include <chrono>
#include <memory>
#include <mutex>

namespace ember {
namespace profiler {

std::atomic<uint32_t> gFlags{0};

namespace {

struct ThreadBuffer {
  std::mutex mutex;
  std::vector<Event> events;
  uint32_t thread = 0;
};

struct Registry {
  std::mutex mutex;
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
};

Registry &registry() {
  static auto *r = new Registry;
  return *r;
}

ThreadBuffer &threadBuffer() {
  thread_local std::shared_ptr<ThreadBuffer> mine = [] {
    auto buffer = std::make_shared<ThreadBuffer>();
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    buffer->thread = static_cast<uint32_t>(r.buffers.size()) + 1;
    r.buffers.push_back(buffer);
    return buffer;
  }();
  return *mine;
}

/// The kernels a thread has entered and not left (glue calls nest only
/// through parallel launches, so a few entries at most).
struct KernelStack {
  uint64_t starts[16];
  int depth = 0;
};
thread_local KernelStack kernelStack;

} // namespace

const char *categoryName(Category category) {
  switch (category) {
  case Category::Trace:
    return "trace";
  case Category::Cache:
    return "cache";
  case Category::Compile:
    return "compile";
  case Category::Pass:
    return "pass";
  case Category::Run:
    return "run";
  case Category::Kernel:
    return "kernel";
  case Category::Device:
    return "device";
  case Category::Copy:
    return "copy";
  case Category::Memory:
    return "memory";
  case Category::User:
    return "user";
  }
  return "other";
}

uint64_t nowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void start(bool memory, bool kernels, bool shapes, bool stack) {
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    for (auto &buffer : r.buffers) {
      std::lock_guard<std::mutex> own(buffer->mutex);
      buffer->events.clear();
    }
  }
  gFlags.store(kOn | (memory ? kMemory : 0) | (kernels ? kKernels : 0) |
                   (shapes ? kShapes : 0) | (stack ? kStack : 0),
               std::memory_order_relaxed);
}

void stop() { gFlags.store(0, std::memory_order_relaxed); }

std::vector<Event> take() {
  std::vector<Event> all;
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto &buffer : r.buffers) {
    std::lock_guard<std::mutex> own(buffer->mutex);
    for (Event &event : buffer->events)
      all.push_back(std::move(event));
    buffer->events.clear();
  }
  return all;
}

void record(Event event) {
  ThreadBuffer &buffer = threadBuffer();
  event.thread = buffer.thread;
  std::lock_guard<std::mutex> lock(buffer.mutex);
  buffer.events.push_back(std::move(event));
}

void recordSpan(Category category, std::string name, uint64_t startNs,
                std::string detail) {
  Event event;
  event.name = std::move(name);
  event.category = category;
  event.startNs = startNs;
  event.endNs = nowNs();
  event.detail = std::move(detail);
  record(std::move(event));
}

void recordMemory(int64_t bytes, const char *what) {
  Event event;
  event.name = what;
  event.category = Category::Memory;
  event.startNs = event.endNs = nowNs();
  event.bytes = bytes;
  record(std::move(event));
}

void Scope::finish() {
  recordSpan(category, name ? std::string(name) : std::move(ownedName), startNs,
             std::move(detail));
}

} // namespace profiler
} // namespace ember

using namespace ember::profiler;

extern "C" void ember_profile_kernel_begin(const char *) {
  // Pushes even when off (0: not timed), so that begin and end pair up.
  KernelStack &stack = kernelStack;
  if (stack.depth < 16)
    stack.starts[stack.depth] = enabled() ? nowNs() : 0;
  ++stack.depth;
}

extern "C" void ember_profile_kernel_end(const char *name) {
  KernelStack &stack = kernelStack;
  if (stack.depth == 0)
    return;
  --stack.depth;
  if (!enabled() || stack.depth >= 16 || !stack.starts[stack.depth])
    return;
  recordSpan(Category::Kernel, name, stack.starts[stack.depth]);
}
