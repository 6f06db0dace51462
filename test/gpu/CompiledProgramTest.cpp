//===- CompiledProgramTest.cpp - compiled ember programs on a real device --===//
//
// The whole GPU path on Vulkan (Mesa's lavapipe here): ember programs are
// compiled by the GPU back end (compileForGpu, target "vulkan"), their
// kernels loaded through the device layer and their launch plan run by
// gpu::Program; the outputs are compared with the CPU JIT's on fresh random
// inputs at several sizes (the dims are dynamic: one compile serves all).
//
//===----------------------------------------------------------------------===//

#include "GpuTestSupport.h"

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/GpuCompiler.h"
#include "ember/Runtime/Gpu/Program.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace ember;
using namespace ember::gpu;

namespace {

/// A dense f32 or f64 tensor on the host.
struct HostArray {
  std::vector<int64_t> shape;
  bool f64 = false;
  std::vector<double> values; // f64 storage for both; converted on copies
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  std::vector<char> bytes() const {
    std::vector<char> out(numel() * (f64 ? 8 : 4));
    for (int64_t i = 0; i < numel(); ++i) {
      if (f64) {
        std::memcpy(out.data() + 8 * i, &values[i], 8);
      } else {
        float f = static_cast<float>(values[i]);
        std::memcpy(out.data() + 4 * i, &f, 4);
      }
    }
    return out;
  }
  void setBytes(const std::vector<char> &in) {
    values.resize(numel());
    for (int64_t i = 0; i < numel(); ++i) {
      if (f64) {
        std::memcpy(&values[i], in.data() + 8 * i, 8);
      } else {
        float f;
        std::memcpy(&f, in.data() + 4 * i, 4);
        values[i] = f;
      }
    }
  }
};

HostArray randomArray(std::vector<int64_t> shape, bool f64, std::mt19937 &rng,
                      double low = -2, double high = 2) {
  HostArray a;
  a.shape = std::move(shape);
  a.f64 = f64;
  std::uniform_real_distribution<double> uniform(low, high);
  for (int64_t i = 0; i < a.numel(); ++i)
    a.values.push_back(f64 ? uniform(rng) : static_cast<float>(uniform(rng)));
  return a;
}

/// Compiles `source` for the CPU and for Vulkan, runs entry `name` on both
/// with `inputs`, and compares every output (shapes in `outputShapes`).
class CompiledProgram {
public:
  CompiledProgram(const std::string &source, const std::string &name) : name(name) {
    mlir::DialectRegistry registry;
    registerGpuCompilerDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
    context->disableMultithreading();
    auto cpuModule = mlir::parseSourceString<mlir::ModuleOp>(source, context.get());
    auto gpuModule = mlir::parseSourceString<mlir::ModuleOp>(source, context.get());
    EXPECT_TRUE(cpuModule && gpuModule);
    std::string error;
    cpu = compileForCpu(*cpuModule, CpuCompileOptions{}, &error);
    EXPECT_TRUE(cpu) << error;
    GpuTarget target;
    EXPECT_TRUE(GpuTarget::parse("vulkan", &target, &error));
    EXPECT_TRUE(compileForGpu(*gpuModule, target, &program, &error)) << error;
  }

