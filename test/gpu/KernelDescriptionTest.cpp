//===- KernelDescriptionTest.cpp - kernel descriptions, JSON and launches --===//
//
// The one JSON writer/reader pair of kernel descriptions: round trips for
// Vulkan (placement recorded) and CUDA (order only), manifests written
// before the placement was recorded (the sequential layout, push constants
// or a scalar buffer), malformed descriptions; and gpu::Program launching a
// shader whose bindings and push-constant offsets are not the sequential
// ones, on lavapipe, from its description alone.
//
//===----------------------------------------------------------------------===//

#include "GpuTestSupport.h"

#include "ember/Runtime/Gpu/KernelDescription.h"
#include "ember/Runtime/Gpu/Program.h"
#include "ember/Runtime/ModelFile.h"

#include <gtest/gtest.h>

using namespace ember;
using namespace ember::gpu;

namespace {

KernelParameter buffer(int rank, const char *type) {
  KernelParameter param;
  param.kind = KernelParameter::Kind::Buffer;
  param.rank = rank;
  param.type = type;
  param.bfloat = std::string(type) == "bf16";
  return param;
}

KernelParameter scalar(KernelParameter::Kind kind, const char *type, int bits) {
  KernelParameter param;
  param.kind = kind;
  param.type = type;
  param.bits = bits;
  param.bfloat = std::string(type) == "bf16";
  return param;
}

KernelDescription roundTrip(const KernelDescription &kernel) {
  // Through text, as a manifest stores it.
  Json json = Json::parse(kernel.toJson().dump());
  return KernelDescription::fromJson(json, kernel.backend, kernel.format, "test");
}

void expectSameParams(const KernelDescription &a, const KernelDescription &b) {
  ASSERT_EQ(a.params.size(), b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    const KernelParameter &x = a.params[i], &y = b.params[i];
    EXPECT_EQ(x.kind, y.kind) << "parameter " << i;
    EXPECT_EQ(x.rank, y.rank) << "parameter " << i;
    EXPECT_EQ(x.type, y.type) << "parameter " << i;
    EXPECT_EQ(x.bits, y.bits) << "parameter " << i;
    EXPECT_EQ(x.bfloat, y.bfloat) << "parameter " << i;
    EXPECT_EQ(x.vulkanBinding, y.vulkanBinding) << "parameter " << i;
    EXPECT_EQ(x.vulkanOffset, y.vulkanOffset) << "parameter " << i;
  }
}

std::string errorOf(const std::string &text, Backend backend = Backend::Vulkan) {
  try {
    KernelDescription::fromJson(Json::parse(text), backend, ModuleFormat::Spirv,
                                "m.ember: artifact 'artifact.vulkan'");
  } catch (const ModelError &error) {
    return error.what();
  }
  return "";
}

TEST(KernelDescriptionTest, VulkanPlacementRoundTrips) {
  KernelDescription kernel;
  kernel.module = "m_kernel_0";
  kernel.name = "m_kernel";
  kernel.backend = Backend::Vulkan;
  kernel.block = {16, 16, 1};
  kernel.params = {buffer(1, "f32"), scalar(KernelParameter::Kind::Index, "index", 64),
                   buffer(2, "bf16"), scalar(KernelParameter::Kind::Float, "bf16", 16),
                   scalar(KernelParameter::Kind::Int, "i32", 32)};
  // Deliberately not the sequential placement.
  kernel.params[0].vulkanBinding = {0, 3};
  kernel.params[2].vulkanBinding = {1, 0};
  kernel.params[1].vulkanOffset = 16;
  kernel.params[3].vulkanOffset = 0;
  kernel.params[4].vulkanOffset = 8;
  kernel.scalarBuffer = VulkanBinding{0, 7};

  KernelDescription back = roundTrip(kernel);
  EXPECT_EQ(back.module, kernel.module);
  EXPECT_EQ(back.name, kernel.name);
  EXPECT_EQ(back.block, kernel.block);
  EXPECT_EQ(back.backend, Backend::Vulkan);
  ASSERT_TRUE(back.scalarBuffer.has_value());
  EXPECT_EQ(*back.scalarBuffer, (VulkanBinding{0, 7}));
  expectSameParams(kernel, back);
  EXPECT_TRUE(back.binary.empty());

  // Keys an older reader needs are all written, with the manifest's
  // spelling of a buffer.
  Json json = kernel.toJson();
  const Json &first = json.at("params", "test")[0];
  EXPECT_EQ(first.at("kind", "test").asString("kind"), "buffer");
  EXPECT_EQ(first.at("bits", "test").asInt("bits"), 64);
  EXPECT_EQ(first.at("rank", "test").asInt("rank"), 1);
  EXPECT_TRUE(json.at("params", "test")[3].at("bfloat", "test").asBool("bfloat"));
}

TEST(KernelDescriptionTest, CudaKernelsRecordTheOrderOnly) {
  KernelDescription kernel;
  kernel.module = "k_0";
  kernel.name = "k";
  kernel.backend = Backend::Cuda;
  kernel.format = ModuleFormat::Ptx;
  kernel.params = {buffer(1, "f64"), scalar(KernelParameter::Kind::Float, "f64", 64),
                   scalar(KernelParameter::Kind::Int, "i64", 64)};
  Json json = kernel.toJson();
  EXPECT_EQ(json.dump().find("binding"), std::string::npos) << json.dump();
  EXPECT_EQ(json.dump().find("offset"), std::string::npos) << json.dump();
  KernelDescription back = roundTrip(kernel);
  EXPECT_EQ(back.format, ModuleFormat::Ptx);
  EXPECT_FALSE(back.scalarBuffer.has_value());
  expectSameParams(kernel, back);
}

TEST(KernelDescriptionTest, OldVulkanManifestsGetTheSequentialLayout) {
  // A kernel entry as packGpuArtifact wrote it before the placement was
  // recorded (the section offset and size beside it are DeviceModel's).
  const char *old = R"({"module": "e_kernel_0", "name": "e_kernel", "offset": 0,
      "size": 1204, "block": [256, 1, 1], "params": [
      {"kind": "buffer", "bits": 64, "rank": 1}, {"kind": "index", "bits": 64, "rank": 0},
      {"kind": "buffer", "bits": 64, "rank": 1},
      {"kind": "float", "bits": 16, "rank": 0, "bfloat": true}]})";
  KernelDescription kernel = KernelDescription::fromJson(
      Json::parse(old), Backend::Vulkan, ModuleFormat::Spirv, "test");
  ASSERT_EQ(kernel.params.size(), 4u);
  EXPECT_EQ(kernel.params[0].vulkanBinding, (VulkanBinding{0, 0}));
  EXPECT_EQ(kernel.params[2].vulkanBinding, (VulkanBinding{0, 1}));
  EXPECT_EQ(kernel.params[1].vulkanOffset, 0u);
  EXPECT_EQ(kernel.params[3].vulkanOffset, 8u);
  EXPECT_TRUE(kernel.params[3].bfloat);
  EXPECT_EQ(kernel.params[3].type, "");
  EXPECT_FALSE(kernel.scalarBuffer.has_value());
  EXPECT_EQ(kernel.block, (std::array<int64_t, 3>{256, 1, 1}));
}

