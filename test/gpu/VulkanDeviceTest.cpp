//===- VulkanDeviceTest.cpp - the Vulkan driver, executing on lavapipe -----===//
//
// SPIR-V compute shaders assembled from mul_add.spvasm and reduce_sum.spvasm
// run through the Device API on random data and are compared with C++
// references; copies, the caching allocator, streams and events, and the
// errors of bad launches are checked on the same device.
//
//===----------------------------------------------------------------------===//

#include "GpuTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

using namespace ember::gpu;
using ember::gpu::test::randomFloats;
using ember::gpu::test::readRunfile;

namespace {

class VulkanDeviceTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string reason = test::skipReason(Backend::Vulkan);
    if (!reason.empty())
      GTEST_SKIP() << "skipped: " << reason;
    device = openDevice(Backend::Vulkan);
  }

  /// Uploads `values` into a new buffer.
  DeviceBuffer upload(const std::vector<float> &values) {
    DeviceBuffer buffer = device->allocate(values.size() * sizeof(float));
    device->copyToDevice(buffer, 0, values.data(), buffer.size,
                         device->defaultStream());
    return buffer;
  }

  std::vector<float> download(DeviceBuffer buffer, size_t count) {
    std::vector<float> values(count);
    device->copyToHost(values.data(), buffer, 0, count * sizeof(float),
                       device->defaultStream());
    return values;
  }

  std::unique_ptr<Module> loadShader(const char *name) {
    std::vector<char> binary =
        readRunfile(std::string("test/gpu/") + name + ".spv");
    return device->loadModule(ModuleFormat::Spirv, binary.data(),
                              binary.size());
  }

  static KernelLayout mulAddLayout() {
    return KernelLayout::sequential({ArgKind::Buffer, ArgKind::Buffer,
                                     ArgKind::Buffer, ArgKind::F32,
                                     ArgKind::I32});
  }

  std::unique_ptr<Device> device;
};

/// Runs mul_add on `n` random elements and checks every result and that the
/// elements past n are untouched.
void expectMulAdd(Device &device, Kernel &kernel, int n, float s,
                  Stream &stream) {
  std::vector<float> a = randomFloats(n, 1 + n), b = randomFloats(n, 2 + n);
  const int padded = n + 64;
  std::vector<float> sentinel(padded, -7.0f);
  DeviceBuffer da = device.allocate(n * 4), db = device.allocate(n * 4),
               dc = device.allocate(padded * 4);
  device.copyToDevice(da, 0, a.data(), n * 4, stream);
  device.copyToDevice(db, 0, b.data(), n * 4, stream);
  device.copyToDevice(dc, 0, sentinel.data(), padded * 4, stream);
  LaunchParams params;
  params.grid.x = (n + 63) / 64;
  params.block.x = 64;
  params.args = {KernelArg::ofBuffer(da), KernelArg::ofBuffer(db),
                 KernelArg::ofBuffer(dc), KernelArg::ofF32(s),
                 KernelArg::ofI32(n)};
  device.launch(kernel, params, stream);
  std::vector<float> c(padded);
  device.copyToHost(c.data(), dc, 0, padded * 4, stream);
  for (int i = 0; i < n; ++i) {
    // A fused multiply-add is allowed, so not bit-exact.
    float expected = a[i] * b[i] + s;
    ASSERT_NEAR(c[i], expected, 1e-6f * (1 + std::fabs(expected)))
        << "element " << i << " of " << n;
  }
  for (int i = n; i < padded; ++i)
    ASSERT_EQ(c[i], -7.0f) << "element " << i << " past n = " << n;
  device.free(da);
  device.free(db);
  device.free(dc);
}

