//===- ProfilerTest.cpp - the runtime recorder behind ember.profiler ------===//

#include "ember/Runtime/Profiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

using namespace ember;
namespace prof = ember::profiler;

namespace {

std::vector<prof::Event> named(std::vector<prof::Event> events, const std::string &name) {
  events.erase(std::remove_if(events.begin(), events.end(),
                              [&](const prof::Event &e) { return e.name != name; }),
               events.end());
  return events;
}

TEST(Profiler, OffRecordsNothing) {
  prof::stop();
  prof::take();
  EXPECT_FALSE(prof::enabled());
  { prof::Scope scope(prof::Category::Run, "off"); EXPECT_FALSE(scope.active()); }
  ember_profile_kernel_begin("k");
  ember_profile_kernel_end("k");
  EXPECT_TRUE(prof::take().empty());
}

TEST(Profiler, ScopesNestAndCarryDetail) {
  prof::start(/*memory=*/false, /*kernels=*/true);
  EXPECT_TRUE(prof::enabled() && prof::kernelsEnabled() && !prof::memoryEnabled());
  {
    prof::Scope outer(prof::Category::Run, "outer");
    prof::Scope inner(prof::Category::Compile);
    ASSERT_TRUE(inner.active());
    inner.setName("inner");
    inner.setDetail("3 ops");
  }
  prof::stop();
  std::vector<prof::Event> events = prof::take();
  ASSERT_EQ(events.size(), 2u);
  prof::Event outer = named(events, "outer").at(0), inner = named(events, "inner").at(0);
  EXPECT_EQ(inner.detail, "3 ops");
  EXPECT_EQ(inner.category, prof::Category::Compile);
  EXPECT_LE(outer.startNs, inner.startNs);
  EXPECT_GE(outer.endNs, inner.endNs);
  EXPECT_STREQ(prof::categoryName(outer.category), "run");
  EXPECT_TRUE(prof::take().empty()); // taken once
}

TEST(Profiler, EachThreadHasItsOwnBuffer) {
  prof::start(false, false);
  auto work = [] {
    for (int i = 0; i < 1000; ++i)
      prof::Scope scope(prof::Category::Kernel, "k");
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  prof::stop();
  std::vector<prof::Event> events = prof::take();
  ASSERT_EQ(events.size(), 2000u);
  std::vector<uint32_t> threads;
  for (const prof::Event &e : events)
    threads.push_back(e.thread);
  std::sort(threads.begin(), threads.end());
  threads.erase(std::unique(threads.begin(), threads.end()), threads.end());
  EXPECT_EQ(threads.size(), 2u);
}

TEST(Profiler, KernelHooksPairUpAndNest) {
  prof::start(false, true);
  ember_profile_kernel_begin("launch");
  ember_profile_kernel_begin("inner");
  ember_profile_kernel_end("inner");
  ember_profile_kernel_end("launch");
  // An end without a begin is ignored.
  ember_profile_kernel_end("stray");
  prof::stop();
  std::vector<prof::Event> events = prof::take();
  ASSERT_EQ(events.size(), 2u);
  prof::Event launch = named(events, "launch").at(0), inner = named(events, "inner").at(0);
  EXPECT_EQ(launch.category, prof::Category::Kernel);
  EXPECT_LE(launch.startNs, inner.startNs);
  EXPECT_GE(launch.endNs, inner.endNs);
}

TEST(Profiler, MemoryEventsOnlyWhenAsked) {
  prof::start(/*memory=*/true, false);
  EXPECT_TRUE(prof::memoryEnabled());
  prof::recordMemory(4096, "[memory]");
  prof::recordMemory(-4096, "[memory]");
  prof::stop();
  std::vector<prof::Event> events = prof::take();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].bytes + events[1].bytes, 0);
  EXPECT_EQ(events[0].category, prof::Category::Memory);
  // start() clears what an earlier recording left.
  prof::start(false, false);
  prof::recordSpan(prof::Category::User, "left", prof::nowNs());
  prof::start(false, false);
  prof::stop();
  EXPECT_TRUE(prof::take().empty());
}

} // namespace
