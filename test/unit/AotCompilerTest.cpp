//===- AotCompilerTest.cpp - AOT shared objects against the JIT ------------===//
//
// Packs an MLP into a .ember image, compiles it ahead of time, loads it
// through ember::Model (native code, no LLVM on that path) and compares with
// the JIT on random inputs for several batch sizes. Also checks that the
// shared object needs nothing from Ember at link time (runtime slots).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/AotCompiler.h"
#include "ember/Compiler/CpuCompiler.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ModelFile.h"
#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <unistd.h>

namespace {

constexpr const char *kProgram = R"(
func.func @forward(%x: tensor<?x16xf32>, %w1: tensor<16x32xf32>,
                   %b1: tensor<32xf32>, %w2: tensor<32x5xf32>)
    -> (tensor<?x5xf32>, tensor<?x32xf32>) {
  %0 = ember.matmul %x, %w1 : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %1 = ember.add %0, %b1 : tensor<?x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %2 = ember.gelu %1 : tensor<?x32xf32>
  %3 = ember.matmul %2, %w2 : tensor<?x32xf32>, tensor<32x5xf32> -> tensor<?x5xf32>
  %4 = ember.log_softmax %3 dim = 1 : tensor<?x5xf32>
  return %4, %2 : tensor<?x5xf32>, tensor<?x32xf32>
}
)";

/// Everything the tests share: the program, its manifest and weights.
class AotCompilerTest : public ::testing::Test {
protected:
  void SetUp() override {
    ember::registerCompilerDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
    module = mlir::parseSourceString<mlir::ModuleOp>(kProgram, context.get());
    ASSERT_TRUE(module);
    llvm::raw_string_ostream os(program);
    ASSERT_TRUE(mlir::succeeded(mlir::writeBytecodeToFile(*module, os)));

    using ember::DimExpr;
    ember::EntrySpec entry;
    entry.name = "forward";
    entry.inputs.push_back({"x", ember::ElementType::Float32,
                            {DimExpr::symbol("batch"), DimExpr::fixed(16)}});
    entry.outputs.push_back({"logits", ember::ElementType::Float32,
                             {DimExpr::symbol("batch"), DimExpr::fixed(5)}});
    entry.outputs.push_back({"hidden", ember::ElementType::Float32,
                             {DimExpr::symbol("batch"), DimExpr::fixed(32)}});
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
    for (auto [name, shape] :
         std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"w1", {16, 32}}, {"b1", {32}}, {"w2", {32, 5}}}) {
      ember::WeightSpec weight;
      weight.name = name;
      weight.dtype = ember::ElementType::Float32;
      weight.shape = shape;
      int64_t count = 1;
      for (int64_t dim : shape)
        count *= dim;
      weight.offset = (weights.size() + 63) / 64 * 64;
      weight.size = count * 4;
      weights.resize(weight.offset + weight.size);
      float *data = reinterpret_cast<float *>(weights.data() + weight.offset);
      for (int64_t i = 0; i < count; ++i)
        data[i] = uniform(rng);
      entry.weights.push_back(name);
      manifest.weights.push_back(weight);
    }
    manifest.producer = "AotCompilerTest";
    manifest.entries.push_back(entry);
  }

  /// The model image, with `artifact` when given.
  std::shared_ptr<ember::ModelFile> image(const ember::AotArtifact *artifact) {
    ember::Manifest copy = manifest;
    std::vector<ember::SectionData> sections;
    if (artifact) {
      copy.artifacts.push_back(artifact->spec);
      sections.push_back({ember::SectionKind::Artifact, "artifact.cpu",
                          artifact->bytes});
    }
    std::string json = ember::serializeManifest(copy);
    sections.push_back({ember::SectionKind::Manifest, "manifest",
                        std::vector<uint8_t>(json.begin(), json.end())});
    sections.push_back({ember::SectionKind::Program, "program",
                        std::vector<uint8_t>(program.begin(), program.end())});
    sections.push_back({ember::SectionKind::Weights, "weights", weights});
    std::vector<uint8_t> bytes = ember::buildModelImage(sections);
    return ember::ModelFile::fromBytes(bytes.data(), bytes.size(), "test.ember");
  }

  /// Compiles a fresh copy of the program ahead of time.
  ember::AotArtifact compile(ember::AotOptions options = {}) {
    // What ember-compile records from the file: the program it compiles
    // and the manifest's weight order.
    options.programChecksum = ember::xxhash64(program.data(), program.size());
    for (const ember::EntrySpec &entry : manifest.entries)
      options.entryWeights[entry.name] = entry.weights;
    ember::AotArtifact artifact;
    mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
    std::string error;
    EXPECT_TRUE(ember::compileCpuArtifact(*copy, {"forward"}, options,
                                          &artifact, &error))
        << error;
    return artifact;
  }

  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string program;
  ember::Manifest manifest;
  std::vector<uint8_t> weights;
};

