//===- FrontendThreadsTest.cpp - the C++ eager API from several threads ----===//
//
// Without Python's lock around them: threads that each trace, compile and
// run their own graphs share the compile caches and the allocator, and get
// bit for bit what the same work gets one thread at a time. Grad mode is
// per thread, as in torch.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Graph.h"
#include "ember/Frontend/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using namespace ember;

namespace {

const bool kDiskCacheOff = (setenv("EMBER_CACHE_DIR", "", 1), true);

constexpr int kThreads = 4;
constexpr int kSteps = 25;

Tensor randomTensor(std::vector<int64_t> shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> values(shapeNumel(shape));
  for (float &v : values)
    v = dist(rng);
  return fromData(values.data(), shape, DType::Float32);
}

std::vector<float> contents(const Tensor &x) {
  Tensor dense = contiguous(x);
  const float *data = static_cast<const float *>(dense.data());
  return std::vector<float>(data, data + dense.numel());
}

/// What one training run produced: the loss of every step, the final weights.
struct TrainingRun {
  std::vector<float> losses;
  std::vector<float> w1, w2;
};

/// A two-layer tanh network trained by SGD on data of its own; every step
/// reads the loss (a sync) and updates the weights in place under no-grad.
TrainingRun train(unsigned seed) {
  Tensor x = randomTensor({16, 6}, seed), y = randomTensor({16, 2}, seed + 1);
  Tensor w1 = randomTensor({6, 8}, seed + 2), w2 = randomTensor({8, 2}, seed + 3);
  setRequiresGrad(w1, true);
  setRequiresGrad(w2, true);
  TrainingRun run;
  for (int step = 0; step < kSteps; ++step) {
    Tensor hidden = unary(OpCode::Tanh, matmul(x, w1));
    Tensor error = binary(OpCode::Sub, matmul(hidden, w2), y);
    Tensor loss = reduce(OpCode::Mean, binary(OpCode::Mul, error, error), {}, false);
    backward(loss, std::nullopt, false, false);
    run.losses.push_back(contents(loss)[0]);
    setGradEnabled(false);
    for (Tensor *w : {&w1, &w2}) {
      Tensor grad(w->impl->grad);
      inplaceBinary(OpCode::Sub, *w, binary(OpCode::Mul, grad, Scalar::fromFloat(0.1)));
      w->impl->grad.reset();
    }
    setGradEnabled(true);
  }
  run.w1 = contents(w1);
  run.w2 = contents(w2);
  return run;
}

TEST(FrontendThreads, GradModeIsPerThread) {
  ASSERT_TRUE(gradEnabled());
  setGradEnabled(false);
  bool seenInNewThread = false, afterTurningOff = true;
  std::thread other([&] {
    seenInNewThread = gradEnabled(); // a new thread starts with grad on
    setGradEnabled(false);
    afterTurningOff = gradEnabled();
  });
  other.join();
  EXPECT_TRUE(seenInNewThread);
  EXPECT_FALSE(afterTurningOff);
  EXPECT_FALSE(gradEnabled()); // still this thread's own setting
  setGradEnabled(true);
  std::thread again([] { setGradEnabled(false); });
  again.join();
  EXPECT_TRUE(gradEnabled());
}

TEST(FrontendThreads, ConcurrentTrainingMatchesSequentialRuns) {
  clearCompileCache();
  uint64_t compilesBefore = compileStats().compiles;
  std::vector<TrainingRun> sequential;
  for (int t = 0; t < kThreads; ++t)
    sequential.push_back(train(100 + 10 * t));
  uint64_t sequentialCompiles = compileStats().compiles - compilesBefore;
  // Sanity: training lowers the loss.
  for (const TrainingRun &run : sequential)
    EXPECT_LT(run.losses.back(), run.losses.front());

  for (int repeat = 0; repeat < 3; ++repeat) {
    clearCompileCache(); // the threads compile concurrently, too
    CompileStats before = compileStats();
    std::vector<TrainingRun> concurrent(kThreads);
    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        try {
          concurrent[t] = train(100 + 10 * t);
        } catch (const std::exception &error) {
          failures[t] = error.what();
        }
      });
    for (std::thread &thread : threads)
      thread.join();
    CompileStats after = compileStats();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(failures[t], "") << "thread " << t;
      // Bit for bit: the same graphs run on the same data.
      EXPECT_EQ(concurrent[t].losses, sequential[t].losses) << "thread " << t;
      EXPECT_EQ(concurrent[t].w1, sequential[t].w1) << "thread " << t;
      EXPECT_EQ(concurrent[t].w2, sequential[t].w2) << "thread " << t;
    }
    // Every graph run was either compiled or found; the threads run the
    // same few structures, each compiled once however the threads meet.
    uint64_t runs = after.graphsRun - before.graphsRun;
    uint64_t compiles = after.compiles - before.compiles;
    EXPECT_EQ(compiles + (after.cacheHits - before.cacheHits), runs);
    EXPECT_GE(runs, uint64_t(kThreads * kSteps));
    EXPECT_EQ(compiles, sequentialCompiles);
  }
}

TEST(FrontendThreads, ThreadsCompilingDifferentGraphsAtOnce) {
  // Each thread makes structures no other thread makes (a chain of its own
  // length), so compiles of different graphs overlap with runs and hits.
  clearCompileCache();
  CompileStats before = compileStats();
  constexpr int kRounds = 6;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        Tensor x = randomTensor({3 + round, 5}, 7 * t + round);
        std::vector<float> input = contents(x);
        Tensor y = x;
        for (int i = 0; i <= t; ++i)
          y = unary(OpCode::Exp, binary(OpCode::Mul, y, Scalar::fromFloat(0.5)));
        std::vector<float> got = contents(y);
        for (size_t i = 0; i < input.size(); ++i) {
          double want = input[i];
          for (int k = 0; k <= t; ++k)
            want = std::exp(want * 0.5);
          wrong[t] += std::abs(got[i] - want) > 1e-5 * std::abs(want);
        }
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
  CompileStats after = compileStats();
  EXPECT_EQ(after.compiles - before.compiles, uint64_t(kThreads));
  EXPECT_EQ(after.cacheHits - before.cacheHits, uint64_t(kThreads * (kRounds - 1)));
  EXPECT_EQ(after.graphsRun - before.graphsRun, uint64_t(kThreads * kRounds));
}

TEST(FrontendThreads, AValueTracedInOneThreadIsReadInAnother) {
  Tensor x = randomTensor({4, 3}, 5);
  std::vector<float> input = contents(x);
  Tensor doubled;
  std::thread producer([&] { doubled = binary(OpCode::Add, x, x); });
  producer.join();
  ASSERT_NE(doubled.storage().pending, nullptr); // the producer never synced
  std::vector<float> got = contents(doubled);
  for (size_t i = 0; i < input.size(); ++i)
    EXPECT_EQ(got[i], input[i] + input[i]);
}

} // namespace