  void check(std::vector<HostArray> inputs, std::vector<HostArray> outputs, Device &device,
             double tolerance) {
    // CPU reference.
    std::vector<std::vector<char>> cpuBytes;
    std::vector<BufferView> views;
    for (HostArray &a : inputs)
      cpuBytes.push_back(a.bytes());
    for (HostArray &a : outputs)
      cpuBytes.push_back(std::vector<char>(a.numel() * (a.f64 ? 8 : 4)));
    std::vector<HostArray *> all;
    for (HostArray &a : inputs)
      all.push_back(&a);
    for (HostArray &a : outputs)
      all.push_back(&a);
    for (size_t i = 0; i < all.size(); ++i)
      views.push_back({cpuBytes[i].data(), all[i]->shape.data(),
                       static_cast<int64_t>(all[i]->shape.size())});
    std::string error;
    ASSERT_TRUE(cpu->invoke(name, views, &error)) << error;

    // The GPU.
    Program gpuProgram(device, program.kernels, program.plan);
    Stream &stream = device.defaultStream();
    std::vector<ProgramBuffer> buffers;
    for (size_t i = 0; i < all.size(); ++i) {
      ProgramBuffer b;
      b.shape = all[i]->shape;
      b.elementBytes = all[i]->f64 ? 8 : 4;
      b.buffer = device.allocate(std::max<size_t>(1, cpuBytes[i].size()));
      if (i < inputs.size() && !cpuBytes[i].empty())
        device.copyToDevice(b.buffer, 0, cpuBytes[i].data(), cpuBytes[i].size(), stream);
      buffers.push_back(b);
    }
    gpuProgram.run("ember_entry_" + name, buffers, stream);
    for (size_t o = 0; o < outputs.size(); ++o) {
      size_t i = inputs.size() + o;
      std::vector<char> got(cpuBytes[i].size());
      if (!got.empty())
        device.copyToHost(got.data(), buffers[i].buffer, 0, got.size(), stream);
      HostArray expected = outputs[o], actual = outputs[o];
      expected.setBytes(cpuBytes[i]);
      actual.setBytes(got);
      int reported = 0;
      for (int64_t k = 0; k < expected.numel(); ++k) {
        double e = expected.values[k], a = actual.values[k];
        if (!(std::fabs(a - e) <= tolerance * (1 + std::fabs(e))) && reported++ < 5)
          ADD_FAILURE() << name << " output " << o << " element " << k << ": gpu " << a
                        << ", cpu " << e;
      }
    }
    for (ProgramBuffer &b : buffers)
      device.free(b.buffer);
  }

  std::string name;
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<CpuExecutable> cpu;
  GpuProgram program;
};

std::unique_ptr<Device> vulkanOrSkip(std::string *why) {
  *why = test::skipReason(Backend::Vulkan);
  if (!why->empty())
    return nullptr;
  return openDevice(Backend::Vulkan);
}

const char *kMlp = R"(
func.func @forward(%x: tensor<?x64xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>,
                   %d: tensor<?xf64>) -> (tensor<?x32xf32>, tensor<?xf32>, tensor<?xf64>) {
  %0 = ember.matmul %x, %w : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  %1 = ember.add %0, %b : tensor<?x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %2 = ember.gelu %1 : tensor<?x32xf32>
  %3 = ember.softmax %2 dim = 1 : tensor<?x32xf32>
  %4 = ember.sum %3 dims = [1] : tensor<?x32xf32> -> tensor<?xf32>
  %5 = ember.mul %d, %d : tensor<?xf64>, tensor<?xf64> -> tensor<?xf64>
  return %3, %4, %5 : tensor<?x32xf32>, tensor<?xf32>, tensor<?xf64>
}
)";

const char *kElementwise = R"(
func.func @chain(%a: tensor<?x?xf32>, %b: tensor<1x?xf32>, %c: tensor<?x1xf32>) -> tensor<?x?xf32> {
  %0 = ember.mul %a, %b : tensor<?x?xf32>, tensor<1x?xf32> -> tensor<?x?xf32>
  %1 = ember.sub %0, %c : tensor<?x?xf32>, tensor<?x1xf32> -> tensor<?x?xf32>
  %2 = ember.sigmoid %1 : tensor<?x?xf32>
  %3 = ember.tanh %a : tensor<?x?xf32>
  %4 = ember.exp %3 : tensor<?x?xf32>
  %5 = ember.add %2, %4 : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %5 : tensor<?x?xf32>
}
)";

const char *kReductions = R"(
func.func @reduce(%x: tensor<?x?xf32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x?xf32>) {
  %0 = ember.sum %x dims = [0] : tensor<?x?xf32> -> tensor<?xf32>
  %1 = ember.max %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  %2 = ember.transpose %x perm = [1, 0] : tensor<?x?xf32> -> tensor<?x?xf32>
  %3 = ember.matmul %2, %x : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %0, %1, %3 : tensor<?xf32>, tensor<?xf32>, tensor<?x?xf32>
}
)";

// A GRU layer's time loop: a "for" of the launch plan around the step's
// kernels, the step index a run-time value.
const char *kGru = R"(
func.func @gru(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %w: tensor<?x?xf32>, %b: tensor<?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf32> bias_hh %b : tensor<?xf32> cell = 3 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
)";

} // namespace

