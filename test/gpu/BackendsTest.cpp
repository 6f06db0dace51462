//===- BackendsTest.cpp - every backend: enumerate, or a clear error -------===//
//
// For each backend: where its driver and a device exist, the same checks run
// on it (copies round trip, the allocator reuses blocks, events order two
// streams) and CUDA also runs vector_add.ptx; where they do not, the test
// checks that enumerateDevices and openDevice fail with the
// "<backend> is not available: ..." error, and skips with that reason.
//
//===----------------------------------------------------------------------===//

#include "GpuTestSupport.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace ember::gpu;
using ember::gpu::test::randomFloats;

namespace {

class BackendsTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    std::string reason = test::skipReason(GetParam());
    if (!reason.empty())
      GTEST_SKIP() << "skipped: " << reason;
    device = openDevice(GetParam());
    std::printf("%s device 0: %s, %llu MiB\n", backendName(GetParam()),
                device->info().name.c_str(),
                (unsigned long long)(device->info().totalMemory >> 20));
  }
  std::unique_ptr<Device> device;
};

TEST_P(BackendsTest, OpensTheFirstDevice) {
  // Unavailable backends are checked by BackendsAvailability below.
  EXPECT_EQ(device->backend(), GetParam());
  EXPECT_EQ(device->info().name, enumerateDevices(GetParam())[0].name);
}

TEST(BackendsAvailability, UnavailableBackendsSayWhy) {
  for (Backend backend : kAllBackends) {
    std::string reason = backendUnavailableReason(backend);
    std::string prefix = std::string(backendName(backend)) + " is not available: ";
    if (reason.empty()) {
      std::printf("%s: available\n", backendName(backend));
      continue;
    }
    std::printf("%s\n", reason.c_str());
    EXPECT_EQ(reason.compare(0, prefix.size(), prefix), 0) << reason;
    try {
      openDevice(backend);
      ADD_FAILURE() << "openDevice succeeded though: " << reason;
    } catch (const DeviceUnavailableError &error) {
      EXPECT_EQ(error.backend(), backend);
      EXPECT_EQ(std::string(error.what()).compare(0, prefix.size(), prefix), 0)
          << error.what();
    }
  }
}

TEST_P(BackendsTest, CopiesRoundTripAndBlocksAreReused) {
  Stream &stream = device->defaultStream();
  const size_t bytes = (1 << 20) + 5;
  std::vector<uint8_t> data(bytes), back(bytes);
  for (size_t i = 0; i < bytes; ++i)
    data[i] = uint8_t(i * 7 + 3);
  DeviceBuffer first = device->allocate(bytes), second = device->allocate(bytes);
  device->copyToDevice(first, 0, data.data(), bytes, stream);
  device->copyOnDevice(second, 0, first, 0, bytes, stream);
  device->copyToHost(back.data(), second, 0, bytes, stream);
  EXPECT_EQ(std::memcmp(back.data(), data.data(), bytes), 0);
  uint64_t handle = first.handle;
  device->free(first);
  DeviceBuffer again = device->allocate(bytes - 3); // the same class
  EXPECT_EQ(again.handle, handle);
  EXPECT_EQ(device->allocatorStats().cacheHits, 1u);
  device->free(again);
  device->free(second);
  device->emptyCache();
  EXPECT_EQ(device->allocatorStats().deviceBytes, 0u);
}

TEST_P(BackendsTest, EventsOrderStreams) {
  std::unique_ptr<Stream> producer = device->createStream(),
                          consumer = device->createStream();
  std::unique_ptr<Event> event = device->createEvent();
  const size_t bytes = 4 << 20;
  std::vector<uint8_t> data(bytes, 0x5a), back(bytes);
  DeviceBuffer first = device->allocate(bytes), second = device->allocate(bytes);
  device->copyToDevice(first, 0, data.data(), bytes, *producer);
  producer->record(*event);
  consumer->wait(*event);
  device->copyOnDevice(second, 0, first, 0, bytes, *consumer);
  device->copyToHost(back.data(), second, 0, bytes, *consumer);
  EXPECT_EQ(back, data);
  event->synchronize();
  EXPECT_TRUE(event->isComplete());
  device->free(first);
  device->free(second);
}

TEST_P(BackendsTest, RunsAKernel) {
  if (GetParam() != Backend::Cuda)
    GTEST_SKIP() << "skipped: no " << backendName(GetParam())
                 << " test kernel yet (ROCm needs an HSACO for the machine's "
                    "gfx target, Level Zero an OpenCL-flavour SPIR-V module)";
  std::vector<char> ptx = test::readRunfile("test/gpu/vector_add.ptx");
  std::unique_ptr<Module> module =
      device->loadModule(ModuleFormat::Ptx, ptx.data(), ptx.size());
  Kernel &kernel = module->getKernel(
      "vector_add", KernelLayout::sequential({ArgKind::Buffer, ArgKind::Buffer,
                                              ArgKind::Buffer, ArgKind::I32}));
  const int n = 1000003;
  std::vector<float> a = randomFloats(n, 1), b = randomFloats(n, 2), c(n);
  DeviceBuffer da = device->allocate(n * 4), db = device->allocate(n * 4),
               dc = device->allocate(n * 4);
  Stream &stream = device->defaultStream();
  device->copyToDevice(da, 0, a.data(), n * 4, stream);
  device->copyToDevice(db, 0, b.data(), n * 4, stream);
  LaunchParams params;
  params.grid.x = (n + 255) / 256;
  params.block.x = 256;
  params.args = {KernelArg::ofBuffer(da), KernelArg::ofBuffer(db),
                 KernelArg::ofBuffer(dc), KernelArg::ofI32(n)};
  device->launch(kernel, params, stream);
  device->copyToHost(c.data(), dc, 0, n * 4, stream);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(c[i], a[i] + b[i]) << "element " << i;

  params.args.pop_back();
  try {
    device->launch(kernel, params, stream);
    ADD_FAILURE() << "a launch with 3 of 4 arguments went through";
  } catch (const DeviceError &error) {
    EXPECT_NE(std::string(error.what()).find("takes 4 arguments"),
              std::string::npos)
        << error.what();
  }
  for (DeviceBuffer *buffer : {&da, &db, &dc})
    device->free(*buffer);
}

INSTANTIATE_TEST_SUITE_P(
    AllBackends, BackendsTest, ::testing::ValuesIn(kAllBackends),
    [](const ::testing::TestParamInfo<Backend> &info) {
      return std::string(backendName(info.param));
    });

} // namespace
