//===- ThreadPoolTest.cpp - ember::parallelFor and ember_parallel_for -----===//

#include "ember/Runtime/CpuRuntime.h"
#include "ember/Runtime/ThreadPool.h"
#include "ember/Runtime/Threads.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace {

/// Restores the thread count a test changed.
class ThreadCount {
public:
  explicit ThreadCount(int threads) : saved(ember::numThreads()) {
    ember::setNumThreads(threads);
  }
  ~ThreadCount() { ember::setNumThreads(saved); }

private:
  int saved;
};

/// Every chunk a parallelFor ran, and on which thread.
struct Chunks {
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::set<std::thread::id> threads;
  void record(int64_t lo, int64_t hi) {
    std::lock_guard<std::mutex> lock(mutex);
    ranges.emplace_back(lo, hi);
    threads.insert(std::this_thread::get_id());
  }
};

/// Counts how often each index of [begin, end) ran; all must be exactly 1.
void expectEachIndexOnce(int64_t begin, int64_t end, int64_t grain) {
  std::vector<std::atomic<int>> hits(end - begin);
  Chunks chunks;
  ember::parallelFor(begin, end, grain, [&](int64_t lo, int64_t hi) {
    chunks.record(lo, hi);
    for (int64_t i = lo; i < hi; ++i)
      hits[i - begin].fetch_add(1);
  });
  for (int64_t i = begin; i < end; ++i)
    ASSERT_EQ(hits[i - begin].load(), 1) << "index " << i << " of [" << begin
                                         << ", " << end << ") grain " << grain;
  for (auto [lo, hi] : chunks.ranges) {
    EXPECT_LT(lo, hi);
    // A chunk is a whole grain unless the range had no room to split.
    if (chunks.ranges.size() > 1) {
      EXPECT_GE(hi - lo, grain) << "[" << lo << ", " << hi << ")";
    }
  }
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadCount count(threads);
    for (int64_t size : {1, 2, 7, 63, 64, 65, 1000, 4099, 100003})
      for (int64_t grain : {1, 3, 16, 1000})
        expectEachIndexOnce(-17, -17 + size, grain);
  }
}

TEST(ThreadPool, EmptyAndReversedRangesRunNothing) {
  ThreadCount count(2);
  int calls = 0;
  ember::parallelFor(5, 5, 1, [&](int64_t, int64_t) { ++calls; });
  ember::parallelFor(5, 3, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, RangesUnderTwoGrainsRunInlineAsOneChunk) {
  ThreadCount count(4);
  Chunks chunks;
  ember::parallelFor(0, 199, 100, [&](int64_t lo, int64_t hi) { chunks.record(lo, hi); });
  ASSERT_EQ(chunks.ranges.size(), 1u);
  EXPECT_EQ(chunks.ranges[0].first, 0);
  EXPECT_EQ(chunks.ranges[0].second, 199);
  EXPECT_EQ(*chunks.threads.begin(), std::this_thread::get_id());
}

TEST(ThreadPool, SplitsRespectTheGrainAndUseSeveralChunks) {
  ThreadCount count(2);
  Chunks chunks;
  ember::parallelFor(0, 1000, 100, [&](int64_t lo, int64_t hi) { chunks.record(lo, hi); });
  EXPECT_GE(chunks.ranges.size(), 2u);
  EXPECT_LE(chunks.ranges.size(), 10u);
  for (auto [lo, hi] : chunks.ranges)
    EXPECT_GE(hi - lo, 100);
}

TEST(ThreadPool, GrainedSplitsGiveEachThreadTheSameChunkCount) {
  // 64 rows in grains of 19 (resnet18's max-pool border fill): 3 chunks
  // would leave one of 2 threads idle a third of the job; a grain of 1
  // (uneven tasks, one a chunk) keeps its count.
  ThreadCount count(2);
  Chunks grained;
  ember::parallelFor(0, 64, 19, [&](int64_t lo, int64_t hi) { grained.record(lo, hi); });
  EXPECT_EQ(grained.ranges.size(), 2u);
  for (auto [lo, hi] : grained.ranges)
    EXPECT_EQ(hi - lo, 32);
  Chunks tasks;
  ember::parallelFor(0, 5, 1, [&](int64_t lo, int64_t hi) { tasks.record(lo, hi); });
  EXPECT_EQ(tasks.ranges.size(), 5u);
}

TEST(ThreadPool, OneThreadRunsInlineWithoutWorkers) {
  ThreadCount count(1);
  Chunks chunks;
  ember::parallelFor(0, 1 << 20, 1, [&](int64_t lo, int64_t hi) { chunks.record(lo, hi); });
  ASSERT_EQ(chunks.ranges.size(), 1u);
  EXPECT_EQ(*chunks.threads.begin(), std::this_thread::get_id());
}

TEST(ThreadPool, WorkersRunChunks) {
  ThreadCount count(3);
  // Enough chunks, each slow enough, that the caller alone cannot take all
  // of them before a worker wakes; retried in case the machine is busy.
  bool sawWorker = false;
  for (int attempt = 0; attempt < 20 && !sawWorker; ++attempt) {
    Chunks chunks;
    ember::parallelFor(0, 12, 1, [&](int64_t lo, int64_t hi) {
      chunks.record(lo, hi);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    });
    sawWorker = chunks.threads.size() > 1;
  }
  EXPECT_TRUE(sawWorker);
  EXPECT_EQ(ember::poolWorkerCount(), 2);
}

TEST(ThreadPool, ShortJobsLeaveSleepingWorkersAsleep) {
  ThreadCount count(2);
  auto tiny = [](int64_t, int64_t) {};
  auto slow = [](int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  auto idle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); };
  ember::parallelFor(0, 64, 1, tiny); // makes the workers
  // A job known to take microseconds does not wake workers that have gone
  // to sleep (only the first run, with nothing known, may); each index
  // still runs once, on the caller.
  ember::ThreadPoolStats before = ember::threadPoolStats();
  for (int i = 0; i < 10; ++i) {
    idle();
    expectEachIndexOnce(0, 64, 1);
  }
  ember::ThreadPoolStats after = ember::threadPoolStats();
  EXPECT_EQ(after.launches - before.launches, 10);
  EXPECT_GE(after.skippedWakeups - before.skippedWakeups, 5);
  // A job of milliseconds always wakes them.
  before = after;
  for (int i = 0; i < 3; ++i) {
    idle();
    ember::parallelFor(0, 4, 1, slow);
  }
  after = ember::threadPoolStats();
  EXPECT_EQ(after.launches - before.launches, 3);
  EXPECT_EQ(after.skippedWakeups - before.skippedWakeups, 0);
  EXPECT_GE(after.wakeups - before.wakeups, 1);
}