TEST_F(VulkanDeviceTest, EnumeratesLavapipe) {
  std::vector<DeviceInfo> devices = enumerateDevices(Backend::Vulkan);
  ASSERT_FALSE(devices.empty());
  for (const DeviceInfo &info : devices) {
    std::printf("vulkan device %d: %s, %llu MiB\n", info.ordinal,
                info.name.c_str(),
                (unsigned long long)(info.totalMemory >> 20));
    EXPECT_FALSE(info.name.empty());
    EXPECT_EQ(info.backend, Backend::Vulkan);
  }
  EXPECT_EQ(device->info().name, devices[0].name);
  try {
    openDevice(Backend::Vulkan, int(devices.size()));
    ADD_FAILURE() << "opened a device past the last";
  } catch (const DeviceUnavailableError &error) {
    EXPECT_NE(std::string(error.what()).find("vulkan is not available: no device"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(VulkanDeviceTest, CopiesRoundTrip) {
  Stream &stream = device->defaultStream();
  for (size_t bytes : {size_t(1), size_t(1000), size_t(4096),
                       (size_t(1) << 20) + 3}) {
    std::vector<uint8_t> data(bytes), back(bytes + 16, 0xab);
    for (size_t i = 0; i < bytes; ++i)
      data[i] = uint8_t(i * 131 + bytes);
    DeviceBuffer first = device->allocate(bytes);
    DeviceBuffer second = device->allocate(bytes + 16);
    device->copyToDevice(first, 0, data.data(), bytes, stream);
    device->copyToDevice(second, 0, back.data(), bytes + 16, stream);
    device->copyOnDevice(second, 16, first, 0, bytes, stream);
    device->copyToHost(back.data(), second, 0, bytes + 16, stream);
    for (size_t i = 0; i < 16; ++i)
      ASSERT_EQ(back[i], 0xab) << "byte " << i << " before the copy";
    ASSERT_EQ(std::memcmp(back.data() + 16, data.data(), bytes), 0)
        << bytes << " bytes";
    device->free(first);
    device->free(second);
  }
}

TEST_F(VulkanDeviceTest, MulAddMatchesReference) {
  std::unique_ptr<Module> module = loadShader("mul_add");
  Kernel &kernel = module->getKernel("mul_add", mulAddLayout());
  EXPECT_EQ(&kernel, &module->getKernel("mul_add", mulAddLayout()));
  for (int n : {1, 63, 64, 1000, 100003})
    expectMulAdd(*device, kernel, n, 0.25f * n, device->defaultStream());
}

TEST_F(VulkanDeviceTest, WorkgroupReductionMatchesReference) {
  std::unique_ptr<Module> module = loadShader("reduce_sum");
  KernelLayout layout = KernelLayout::sequential(
      {ArgKind::Buffer, ArgKind::Buffer, ArgKind::I32});
  layout.workgroupSizeFromSpecConstants = true;
  Kernel &kernel = module->getKernel("reduce_sum", layout);
  const int n = 100003;
  std::vector<float> input = randomFloats(n, 42, 0.0f, 1.0f);
  DeviceBuffer din = upload(input);
  // Two workgroup sizes: two pipelines from one shader.
  for (uint32_t block : {256u, 64u}) {
    uint32_t groups = (n + block - 1) / block;
    DeviceBuffer partial = device->allocate(groups * sizeof(float));
    LaunchParams params;
    params.grid.x = groups;
    params.block.x = block;
    params.args = {KernelArg::ofBuffer(din), KernelArg::ofBuffer(partial),
                   KernelArg::ofI32(n)};
    device->launch(kernel, params, device->defaultStream());
    std::vector<float> sums = download(partial, groups);
    for (uint32_t g = 0; g < groups; ++g) {
      double expected = 0;
      for (uint32_t i = g * block; i < std::min<uint32_t>(n, (g + 1) * block); ++i)
        expected += input[i];
      ASSERT_NEAR(sums[g], expected, 1e-4 * block) << "group " << g
                                                   << " of block " << block;
    }
    device->free(partial);
  }
  device->free(din);
}

TEST_F(VulkanDeviceTest, RunsMlirGeneratedSpirv) {
  // scale_add.mlir through convert-gpu-to-spirv: buffers at set 0,
  // bindings 0..2 (from spirv.interface_var_abi), LocalSize 64.
  std::unique_ptr<Module> module = loadShader("scale_add");
  Kernel &kernel = module->getKernel(
      "scale_add",
      KernelLayout::sequential({ArgKind::Buffer, ArgKind::Buffer, ArgKind::Buffer}));
  const int n = 4096;
  std::vector<float> x = randomFloats(n, 11), y = randomFloats(n, 12);
  DeviceBuffer dx = upload(x), dy = upload(y), dout = device->allocate(n * 4);
  LaunchParams params;
  params.grid.x = n / 64;
  params.block.x = 64;
  params.args = {KernelArg::ofBuffer(dx), KernelArg::ofBuffer(dy),
                 KernelArg::ofBuffer(dout)};
  device->launch(kernel, params, device->defaultStream());
  std::vector<float> out = download(dout, n);
  for (int i = 0; i < n; ++i)
    ASSERT_NEAR(out[i], 2 * x[i] + y[i], 1e-6f * 4) << "element " << i;
  for (DeviceBuffer *buffer : {&dx, &dy, &dout})
    device->free(*buffer);
}

TEST_F(VulkanDeviceTest, CachingAllocatorReusesBlocks) {
  DeviceAllocatorStats before = device->allocatorStats();
  EXPECT_EQ(before.allocations, 0u);
  DeviceBuffer first = device->allocate(1000);
  uint64_t handle = first.handle;
  device->free(first);
  EXPECT_FALSE(first);
  DeviceBuffer second = device->allocate(900); // the same 1 KiB class
  EXPECT_EQ(second.handle, handle);
  EXPECT_EQ(second.size, 900u);
  DeviceAllocatorStats stats = device->allocatorStats();
  EXPECT_EQ(stats.allocations, 2u);
  EXPECT_EQ(stats.cacheHits, 1u);
  EXPECT_EQ(stats.deviceAllocations, 1u);
  EXPECT_EQ(stats.allocatedBytes, 1024u);
  EXPECT_EQ(stats.cachedBytes, 0u);

  DeviceBuffer large = device->allocate(3 << 20); // a 3 MiB class
  EXPECT_EQ(device->allocatorStats().allocatedBytes, 1024u + (3 << 20));
  device->free(large);
  device->free(second);
  stats = device->allocatorStats();
  EXPECT_EQ(stats.allocatedBytes, 0u);
  EXPECT_EQ(stats.cachedBytes, 1024u + (3 << 20));
  EXPECT_EQ(stats.peakAllocatedBytes, 1024u + (3 << 20));
  device->emptyCache();
  stats = device->allocatorStats();
  EXPECT_EQ(stats.cachedBytes, 0u);
  EXPECT_EQ(stats.deviceBytes, 0u);
  EXPECT_EQ(stats.frees, 3u);
}

TEST_F(VulkanDeviceTest, StreamsOrderThroughEvents) {
  std::unique_ptr<Module> module = loadShader("mul_add");
  Kernel &kernel = module->getKernel("mul_add", mulAddLayout());
  std::unique_ptr<Stream> producer = device->createStream();
  std::unique_ptr<Stream> consumer = device->createStream();
  std::unique_ptr<Event> produced = device->createEvent();
  EXPECT_TRUE(produced->isComplete()); // never recorded

  const int n = 50000;
  std::vector<float> a = randomFloats(n, 7), b = randomFloats(n, 8);
  DeviceBuffer da = device->allocate(n * 4), db = device->allocate(n * 4),
               dc = device->allocate(n * 4), dd = device->allocate(n * 4);
  device->copyToDevice(da, 0, a.data(), n * 4, *producer);
  device->copyToDevice(db, 0, b.data(), n * 4, *producer);
  LaunchParams params;
  params.grid.x = (n + 63) / 64;
  params.block.x = 64;
  params.args = {KernelArg::ofBuffer(da), KernelArg::ofBuffer(db),
                 KernelArg::ofBuffer(dc), KernelArg::ofF32(1.5f),
                 KernelArg::ofI32(n)};
  device->launch(kernel, params, *producer);
  producer->record(*produced);
  consumer->wait(*produced);
  device->copyOnDevice(dd, 0, dc, 0, n * 4, *consumer);
  std::vector<float> d(n);
  device->copyToHost(d.data(), dd, 0, n * 4, *consumer);
  for (int i = 0; i < n; ++i)
    ASSERT_NEAR(d[i], a[i] * b[i] + 1.5f, 1e-6f * 3) << "element " << i;
  produced->synchronize();
  EXPECT_TRUE(produced->isComplete());
  device->synchronize();
  for (DeviceBuffer *buffer : {&da, &db, &dc, &dd})
    device->free(*buffer);
}

TEST_F(VulkanDeviceTest, ManyLaunchesWithoutSynchronizing) {
  // More operations than one batch holds: the stream submits on its own.
  std::unique_ptr<Module> module = loadShader("mul_add");
  Kernel &kernel = module->getKernel("mul_add", mulAddLayout());
  const int n = 256;
  std::vector<float> ones(n, 1.0f), zeros(n, 0.0f);
  DeviceBuffer da = upload(ones), dc = upload(zeros);
  LaunchParams params;
  params.grid.x = n / 64;
  params.block.x = 64;
  // c = 1 * c + 1, 600 times, in place.
  params.args = {KernelArg::ofBuffer(da), KernelArg::ofBuffer(dc),
                 KernelArg::ofBuffer(dc), KernelArg::ofF32(1.0f),
                 KernelArg::ofI32(n)};
  for (int i = 0; i < 600; ++i)
    device->launch(kernel, params, device->defaultStream());
  std::vector<float> c = download(dc, n);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(c[i], 600.0f) << "element " << i;
  device->free(da);
  device->free(dc);
}

/// The message of the DeviceError `run` throws; "" (and a failure) if none.
template <typename Run> std::string errorOf(Run run) {
  try {
    run();
  } catch (const DeviceError &error) {
    return error.what();
  }
  ADD_FAILURE() << "no DeviceError";
  return "";
}

TEST_F(VulkanDeviceTest, BadLaunchesAreClearErrors) {
  std::unique_ptr<Module> module = loadShader("mul_add");
  Kernel &kernel = module->getKernel("mul_add", mulAddLayout());
  DeviceBuffer buffer = device->allocate(1024);
  LaunchParams params;
  params.grid.x = 1;
  params.block.x = 64;
  params.args = {KernelArg::ofBuffer(buffer), KernelArg::ofBuffer(buffer),
                 KernelArg::ofBuffer(buffer), KernelArg::ofF32(1.0f)};
  std::string message =
      errorOf([&] { device->launch(kernel, params, device->defaultStream()); });
  EXPECT_EQ(message, "vulkan: launch of kernel 'mul_add': it takes 5 arguments "
                     "(buffer, buffer, buffer, f32, i32) but the launch "
                     "passes 4");

  params.args.push_back(KernelArg::ofF32(3.0f));
  message =
      errorOf([&] { device->launch(kernel, params, device->defaultStream()); });
  EXPECT_EQ(message, "vulkan: launch of kernel 'mul_add': argument 4 is i32 "
                     "but the launch passes f32");

  params.args.back() = KernelArg::ofI32(3);
  params.block.x = 128;
  message =
      errorOf([&] { device->launch(kernel, params, device->defaultStream()); });
  EXPECT_NE(message.find("block 128x1x1 differs from the shader's workgroup "
                         "size 64x1x1"),
            std::string::npos)
      << message;

  message = errorOf([&] { module->getKernel("mul_ad", mulAddLayout()); });
  EXPECT_EQ(message, "vulkan: the module has no entry point 'mul_ad' (it has: "
                     "mul_add)");

  const char text[] = "not spir-v at all, not at all";
  message = errorOf([&] {
    device->loadModule(ModuleFormat::Spirv, text, sizeof(text) - 1);
  });
  EXPECT_NE(message.find("vulkan: loadModule: not a SPIR-V binary"),
            std::string::npos)
      << message;
  message = errorOf(
      [&] { device->loadModule(ModuleFormat::Ptx, text, sizeof(text)); });
  EXPECT_EQ(message,
            "vulkan: cannot load a ptx module; Vulkan takes SPIR-V");

  DeviceBuffer stale = buffer;
  device->free(buffer);
  params.block.x = 64;
  params.args[0] = KernelArg::ofBuffer(stale);
  message =
      errorOf([&] { device->launch(kernel, params, device->defaultStream()); });
  EXPECT_NE(message.find("argument 0: the buffer is not live on this device"),
            std::string::npos)
      << message;
  message = errorOf([&] { device->free(stale); });
  EXPECT_NE(message.find("not live"), std::string::npos) << message;

  DeviceBuffer small = device->allocate(16);
  float values[8] = {};
  message = errorOf([&] {
    device->copyToDevice(small, 8, values, sizeof(values),
                         device->defaultStream());
  });
  EXPECT_EQ(message, "vulkan: copyToDevice: bytes [8, 40) are outside the "
                     "buffer of 16 bytes");
  device->free(small);
}

} // namespace