TEST_F(AotCompilerTest, ArtifactSpecDescribesTheSharedObject) {
  ember::AotArtifact artifact = compile();
  ASSERT_FALSE(artifact.bytes.empty());
  EXPECT_EQ(0, std::memcmp(artifact.bytes.data(), "\x7f" "ELF", 4));
  const ember::ArtifactSpec &spec = artifact.spec;
  EXPECT_EQ(spec.target, "cpu");
  EXPECT_EQ(spec.format, "elf-shared-object");
  EXPECT_EQ(spec.section, "artifact.cpu");
  EXPECT_EQ(spec.checksum,
            ember::checksumHex(ember::xxhash64(artifact.bytes.data(),
                                               artifact.bytes.size())));
  EXPECT_NE(spec.triple.find("x86_64"), std::string::npos);
  EXPECT_NE(spec.cpu, "host");
  EXPECT_EQ(spec.entrySymbols.at("forward"),
            "_mlir__mlir_ciface_ember_entry_forward");
  for (const std::string &feature : spec.features)
    EXPECT_TRUE(ember::hostSupportsCpuFeature(feature)) << feature;
  auto has = [&](const char *slot) {
    return std::find(spec.runtimeSlots.begin(), spec.runtimeSlots.end(),
                     slot) != spec.runtimeSlots.end();
  };
  EXPECT_TRUE(has("ember_cpu_sgemm_into")); // C = A * B: the zero fill is gone
}

TEST_F(AotCompilerTest, SharedObjectHasNoUndefinedEmberSymbols) {
  ember::AotArtifact artifact = compile();
  char path[] = "/tmp/ember-aot-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, artifact.bytes.data(), artifact.bytes.size()),
            static_cast<ssize_t>(artifact.bytes.size()));
  close(fd);
  std::string undefined, defined;
  for (auto [flag, text] : {std::pair{"--undefined-only", &undefined},
                            std::pair{"--defined-only", &defined}}) {
    std::string command =
        std::string("/usr/lib/llvm-22/bin/llvm-nm -D ") + flag + " " + path;
    FILE *pipe = popen(command.c_str(), "r");
    ASSERT_TRUE(pipe);
    char line[512];
    while (fgets(line, sizeof(line), pipe))
      *text += line;
    EXPECT_EQ(pclose(pipe), 0);
  }
  unlink(path);
  for (const char *name : {"ember_", "memrefCopy", "_mlir_memref_to_llvm"})
    EXPECT_EQ(undefined.find(name), std::string::npos)
        << name << " is undefined in:\n" << undefined;
  EXPECT_NE(defined.find("_mlir__mlir_ciface_ember_entry_forward"),
            std::string::npos);
  EXPECT_NE(defined.find("__ember_rt_ember_cpu_sgemm"), std::string::npos);
}

TEST_F(AotCompilerTest, NativeMatchesJitForSeveralBatchSizes) {
  ember::AotArtifact artifact = compile();
  ember::LoadOptions nativeOnly;
  nativeOnly.allowJit = false;
  nativeOnly.allowUnsignedNative = true; // built here, so trusted
  ember::Model native = ember::Model::fromFile(image(&artifact), nativeOnly);
  EXPECT_EQ(native.executableKind(), "cpu-native");
  ember::LoadOptions jitOnly;
  jitOnly.allowNative = false;
  ember::Model jit = ember::Model::fromFile(image(nullptr), jitOnly);
  EXPECT_EQ(jit.executableKind(), "jit");

  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (int64_t batch : {1, 3, 17}) {
    ember::HostTensor x(ember::ElementType::Float32, {batch, 16});
    for (int64_t i = 0; i < x.numel(); ++i)
      x.data<float>()[i] = normal(rng);
    std::vector<ember::HostTensor> a = native.forward({x});
    std::vector<ember::HostTensor> b = jit.forward({x});
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    for (size_t o = 0; o < a.size(); ++o) {
      ASSERT_EQ(a[o].shape(), b[o].shape());
      EXPECT_EQ(a[o].dim(0), batch);
      for (int64_t i = 0; i < a[o].numel(); ++i)
        ASSERT_NEAR(a[o].data<float>()[i], b[o].data<float>()[i],
                    1e-5 + 1e-5 * std::fabs(b[o].data<float>()[i]))
            << "batch " << batch << " output " << o << " element " << i;
    }
  }
}

