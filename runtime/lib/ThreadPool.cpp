//===- ThreadPool.cpp - the runtime's pool for splitting loops -------------===//
//
// One job at a time. The caller writes the job (body, range, chunking), then
// publishes it by storing one 64-bit word: a generation number, the chunk
// count and the next chunk to take. Workers and the caller take chunks by
// compare-and-swap on that word, which fails once the generation moved on,
// so a late worker can never take a chunk of a job that is not its own; the
// caller returns when its `done` counter reaches the chunk count, and only
// then may the job be rewritten. Sleeping on either side (an idle worker, a
// caller waiting for a descheduled worker) is announced through a counter
// that the waking side reads after its own store (both sequentially
// consistent), so no wake-up is lost.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/ThreadPool.h"
#include "ember/Runtime/Threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EMBER_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define EMBER_CPU_RELAX() asm volatile("yield")
#else
#define EMBER_CPU_RELAX() ((void)0)
#endif

namespace ember {
namespace {

/// How long an idle worker (or a caller waiting for its workers) spins
/// before it sleeps, by default: long enough to cover the gap between two
/// kernels of one program or two eagerly dispatched ops, short enough to
/// give the core back. At 50 us the gap between two eager `x * 1.5` on
/// (3, 8, 128, 256) (the caller's Python, dispatch and its share of the
/// last job) often outlasted the spin: ~1.4 context switches per op on 2
/// threads, the worker asleep when the next job came, and the caller doing
/// most chunks itself (no faster than 1 thread). EMBER_POOL_SPIN_US
/// overrides it (docs/knobs.md).
constexpr int64_t kDefaultSpinMicros = 200;

/// EMBER_POOL_SPIN_US, read once; a malformed value is reported and ignored.
std::chrono::microseconds spinTime() {
  static const std::chrono::microseconds spin = [] {
    const char *text = std::getenv("EMBER_POOL_SPIN_US");
    if (!text || !*text)
      return std::chrono::microseconds(kDefaultSpinMicros);
    char *end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value < 0 || value > 10'000'000) {
      std::fprintf(stderr,
                   "ember: ignoring EMBER_POOL_SPIN_US=%s (expected a whole "
                   "number of microseconds)\n",
                   text);
      return std::chrono::microseconds(kDefaultSpinMicros);
    }
    return std::chrono::microseconds(value);
  }();
  return spin;
}

/// Chunks per thread: a few, so that the caller and the prompt workers take
/// over the share of a worker the OS has not scheduled yet.
constexpr int64_t kChunksPerThread = 4;

/// The published word: generation (32 bits) | chunk count (16) | next (16).
constexpr uint64_t kMaxChunks = 0xFFFF;
uint32_t generationOf(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
uint64_t countOf(uint64_t word) { return (word >> 16) & 0xFFFF; }
uint64_t nextOf(uint64_t word) { return word & 0xFFFF; }
uint64_t makeWord(uint32_t generation, uint64_t count) {
  return (static_cast<uint64_t>(generation) << 32) | (count << 16);
}

/// True on a pool worker and on a caller while it runs chunks: a
/// parallelFor from there runs inline.
thread_local bool insideParallelFor = false;

/// Spins until `ready()` or spinTime() has passed; returns ready().
template <typename Ready> bool spinUntil(const Ready &ready) {
  auto deadline = std::chrono::steady_clock::now() + spinTime();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready())
        return true;
      EMBER_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return ready();
  }
}

/// A job whose chunks, run one after another, take less than a sleeping
/// worker needs to wake up (futex wake, the OS scheduling it, its first
/// chunk) leaves sleeping workers asleep: the worker would arrive after the
/// job is over, and the wake-up costs the caller a system call and often
/// its core (the woken worker is scheduled in its place). Workers that are
/// still spinning (kernels launched back to back) take chunks of it all
/// the same. The pool measures that wake-up time (wakeLatency below) and
/// wakes for jobs of at least that much work, but never asks for more than
/// kMaxWakeWorthNanos: on a busy machine a few slow wake-ups would raise the
/// average, and a bar that high would stop the wake-ups that measure it.
constexpr int64_t kMaxWakeWorthNanos = 50'000;

/// The work of recent jobs, by body and range size: a compiled model
/// launches the same kernels with the same sizes call after call. Direct
/// mapped; written and read only by the caller holding callerMutex.
class WorkEstimates {
public:
  /// The work (ns) the last job of `fn` over `size` indices took, or -1.
  int64_t find(ParallelChunkFn fn, int64_t size) const {
    const Entry &entry = entries[slot(fn, size)];
    return entry.fn == fn && entry.size == size ? entry.nanos : -1;
  }
  void record(ParallelChunkFn fn, int64_t size, int64_t nanos) {
    entries[slot(fn, size)] = {fn, size, nanos};
  }

private:
  struct Entry {
    ParallelChunkFn fn = nullptr;
    int64_t size = 0;
    int64_t nanos = 0;
  };
  static size_t slot(ParallelChunkFn fn, int64_t size) {
    uint64_t key = reinterpret_cast<uintptr_t>(fn) * 0x9E3779B97F4A7C15ull ^
                   static_cast<uint64_t>(size) * 0xC2B2AE3D27D4EB4Full;
    return (key >> 32) % kEntries;
  }
  static constexpr size_t kEntries = 256;
  Entry entries[kEntries];
};