TEST(KernelDescriptionTest, OldVulkanManifestsWithManyScalarsUseAScalarBuffer) {
  std::string params = R"({"kind": "buffer", "bits": 64, "rank": 1})";
  for (size_t i = 0; i <= kMaxPushConstantWords; ++i)
    params += R"(, {"kind": "index", "bits": 64, "rank": 0})";
  params += R"(, {"kind": "buffer", "bits": 64, "rank": 1})";
  KernelDescription kernel = KernelDescription::fromJson(
      Json::parse(R"({"module": "m", "name": "k", "params": [)" + params + "]}"),
      Backend::Vulkan, ModuleFormat::Spirv, "test");
  ASSERT_TRUE(kernel.scalarBuffer.has_value());
  EXPECT_EQ(*kernel.scalarBuffer, (VulkanBinding{0, 2}));
  EXPECT_EQ(kernel.params.back().vulkanBinding, (VulkanBinding{0, 1}));
  for (size_t i = 1; i + 1 < kernel.params.size(); ++i)
    EXPECT_EQ(kernel.params[i].vulkanOffset, 8 * (i - 1));
}

TEST(KernelDescriptionTest, MalformedDescriptionsAreRefused) {
  EXPECT_EQ(errorOf(R"({"module": "m", "name": "k", "params": [{"kind": "memref", "bits": 64, "rank": 1}]})"),
            "m.ember: artifact 'artifact.vulkan': unknown kernel parameter kind 'memref'");
  EXPECT_EQ(errorOf(R"({"module": "m", "name": "k", "params": [{"bits": 64, "rank": 1}]})"),
            "manifest: missing 'kind' in a parameter");
  EXPECT_NE(errorOf(R"({"module": "m", "name": "k", "params": [
                {"kind": "buffer", "bits": 64, "rank": 1, "set": 0, "binding": 0},
                {"kind": "int", "bits": 32, "rank": 0}]})")
                .find("places some of its parameters and not others"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"module": "m", "name": "k", "params": [
                {"kind": "int", "bits": 32, "rank": 0, "offset": 4}]})")
                .find("not a multiple of 8"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"module": "m", "name": "k", "params": [
                {"kind": "int", "bits": 8, "rank": 0}]})")
                .find("(expected 16, 32 or 64)"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"module": "m", "name": "k", "params": [
                {"kind": "buffer", "bits": 64, "rank": 100000}]})", Backend::Cuda)
                .find("rank 100000 is outside [0, 32]"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"module": "m", "name": "k", "block": [1, 1], "params": []})")
                .find("a block of 2 extents"),
            std::string::npos);
}