TEST_F(AotCompilerTest, OlderCpuRecordsItsFeaturesAndRuns) {
  ember::AotOptions options;
  options.cpu = "x86-64-v3";
  ember::AotArtifact artifact = compile(options);
  EXPECT_EQ(artifact.spec.cpu, "x86-64-v3");
  EXPECT_EQ(std::find(artifact.spec.features.begin(),
                      artifact.spec.features.end(), "avx512f"),
            artifact.spec.features.end());
  EXPECT_NE(std::find(artifact.spec.features.begin(),
                      artifact.spec.features.end(), "avx2"),
            artifact.spec.features.end());
  ember::LoadOptions nativeOnly;
  nativeOnly.allowJit = false;
  nativeOnly.allowUnsignedNative = true; // built here, so trusted
  ember::Model native = ember::Model::fromFile(image(&artifact), nativeOnly);
  ember::HostTensor x = ember::HostTensor::zeros(ember::ElementType::Float32,
                                                 {2, 16});
  std::vector<ember::HostTensor> y = native.forward({x});
  // log_softmax rows: the exponentials sum to 1.
  double sum = 0;
  for (int i = 0; i < 5; ++i)
    sum += std::exp(y[0].data<float>()[i]);
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST_F(AotCompilerTest, UnknownCpuIsAnError) {
  ember::AotOptions options;
  options.cpu = "not-a-cpu";
  ember::AotArtifact artifact;
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
  EXPECT_FALSE(ember::compileCpuArtifact(*copy, {"forward"}, options,
                                         &artifact, &error));
  EXPECT_NE(error.find("unknown CPU 'not-a-cpu'"), std::string::npos) << error;
}

TEST_F(AotCompilerTest, MissingLinkerIsNamed) {
  ember::AotOptions options;
  options.linker = "/nonexistent/ld.lld";
  ember::AotArtifact artifact;
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
  EXPECT_FALSE(ember::compileCpuArtifact(*copy, {"forward"}, options,
                                         &artifact, &error));
  EXPECT_NE(error.find("/nonexistent/ld.lld"), std::string::npos) << error;
}

TEST(RuntimeSlots, JitFillsTheSlotsItself) {
  // The same slot-calling code runs in-process: compileForCpu writes each
  // runtime function's address into its slot.
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(kProgram, &context);
  ASSERT_TRUE(module);
  ember::CpuCompileOptions options;
  options.runtimeSlots = true;
  std::string error;
  auto compiled = ember::compileForCpu(*module, options, &error);
  ASSERT_TRUE(compiled) << error;
  EXPECT_FALSE(compiled->target().runtimeSlots.empty());
  std::vector<float> x(3 * 16, 0.25f), w1(16 * 32, 0.01f), b1(32, 0.0f),
      w2(32 * 5, 0.02f), logits(3 * 5), hidden(3 * 32);
  int64_t xs[] = {3, 16}, w1s[] = {16, 32}, b1s[] = {32}, w2s[] = {32, 5},
          ls[] = {3, 5}, hs[] = {3, 32};
  std::vector<ember::BufferView> views = {
      {x.data(), xs, 2},  {w1.data(), w1s, 2},     {b1.data(), b1s, 1},
      {w2.data(), w2s, 2}, {logits.data(), ls, 2}, {hidden.data(), hs, 2}};
  ASSERT_TRUE(compiled->invoke("forward", views, &error)) << error;
  // Equal weights: every class equally likely.
  EXPECT_NEAR(logits[0], std::log(0.2f), 1e-5);
}

} // namespace