TEST(ThreadPool, NestedCallsRunInlineOnTheirThread) {
  ThreadCount count(2);
  std::atomic<int64_t> inner{0};
  std::atomic<int> nestedOnOtherThread{0};
  ember::parallelFor(0, 8, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      std::thread::id outer = std::this_thread::get_id();
      ember::parallelFor(0, 1000, 1, [&](int64_t a, int64_t b) {
        if (std::this_thread::get_id() != outer)
          nestedOnOtherThread.fetch_add(1);
        inner.fetch_add(b - a);
      });
    }
  });
  EXPECT_EQ(inner.load(), 8 * 1000);
  EXPECT_EQ(nestedOnOtherThread.load(), 0);
}

TEST(ThreadPool, ResizesWhenTheThreadCountChanges) {
  for (int threads : {2, 4, 1, 3, 2}) {
    ThreadCount count(threads);
    expectEachIndexOnce(0, 10000, 10);
    if (threads > 1) {
      EXPECT_EQ(ember::poolWorkerCount(), threads - 1);
    }
  }
}

TEST(ThreadPool, ConcurrentCallersEachGetEveryIndex) {
  ThreadCount count(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        std::vector<std::atomic<int>> hits(5000);
        ember::parallelFor(0, 5000, 7, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i)
            hits[i].fetch_add(1);
        });
        for (auto &hit : hits)
          if (hit.load() != 1)
            failures.fetch_add(1);
      }
    });
  for (std::thread &caller : callers)
    caller.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, ManyShortJobsInARow) {
  // Back-to-back jobs are where a late worker could take a chunk of the
  // next job; every job must still see each index once.
  ThreadCount count(3);
  std::vector<int> hits(64);
  for (int round = 0; round < 20000; ++round) {
    std::fill(hits.begin(), hits.end(), 0);
    ember::parallelFor(0, 64, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        ++hits[i];
    });
    for (int i = 0; i < 64; ++i)
      ASSERT_EQ(hits[i], 1) << "round " << round << " index " << i;
  }
}

TEST(ThreadPool, AForkedChildGetsAPoolOfItsOwn) {
  ThreadCount count(3);
  expectEachIndexOnce(0, 100000, 10); // the parent's workers exist
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<std::atomic<int>> hits(100000);
    for (int round = 0; round < 3; ++round)
      ember::parallelFor(0, 100000, 10, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          hits[i].fetch_add(1);
      });
    bool ok = ember::poolWorkerCount() == 2;
    for (auto &hit : hits)
      ok = ok && hit.load() == 3;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

extern "C" void addChunkLength(void *context, int64_t lo, int64_t hi) {
  static_cast<std::atomic<int64_t> *>(context)->fetch_add(hi - lo);
}

TEST(ThreadPool, CompiledCodeEntryPointIsInTheRuntimeTable) {
  int count = 0;
  const ember::RuntimeSymbol *symbols = ember::cpuRuntimeSymbols(&count);
  void *address = nullptr;
  for (int i = 0; i < count; ++i)
    if (std::strcmp(symbols[i].name, "ember_parallel_for") == 0)
      address = symbols[i].address;
  ASSERT_EQ(address, reinterpret_cast<void *>(&ember_parallel_for));

  ThreadCount threads(2);
  std::atomic<int64_t> total{0};
  auto entry = reinterpret_cast<void (*)(void (*)(void *, int64_t, int64_t),
                                         void *, int64_t, int64_t, int64_t)>(address);
  entry(addChunkLength, &total, 10, 100010, 1000);
  EXPECT_EQ(total.load(), 100000);
}

} // namespace