TEST(KernelDescriptionTest, BinaryFormats) {
  EXPECT_EQ(parseModuleFormat("spirv", "w"), ModuleFormat::Spirv);
  EXPECT_EQ(parseModuleFormat("ptx", "w"), ModuleFormat::Ptx);
  EXPECT_EQ(parseModuleFormat("hsaco", "w"), ModuleFormat::Hsaco);
  EXPECT_THROW(parseModuleFormat("cubin", "w"), ModelError);
  try {
    parseModuleFormat("elf", "w");
  } catch (const ModelError &error) {
    EXPECT_STREQ(error.what(), "w: unknown binary format 'elf'");
  }
}

class KernelDescriptionVulkanTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string reason = test::skipReason(Backend::Vulkan);
    if (!reason.empty())
      GTEST_SKIP() << "skipped: " << reason;
    device = openDevice(Backend::Vulkan);
  }
  std::unique_ptr<Device> device;
};

/// placed_add.spvasm: parameters (src, dst, n, bias); dst at binding 0, src
/// at binding 1, bias's word at push-constant offset 0, n's at 8.
KernelDescription placedAdd() {
  std::vector<char> binary = test::readRunfile("test/gpu/placed_add.spv");
  KernelDescription kernel;
  kernel.module = "placed";
  kernel.name = "placed_add";
  kernel.backend = Backend::Vulkan;
  kernel.binary.assign(binary.begin(), binary.end());
  kernel.block = {64, 1, 1};
  kernel.params = {buffer(1, "f32"), buffer(1, "f32"),
                   scalar(KernelParameter::Kind::Index, "index", 64),
                   scalar(KernelParameter::Kind::Int, "i32", 32)};
  kernel.params[0].vulkanBinding = {0, 1};
  kernel.params[1].vulkanBinding = {0, 0};
  kernel.params[2].vulkanOffset = 8;
  kernel.params[3].vulkanOffset = 0;
  return kernel;
}

TEST_F(KernelDescriptionVulkanTest, ProgramLaunchesAtTheRecordedPlacement) {
  const int64_t n = 1000, bias = 3;
  // Value 0: src, 1: dst; then grid, block, n and bias.
  std::string plan = R"({"functions": [{"name": "f", "arguments": 2, "body": [
      {"op": "int", "results": [2], "value": 1},
      {"op": "int", "results": [3], "value": 16},
      {"op": "int", "results": [4], "value": 64},
      {"op": "int", "results": [5], "value": )" + std::to_string(n) + R"(},
      {"op": "int", "results": [6], "value": )" + std::to_string(bias) + R"(},
      {"op": "launch", "module": "placed", "operands": [3, 2, 2, 4, 2, 2, 0, 1, 5, 6]}]}]})";
  // Through JSON, as a model file carries it.
  KernelDescription described = placedAdd();
  KernelDescription kernel = KernelDescription::fromJson(
      Json::parse(described.toJson().dump()), Backend::Vulkan, ModuleFormat::Spirv, "test");
  kernel.binary = described.binary;
  Program program(*device, {kernel}, plan);

  std::vector<float> src = test::randomFloats(n, 5);
  Stream &stream = device->defaultStream();
  ProgramBuffer in, out;
  in.shape = out.shape = {n};
  in.buffer = device->allocate(n * 4);
  out.buffer = device->allocate(n * 4);
  device->copyToDevice(in.buffer, 0, src.data(), n * 4, stream);
  program.run("f", {in, out}, stream);
  std::vector<float> got(n);
  device->copyToHost(got.data(), out.buffer, 0, n * 4, stream);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(got[i], src[i] + float(bias)) << "element " << i;
  device->free(in.buffer);
  device->free(out.buffer);
}

TEST_F(KernelDescriptionVulkanTest, ProgramRefusesAKernelOfAnotherBackend) {
  KernelDescription kernel = placedAdd();
  kernel.backend = Backend::LevelZero;
  try {
    Program program(*device, {kernel}, R"({"functions": []})");
    ADD_FAILURE() << "loaded a level_zero kernel on vulkan";
  } catch (const DeviceError &error) {
    EXPECT_STREQ(error.what(),
                 "vulkan: kernel 'placed_add' is described for level_zero, not vulkan");
  }
}

} // namespace
