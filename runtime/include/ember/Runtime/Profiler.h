//===- Profiler.h - the recorder behind ember.profiler ----------*- C++ -*-===//
//
// Spans (tracing, cache lookups, compiles and their passes, graph runs,
// kernels, copies) and allocator events, recorded while a profiler is on and
// read by Python's ember.profiler. Each thread appends to its own buffer
// (registered once, locked only by the reader), so recording threads never
// contend. When the profiler is off every hook costs one relaxed atomic
// load (`profiler::enabled()`), nothing else. Runtime-level code: no LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_PROFILER_H
#define EMBER_RUNTIME_PROFILER_H

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ember {
namespace profiler {

/// What a span is about (the trace's `cat`).
enum class Category : uint8_t {
  Trace,   ///< recording an op into the lazy graph
  Cache,   ///< a compile-cache lookup (memory or disk, hit or miss)
  Compile, ///< a graph compile and its phases
  Pass,    ///< one MLIR pass of a compile
  Run,     ///< one compiled program run
  Kernel,  ///< one CPU kernel (fused loop nest, or its parallel launch)
  Device,  ///< one GPU dispatch, timed on the device
  Copy,    ///< a host<->device or device<->device copy
  Memory,  ///< an allocation (+bytes) or free (-bytes): an instant
  User,    ///< record_function
};
const char *categoryName(Category category);

/// Bits of the one word every hook reads.
enum : uint32_t { kOn = 1, kMemory = 2, kKernels = 4, kShapes = 8, kStack = 16 };
extern std::atomic<uint32_t> gFlags;

/// Whether spans are being recorded: one relaxed load.
inline bool enabled() { return gFlags.load(std::memory_order_relaxed) & kOn; }
/// Whether allocations are being recorded (profile_memory).
inline bool memoryEnabled() { return gFlags.load(std::memory_order_relaxed) & kMemory; }
/// Whether new CPU compiles time each kernel (recorded in the graph's code,
/// so it is part of the compile-cache key).
inline bool kernelsEnabled() { return gFlags.load(std::memory_order_relaxed) & kKernels; }

/// Whether traced ops' spans carry their input shapes (record_shapes).
inline bool shapesEnabled() { return gFlags.load(std::memory_order_relaxed) & kShapes; }
/// Whether traced ops' spans carry the user's file:line (with_stack).
inline bool stackEnabled() { return gFlags.load(std::memory_order_relaxed) & kStack; }

/// Monotonic nanoseconds (steady clock), the trace's time base.
uint64_t nowNs();

struct Event {
  std::string name;
  Category category;
  uint64_t startNs = 0, endNs = 0;
  /// The recording thread (small numbers, in order of first record).
  uint32_t thread = 0;
  /// Memory events: the bytes allocated (> 0) or freed (< 0).
  int64_t bytes = 0;
  /// Free text shown as the span's argument (shapes, hit/miss, sizes).
  std::string detail;
};

/// Starts recording (clears what was recorded before); `memory` also
/// records allocations, `kernels` makes new CPU compiles time each kernel,
/// `shapes` and `stack` add input shapes and the user's line to op spans.
void start(bool memory, bool kernels, bool shapes = false, bool stack = false);
/// Stops recording; the events stay until taken.
void stop();
/// Every event recorded since start, in no particular order.
std::vector<Event> take();

/// Appends a finished span to this thread's buffer (whatever `enabled()`
/// says: callers check it first).
void record(Event event);
/// A span that ends now.
void recordSpan(Category category, std::string name, uint64_t startNs,
                std::string detail = {});
/// An allocation (`bytes` > 0) or free (`bytes` < 0) of host or device memory.
void recordMemory(int64_t bytes, const char *what);

/// A span from construction to destruction, when the profiler was on at
/// construction; a disabled scope costs the one flag load.
class Scope {
public:
  Scope(Category category, const char *name)
      : name(name), startNs(enabled() ? nowNs() : 0), category(category) {}
  /// For names worth building only when on: `Scope s(Category::X); if
  /// (s.active()) s.setName(...)`.
  explicit Scope(Category category)
      : name(nullptr), startNs(enabled() ? nowNs() : 0), category(category) {}
  ~Scope() {
    if (startNs)
      finish();
  }
  bool active() const { return startNs != 0; }
  void setName(std::string text) { ownedName = std::move(text); }
  void setDetail(std::string text) { detail = std::move(text); }

  Scope(const Scope &) = delete;
  Scope &operator=(const Scope &) = delete;

private:
  void finish();
  const char *name;
  uint64_t startNs;
  Category category;
  std::string ownedName, detail;
};

} // namespace profiler
} // namespace ember

extern "C" {
/// Called by CPU glue compiled while profiling around each kernel call or
/// parallel launch (`name`: the kernel's symbol, a NUL-terminated constant).
void ember_profile_kernel_begin(const char *name);
void ember_profile_kernel_end(const char *name);
}

#endif // EMBER_RUNTIME_PROFILER_H