int64_t nanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t nanosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

class ThreadPool {
public:
  void run(int64_t begin, int64_t end, int64_t grain, ParallelChunkFn fn,
           void *context, int threads);
  ThreadPoolStats stats() {
    std::lock_guard<std::mutex> lock(callerMutex);
    ThreadPoolStats copy = counts;
    copy.workerChunks = workerChunks.load(std::memory_order_relaxed);
    copy.wakeLatencyNanos = wakeLatency.load(std::memory_order_relaxed);
    return copy;
  }
  int workerCount() {
    std::lock_guard<std::mutex> lock(callerMutex);
    return static_cast<int>(workers.size());
  }
  /// Serialises callers; a second caller runs inline instead of waiting.
  std::mutex callerMutex;

private:
  void resize(int workerCount);
  void workerMain(uint32_t seen);
  /// Takes and runs chunks of job `generation` until none are left;
  /// returns how many it ran.
  int64_t runChunks(uint32_t generation);

  // The job; written only by the caller, while no chunk of it is taken.
  ParallelChunkFn jobFn = nullptr;
  void *jobContext = nullptr;
  int64_t jobBegin = 0, jobBase = 0, jobRemainder = 0;

  alignas(64) std::atomic<uint64_t> word{0};
  alignas(64) std::atomic<uint64_t> done{0};
  alignas(64) std::atomic<int> sleepingWorkers{0};
  std::atomic<bool> callerSleeping{false};
  /// When the caller last woke sleeping workers (steady clock, ns), and a
  /// running average of how long a woken worker took to reach its job
  /// (written by the woken workers; a racy update only loses a sample).
  std::atomic<int64_t> wokenAt{0};
  std::atomic<int64_t> wakeLatency{kMaxWakeWorthNanos};
  std::atomic<bool> stopping{false};
  std::mutex sleepMutex;
  std::condition_variable workAvailable;
  std::condition_variable jobFinished;
  std::vector<std::thread> workers;
  // Written by the caller under callerMutex, except the workers' count.
  WorkEstimates estimates;
  ThreadPoolStats counts = {};
  std::atomic<int64_t> workerChunks{0};
};

int64_t ThreadPool::runChunks(uint32_t generation) {
  for (int64_t ran = 0;; ++ran) {
    uint64_t current = word.load(std::memory_order_acquire);
    do {
      if (generationOf(current) != generation ||
          nextOf(current) >= countOf(current))
        return ran;
    } while (!word.compare_exchange_weak(current, current + 1,
                                         std::memory_order_acq_rel,
                                         std::memory_order_acquire));
    int64_t chunk = static_cast<int64_t>(nextOf(current));
    int64_t lo = jobBegin + chunk * jobBase + std::min(chunk, jobRemainder);
    int64_t hi = lo + jobBase + (chunk < jobRemainder ? 1 : 0);
    jobFn(jobContext, lo, hi);
    uint64_t finished = done.fetch_add(1) + 1;
    if (finished == countOf(current) && callerSleeping.load()) {
      std::lock_guard<std::mutex> lock(sleepMutex);
      jobFinished.notify_all();
    }
  }
}

void ThreadPool::workerMain(uint32_t seen) {
  insideParallelFor = true;
  for (;;) {
    auto hasNews = [&] {
      return generationOf(word.load()) != seen || stopping.load();
    };
    if (!spinUntil(hasNews)) {
      {
        std::unique_lock<std::mutex> lock(sleepMutex);
        sleepingWorkers.fetch_add(1);
        workAvailable.wait(lock, hasNews);
        sleepingWorkers.fetch_sub(1);
      }
      // Woken for a job (not for stopping): how long that took, as 1/8 of
      // the running average. The first worker up takes the time stamp, so
      // a wake-up is measured once and a spurious one not at all.
      if (int64_t since = wokenAt.exchange(0); since > 0 && !stopping.load()) {
        int64_t sample = nanosNow() - since;
        if (sample > 0 && sample < 100'000'000) {
          int64_t average = wakeLatency.load(std::memory_order_relaxed);
          wakeLatency.store(average + (sample - average) / 8,
                            std::memory_order_relaxed);
        }
      }
    }
    if (stopping.load(std::memory_order_acquire))
      return;
    seen = generationOf(word.load(std::memory_order_acquire));
    if (int64_t ran = runChunks(seen))
      workerChunks.fetch_add(ran, std::memory_order_relaxed);
  }
}