TEST(CompiledProgramOnVulkan, RecurrentLoopMatchesTheCpuForEveryLength) {
  std::string why;
  auto device = vulkanOrSkip(&why);
  if (!device)
    GTEST_SKIP() << why;
  CompiledProgram program(kGru, "gru");
  EXPECT_NE(program.program.plan.find("\"op\": \"for\""), std::string::npos);
  std::mt19937 rng(10);
  const int64_t batch = 3, hidden = 5;
  for (int64_t steps : {1, 7, 40}) {
    std::vector<HostArray> inputs = {randomArray({steps, batch, 3 * hidden}, false, rng),
                                     randomArray({batch, hidden}, false, rng),
                                     randomArray({3 * hidden, hidden}, false, rng, -0.5, 0.5),
                                     randomArray({3 * hidden}, false, rng)};
    HostArray workspace; // per row: h, then the 4 saved gate values
    workspace.shape = {steps + 1, batch, 5 * hidden};
    program.check(inputs, {workspace}, *device, 1e-5);
  }
}

TEST(CompiledProgramOnVulkan, MlpMatchesTheCpu) {
  std::string why;
  auto device = vulkanOrSkip(&why);
  if (!device)
    GTEST_SKIP() << why;
  CompiledProgram program(kMlp, "forward");
  std::mt19937 rng(7);
  for (int64_t batch : {1, 5, 300}) {
    std::vector<HostArray> inputs = {randomArray({batch, 64}, false, rng),
                                     randomArray({64, 32}, false, rng, -0.3, 0.3),
                                     randomArray({32}, false, rng),
                                     randomArray({batch}, true, rng)};
    HostArray out0, out1, out2;
    out0.shape = {batch, 32};
    out1.shape = {batch};
    out2.shape = {batch};
    out2.f64 = true;
    program.check(inputs, {out0, out1, out2}, *device, 1e-4);
  }
}

TEST(CompiledProgramOnVulkan, BroadcastingElementwiseChainMatchesTheCpu) {
  std::string why;
  auto device = vulkanOrSkip(&why);
  if (!device)
    GTEST_SKIP() << why;
  CompiledProgram program(kElementwise, "chain");
  std::mt19937 rng(8);
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{3, 5}, {17, 40}, {64, 1000}}) {
    std::vector<HostArray> inputs = {randomArray({rows, cols}, false, rng),
                                     randomArray({1, cols}, false, rng),
                                     randomArray({rows, 1}, false, rng)};
    HostArray out;
    out.shape = {rows, cols};
    program.check(inputs, {out}, *device, 1e-5);
  }
}

TEST(CompiledProgramOnVulkan, ReductionsAndTransposedMatmulMatchTheCpu) {
  std::string why;
  auto device = vulkanOrSkip(&why);
  if (!device)
    GTEST_SKIP() << why;
  CompiledProgram program(kReductions, "reduce");
  std::mt19937 rng(9);
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{2, 3}, {33, 20}, {300, 17}}) {
    std::vector<HostArray> inputs = {randomArray({rows, cols}, false, rng)};
    HostArray sum0, max1, gram;
    sum0.shape = {cols};
    max1.shape = {rows};
    gram.shape = {cols, cols};
    program.check(inputs, {sum0, max1, gram}, *device, 1e-4);
  }
}

TEST(CompiledProgramOnVulkan, RejectsAMalformedPlan) {
  std::string why;
  auto device = vulkanOrSkip(&why);
  if (!device)
    GTEST_SKIP() << why;
  EXPECT_THROW(Program(*device, {}, "{\"functions\": [{\"name\": \"f\", \"arguments\": 1, "
                                    "\"body\": [{\"op\": \"launch\", \"module\": \"nope\"}]}]}"),
               DeviceError);
  EXPECT_THROW(Program(*device, {}, "not json"), DeviceError);
  // A loop whose carried values and yields do not agree.
  EXPECT_THROW(Program(*device, {}, "{\"functions\": [{\"name\": \"f\", \"arguments\": 0, "
                                    "\"body\": [{\"op\": \"for\", \"results\": [], "
                                    "\"operands\": [0, 1, 2, 3], \"arguments\": [4, 5], "
                                    "\"yield\": [], \"body\": []}]}]}"),
               DeviceError);
  Program empty(*device, {}, "{\"functions\": [{\"name\": \"f\", \"arguments\": 1, \"body\": []}]}");
  EXPECT_THROW(empty.run("g", {}, device->defaultStream()), DeviceError);
  EXPECT_THROW(empty.run("f", {}, device->defaultStream()), DeviceError);
}
