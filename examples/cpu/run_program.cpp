//===- run_program.cpp - compile an ember program and run it on random data -===//
//
// The demo's first part: parses a module of ember functions, JIT-compiles it
// for this CPU, and calls each public function on random f32 inputs, printing
// compile time, the first output values and the run time. Every dynamic dim
// (`?`) takes the size given by --size (default 8), in inputs and outputs;
// several --size flags run the same compiled code at each size.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/SourceMgr.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Buffer {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// A buffer for `type` with every dynamic dim set to `size`; f32 only.
bool makeBuffer(mlir::Type type, int64_t size, Buffer &buffer) {
  auto tensor = mlir::dyn_cast<mlir::RankedTensorType>(type);
  if (!tensor || !tensor.getElementType().isF32())
    return false;
  int64_t count = 1;
  for (int64_t dim : tensor.getShape()) {
    buffer.shape.push_back(mlir::ShapedType::isDynamic(dim) ? size : dim);
    count *= buffer.shape.back();
  }
  buffer.data.assign(count, 0.0f);
  return true;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int usage() {
  std::fprintf(stderr,
               "usage: run_program PROGRAM.mlir [--size N]...\n"
               "Compiles every public function of PROGRAM.mlir once for this "
               "CPU and runs it on\nrandom f32 inputs; each dynamic dim gets "
               "size N (default 8). Several --size\nflags reuse the one "
               "compiled program for each size.\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0)
    return usage();
  std::vector<int64_t> sizes;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--size") == 0 && i + 1 < argc &&
        std::atoll(argv[i + 1]) >= 0)
      sizes.push_back(std::atoll(argv[++i]));
    else
      return usage();
  }
  if (sizes.empty())
    sizes.push_back(8);
  mlir::MLIRContext context;
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();

  llvm::SourceMgr sources;
  std::string error;
  auto file = mlir::openInputFile(argv[1], &error);
  if (!file) {
    std::fprintf(stderr, "run_program: %s\n", error.c_str());
    return 1;
  }
  sources.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(sources, &context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(sources, &context);
  if (!module)
    return 1;

  // Remember the signatures before lowering rewrites them.
  struct Signature {
    std::string name;
    std::vector<mlir::Type> inputs, results;
  };
  std::vector<Signature> functions;
  for (auto func : module->getOps<mlir::func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      functions.push_back({func.getSymName().str(),
                           std::vector<mlir::Type>(func.getArgumentTypes().begin(),
                                                   func.getArgumentTypes().end()),
                           std::vector<mlir::Type>(func.getResultTypes().begin(),
                                                   func.getResultTypes().end())});

  auto start = Clock::now();
  auto compiled = ember::compileForCpu(*module, ember::CpuCompileOptions{}, &error);
  if (!compiled) {
    std::fprintf(stderr, "run_program: compile failed:\n%s", error.c_str());
    return 1;
  }
  std::printf("compiled %zu function(s) from %s in %.1f ms\n", functions.size(),
              argv[1], msSince(start));

  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t size : sizes)
  for (const Signature &sig : functions) {
    std::vector<Buffer> buffers(sig.inputs.size() + sig.results.size());
    bool ok = true;
    for (size_t i = 0; i < sig.inputs.size(); ++i)
      ok &= makeBuffer(sig.inputs[i], size, buffers[i]);
    for (size_t i = 0; i < sig.results.size(); ++i)
      ok &= makeBuffer(sig.results[i], size, buffers[sig.inputs.size() + i]);
    if (!ok) {
      std::printf("@%s: skipped (the demo runs f32 tensor functions only)\n",
                  sig.name.c_str());
      continue;
    }
    for (size_t i = 0; i < sig.inputs.size(); ++i)
      for (float &v : buffers[i].data)
        v = normal(rng) * 0.5f;
    std::vector<ember::BufferView> views;
    for (Buffer &b : buffers)
      views.push_back({b.data.data(), b.shape.data(),
                       static_cast<int64_t>(b.shape.size())});
    ember::PackedEntry entry = compiled->lookup(sig.name, &error);
    if (!entry) {
      std::fprintf(stderr, "run_program: %s\n", error.c_str());
      return 1;
    }
    ember::invokePacked(entry, views); // warm up
    const int runs = 20;
    auto runStart = Clock::now();
    for (int r = 0; r < runs; ++r)
      ember::invokePacked(entry, views);
    double us = msSince(runStart) * 1e3 / runs;
    for (size_t i = 0; i < sig.results.size(); ++i) {
      const Buffer &out = buffers[sig.inputs.size() + i];
      std::printf("@%s -> result %zu, shape %s:", sig.name.c_str(), i,
                  shapeText(out.shape).c_str());
      for (size_t k = 0; k < std::min<size_t>(6, out.data.size()); ++k)
        std::printf(" %.4f", out.data[k]);
      std::printf("%s\n", out.data.size() > 6 ? " ..." : "");
    }
    std::printf("@%s: %.1f us per call (mean of %d)\n", sig.name.c_str(), us,
                runs);
  }
  return 0;
}