void ThreadPool::resize(int workerCount) {
  if (!workers.empty()) {
    {
      std::lock_guard<std::mutex> lock(sleepMutex);
      stopping.store(true);
      workAvailable.notify_all();
    }
    for (std::thread &worker : workers)
      worker.join();
    workers.clear();
    stopping.store(false);
  }
  uint32_t generation = generationOf(word.load());
  workers.reserve(workerCount);
  for (int i = 0; i < workerCount; ++i) {
    workers.emplace_back([this, generation] { workerMain(generation); });
    // Named here, not by the worker, so the name is in place when resize
    // returns (tools and tests tell the pool's threads apart by it).
    pthread_setname_np(workers.back().native_handle(), "ember-pool");
  }
}

void ThreadPool::run(int64_t begin, int64_t end, int64_t grain,
                     ParallelChunkFn fn, void *context, int threads) {
  // Called with callerMutex held.
  if (static_cast<int>(workers.size()) != threads - 1)
    resize(threads - 1);

  int64_t size = end - begin;
  int64_t chunks = std::min<int64_t>(
      {size / grain, threads * kChunksPerThread, static_cast<int64_t>(kMaxChunks)});
  // Rows of equal work (a grain above 1, as compiled kernels ask) in a
  // multiple of the threads' count of chunks, so each thread gets the same
  // share: resnet18's max-pool border fill, 64 rows in grains of 19, ran 3
  // chunks on 2 threads, one thread idle a third of it. A grain of 1 is
  // left alone: those callers hand out uneven tasks a chunk each.
  if (grain > 1 && chunks > threads)
    chunks -= chunks % threads;
  jobFn = fn;
  jobContext = context;
  jobBegin = begin;
  jobBase = size / chunks;
  jobRemainder = size % chunks;
  done.store(0, std::memory_order_relaxed);
  uint32_t generation = generationOf(word.load(std::memory_order_relaxed)) + 1;
  word.store(makeWord(generation, static_cast<uint64_t>(chunks)));
  ++counts.launches;
  if (sleepingWorkers.load() > 0) {
    int64_t expected = estimates.find(fn, size);
    if (expected < 0 ||
        expected >= std::min(wakeLatency.load(std::memory_order_relaxed),
                             kMaxWakeWorthNanos)) {
      ++counts.wakeups;
      wokenAt.store(nanosNow());
      std::lock_guard<std::mutex> lock(sleepMutex);
      workAvailable.notify_all();
    } else {
      ++counts.skippedWakeups;
    }
  }

  // The caller's time per chunk, times the chunks: the job's work, for the
  // next launch's choice (what a late worker adds is not counted).
  auto start = std::chrono::steady_clock::now();
  insideParallelFor = true;
  int64_t ran = runChunks(generation);
  insideParallelFor = false;
  if (ran > 0) {
    estimates.record(fn, size, nanosSince(start) / ran * chunks);
    counts.callerChunks += ran;
  }

  auto finished = [&] {
    return done.load() == static_cast<uint64_t>(chunks);
  };
  if (!spinUntil(finished)) {
    ++counts.callerSleeps;
    std::unique_lock<std::mutex> lock(sleepMutex);
    callerSleeping.store(true);
    jobFinished.wait(lock, finished);
    callerSleeping.store(false);
  }
}

/// The process's pool, never destroyed: workers asleep at exit are no
/// concern, and no static destructor has to join them.
ThreadPool *instance = nullptr;
std::once_flag created;

ThreadPool &pool() {
  std::call_once(created, [] {
    instance = new ThreadPool;
    // A forked child has none of the workers, and a lock a worker held at
    // the fork stays held: the child starts a pool of its own (the
    // parent's copy is left as it is, never joined or destroyed).
    pthread_atfork(nullptr, nullptr, [] { instance = new ThreadPool; });
  });
  return *instance;
}

} // namespace

void parallelFor(int64_t begin, int64_t end, int64_t grain, ParallelChunkFn fn,
                 void *context) {
  if (end <= begin)
    return;
  grain = std::max<int64_t>(grain, 1);
  int threads;
  if (insideParallelFor || end - begin < 2 * grain ||
      (threads = numThreads()) == 1) {
    fn(context, begin, end);
    return;
  }
  ThreadPool &shared = pool();
  std::unique_lock<std::mutex> lock(shared.callerMutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    fn(context, begin, end);
    return;
  }
  shared.run(begin, end, grain, fn, context, threads);
}

int poolWorkerCount() { return pool().workerCount(); }

ThreadPoolStats threadPoolStats() { return pool().stats(); }

} // namespace ember

extern "C" void ember_parallel_for(void (*fn)(void *, int64_t, int64_t),
                                   void *context, int64_t begin, int64_t end,
                                   int64_t grain) {
  ember::parallelFor(begin, end, grain, fn, context);
}
