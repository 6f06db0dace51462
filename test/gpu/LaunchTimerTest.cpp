//===- LaunchTimerTest.cpp - CUDA/HIP launch times in the profiler --------===//
//
// The CUDA and ROCm drivers run here on FakeGpuDriver.cpp (named by
// EMBER_CUDA_LIBRARY and EMBER_HIP_LIBRARY): its launches advance a device
// clock by 1 us per block, and its events complete only at a synchronize.
// Checked: the profiler off makes no timing event; on, each launch becomes
// one Device span with the device's duration, reported once the stream has
// synchronized (not before), placed in launch order; events are reused.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/Device.h"
#include "ember/Runtime/Profiler.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>

namespace prof = ember::profiler;
using namespace ember::gpu;

namespace {

struct FakeGpuCounters {
  int timingEventsCreated;
  int eventsCreated;
  int launches;
};

/// The fake driver's counters (one library serves both backends).
const FakeGpuCounters &counters() {
  static const FakeGpuCounters *found = [] {
    void *library = dlopen(std::getenv("EMBER_CUDA_LIBRARY"), RTLD_NOW | RTLD_NOLOAD);
    return library ? static_cast<const FakeGpuCounters *>(
                         dlsym(library, "ember_fake_gpu_counters"))
                   : nullptr;
  }();
  if (!found)
    throw std::runtime_error("the fake driver is not loaded");
  return *found;
}

std::vector<prof::Event> deviceSpans() {
  std::vector<prof::Event> spans;
  for (prof::Event &event : prof::take())
    if (event.category == prof::Category::Device)
      spans.push_back(std::move(event));
  std::sort(spans.begin(), spans.end(),
            [](const prof::Event &a, const prof::Event &b) { return a.startNs < b.startNs; });
  return spans;
}

class LaunchTiming : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    device = openDevice(GetParam());
    EXPECT_EQ(device->info().name, "Fake GPU");
    module = device->loadModule(
        GetParam() == Backend::Cuda ? ModuleFormat::Ptx : ModuleFormat::Hsaco, "fake", 4);
    KernelLayout layout = KernelLayout::sequential({ArgKind::Buffer});
    first = &module->getKernel("first", layout);
    second = &module->getKernel("second", layout);
    buffer = device->allocate(64);
  }
  void TearDown() override {
    prof::stop();
    prof::take();
    device->free(buffer);
  }
  /// `kernel` over `blocks` blocks: `blocks` microseconds on the fake.
  void launch(Kernel &kernel, uint32_t blocks) {
    LaunchParams params;
    params.grid.x = blocks;
    params.args = {KernelArg::ofBuffer(buffer)};
    device->launch(kernel, params, device->defaultStream());
  }
  const char *detail() const {
    return GetParam() == Backend::Cuda ? "cuda launch" : "rocm launch";
  }

  std::unique_ptr<Device> device;
  std::unique_ptr<Module> module;
  Kernel *first = nullptr, *second = nullptr;
  DeviceBuffer buffer;
};

TEST_P(LaunchTiming, OffMakesNoTimingEvents) {
  int events = counters().timingEventsCreated, launches = counters().launches;
  launch(*first, 3);
  launch(*second, 4);
  device->defaultStream().synchronize();
  EXPECT_EQ(counters().launches, launches + 2);
  EXPECT_EQ(counters().timingEventsCreated, events);
  EXPECT_TRUE(deviceSpans().empty());
}

TEST_P(LaunchTiming, EachLaunchIsASpanWithItsDeviceTime) {
  prof::start(/*memory=*/false, /*kernels=*/false);
  launch(*first, 2);
  launch(*second, 5);
  // Still "running" on the fake: nothing to report yet.
  EXPECT_TRUE(deviceSpans().empty());
  device->defaultStream().synchronize();
  std::vector<prof::Event> spans = deviceSpans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name, "first");
  EXPECT_EQ(spans[1].name, "second");
  EXPECT_EQ(spans[0].endNs - spans[0].startNs, 2000u);
  EXPECT_EQ(spans[1].endNs - spans[1].startNs, 5000u);
  EXPECT_GE(spans[1].startNs, spans[0].endNs);
  EXPECT_EQ(spans[0].detail, detail());

  // Another round reuses the events, and a device synchronize reports too.
  int created = counters().timingEventsCreated;
  launch(*first, 1);
  launch(*second, 1);
  device->synchronize();
  spans = deviceSpans();
  ASSERT_EQ(spans.size(), 2u);
  for (const prof::Event &span : spans)
    EXPECT_EQ(span.endNs - span.startNs, 1000u);
  EXPECT_EQ(counters().timingEventsCreated, created);
}

TEST_P(LaunchTiming, LaunchesLeftAfterStopAreDropped) {
  prof::start(false, false);
  launch(*first, 2);
  prof::stop();
  device->defaultStream().synchronize();
  EXPECT_TRUE(deviceSpans().empty());
}

INSTANTIATE_TEST_SUITE_P(FakeDriver, LaunchTiming,
                         ::testing::Values(Backend::Cuda, Backend::Rocm),
                         [](const ::testing::TestParamInfo<Backend> &info) {
                           return std::string(backendName(info.param));
                         });

} // namespace
