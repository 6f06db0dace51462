//===- GpuCompile.cpp - kernels, launch metadata and binaries --------------===//
//
// compileForGpu runs the kernel pipeline, reads each gpu.launch_func for its
// launch metadata (the grid as `min(ceildiv(arg, d), max)` over the kernel's
// arguments, as ember-gpu-kernelize builds it), keeps the host functions as
// text, drops them, lowers the kernels for the target and turns each
// gpu.module into a binary:
//
//   cuda    gpu-module-to-binary{format=isa} -> PTX; `ptxas` -> cubin
//   rocm    gpu-module-to-binary{format=llvm} -> bitcode; `llc` -> object;
//           `ld.lld -shared` -> HSACO
//   SPIR-V  spirv::serialize of each spirv.module
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Gpu/GpuCompiler.h"
#include "ember/Compiler/Gpu/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/SPIRV/Serialization.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>

using namespace mlir;

namespace ember::gpu {

//===----------------------------------------------------------------------===//
// Targets
//===----------------------------------------------------------------------===//

bool GpuTarget::parse(llvm::StringRef text, GpuTarget &target,
                      std::string &error) {
  auto [name, chip] = text.split(':');
  if (name == "cuda" && chip.starts_with("sm_") && chip.size() > 3) {
    target = {TargetKind::Cuda, chip.str()};
    return true;
  }
  if (name == "rocm" && chip.starts_with("gfx") && chip.size() > 3) {
    target = {TargetKind::Rocm, chip.str()};
    return true;
  }
  if (text == "level-zero" || text == "level_zero") {
    target = {TargetKind::LevelZero, ""};
    return true;
  }
  if (text == "vulkan") {
    target = {TargetKind::Vulkan, ""};
    return true;
  }
  error = ("unknown GPU target '" + text +
           "' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)")
              .str();
  return false;
}

std::string GpuTarget::str() const {
  switch (kind) {
  case TargetKind::Cuda:
    return "cuda:" + chip;
  case TargetKind::Rocm:
    return "rocm:" + chip;
  case TargetKind::LevelZero:
    return "level-zero";
  case TargetKind::Vulkan:
    return "vulkan";
  }
  return "";
}

const char *GpuTarget::backendName() const {
  const char *names[] = {"cuda", "rocm", "level_zero", "vulkan"};
  return names[int(kind)];
}

const char *GpuTarget::binaryFormat() const {
  const char *formats[] = {"ptx", "hsaco", "spirv", "spirv"};
  return formats[int(kind)];
}

namespace {

//===----------------------------------------------------------------------===//
// Launch metadata
//===----------------------------------------------------------------------===//

std::string typeName(Type type) {
  std::string name;
  llvm::raw_string_ostream os(name);
  type.print(os);
  return name;
}

/// The runtime's ArgKind of a scalar argument; empty when it has none.
std::string scalarKind(Type type, const GpuTarget &target) {
  if (type.isIndex())
    return target.indexBitwidth() == 32 ? "i32" : "i64";
  if (type.isInteger(32) || type.isInteger(64) || type.isF32() || type.isF64())
    return typeName(type);
  return "";
}

/// Reads back `min(ceildiv(w, d), max)` (or a constant) for one grid
/// extent; `w` must be a kernel operand of `launch`.
GridRule gridRule(Value extent, mlir::gpu::LaunchFuncOp launch) {
  GridRule rule;
  if (std::optional<int64_t> constant = getConstantIntValue(extent)) {
    rule.constant = *constant;
    return rule;
  }
  Value blocks = extent;
  if (auto min = extent.getDefiningOp<arith::MinUIOp>()) {
    if (std::optional<int64_t> max = getConstantIntValue(min.getRhs())) {
      rule.max = *max;
      blocks = min.getLhs();
    }
  }
  Value work = blocks;
  if (auto ceil = blocks.getDefiningOp<arith::CeilDivUIOp>()) {
    if (std::optional<int64_t> divisor = getConstantIntValue(ceil.getRhs())) {
      rule.divisor = *divisor;
      work = ceil.getLhs();
    }
  }
  for (auto [i, operand] : llvm::enumerate(launch.getKernelOperands()))
    if (operand == work)
      rule.arg = i;
  // Not of the expected form: the host computes it (arg stays -1, constant
  // 0 marks it).
  if (rule.arg < 0)
    rule.constant = 0;
  return rule;
}

int64_t workgroupBytes(mlir::gpu::GPUFuncOp func) {
  int64_t bytes = 0;
  for (BlockArgument arg : func.getWorkgroupAttributions()) {
    auto type = cast<MemRefType>(arg.getType());
    bytes += type.getNumElements() *
             ((type.getElementTypeBitWidth() + 7) / 8);
  }
  return bytes;
}

LogicalResult readKernels(ModuleOp module, const GpuTarget &target,
                          GpuProgram &program) {
  SymbolTableCollection symbols;
  WalkResult walked = module.walk([&](mlir::gpu::LaunchFuncOp launch) {
    auto func = symbols.lookupNearestSymbolFrom<mlir::gpu::GPUFuncOp>(
        launch, launch.getKernel());
    if (!func) {
      launch.emitOpError("kernel not found");
      return WalkResult::interrupt();
    }
    GpuKernelInfo kernel;
    kernel.name = launch.getKernelName().str();
    kernel.module = launch.getKernelModuleName().str();
    kernel.kind = kernel.name.substr(kernel.name.rfind('_') + 1);
    while (!kernel.kind.empty() && std::isdigit(kernel.kind.back()))
      kernel.kind.pop_back();
    if (std::optional<ArrayRef<int32_t>> block = func.getKnownBlockSize())
      for (unsigned d = 0; d < 3; ++d)
        kernel.block[d] = (*block)[d];
    auto grid = launch.getGridSizeOperandValues();
    kernel.grid = {gridRule(grid.x, launch), gridRule(grid.y, launch),
                   gridRule(grid.z, launch)};
    kernel.sharedMemoryBytes = workgroupBytes(func);
    uint32_t binding = 0, offset = 0;
    for (Type type : func.getArgumentTypes()) {
      GpuKernelParam param;
      if (auto memref = dyn_cast<MemRefType>(type)) {
        param.kind = "buffer";
        param.elementType = typeName(memref.getElementType());
        param.binding = binding++;
      } else {
        param.kind = scalarKind(type, target);
        if (param.kind.empty()) {
          func.emitOpError("argument of type ")
              << type << " has no runtime argument kind";
          return WalkResult::interrupt();
        }
        if (target.kind == TargetKind::Vulkan) {
          if (param.kind != "i32" && param.kind != "f32") {
            func.emitOpError("argument of type ")
                << type << " does not fit a Vulkan push-constant word";
            return WalkResult::interrupt();
          }
          param.offset = offset;
          offset += 4;
        }
      }
      kernel.params.push_back(param);
    }
    kernel.pushConstantBytes = offset;
    program.kernels.push_back(std::move(kernel));
    return WalkResult::advance();
  });
  return failure(walked.wasInterrupted());
}

//===----------------------------------------------------------------------===//
// Binaries
//===----------------------------------------------------------------------===//

/// The first of `names` found on PATH or in LLVM 22's / CUDA's bin folder.
std::string findTool(ArrayRef<StringRef> names) {
  for (StringRef name : names) {
    if (llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName(name))
      return *path;
    if (llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName(
            name, {"/usr/lib/llvm-22/bin", "/usr/local/cuda/bin"}))
      return *path;
  }
  return "";
}

/// Runs `tool args...` on `input`'s bytes (written to a temporary file,
/// the argument "{in}") and returns the bytes it writes to "{out}".
bool runTool(const std::string &tool, ArrayRef<std::string> args,
             StringRef input, std::string &output, std::string &error) {
  SmallString<128> in, out, log;
  if (llvm::sys::fs::createTemporaryFile("ember-gpu", "in", in) ||
      llvm::sys::fs::createTemporaryFile("ember-gpu", "out", out) ||
      llvm::sys::fs::createTemporaryFile("ember-gpu", "log", log)) {
    error = "cannot create temporary files";
    return false;
  }
  auto cleanup = llvm::make_scope_exit([&] {
    llvm::sys::fs::remove(in);
    llvm::sys::fs::remove(out);
    llvm::sys::fs::remove(log);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec) {
      error = "cannot write " + in.str().str();
      return false;
    }
    os << input;
  }
  SmallVector<std::string> argv = {tool};
  for (const std::string &arg : args)
    argv.push_back(arg == "{in}" ? in.str().str()
                                 : arg == "{out}" ? out.str().str() : arg);
  SmallVector<StringRef> refs(argv.begin(), argv.end());
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(tool, refs, std::nullopt, redirects,
                                         /*SecondsToWait=*/120, 0, &message);
  if (status != 0) {
    auto text = llvm::MemoryBuffer::getFile(log);
    error = llvm::join(refs, " ") + " failed" +
            (message.empty() ? "" : ": " + message) + "\n" +
            (text ? (*text)->getBuffer().str() : "");
    return false;
  }
  auto bytes = llvm::MemoryBuffer::getFile(out, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
  if (!bytes) {
    error = tool + " wrote no output";
    return false;
  }
  output = (*bytes)->getBuffer().str();
  return true;
}

/// gpu.binary name -> its one object's bytes.
llvm::StringMap<std::string> binaryObjects(ModuleOp module) {
  llvm::StringMap<std::string> objects;
  for (auto binary : module.getOps<mlir::gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      objects[binary.getName()] =
          cast<mlir::gpu::ObjectAttr>(object).getObject().str();
  return objects;
}

bool emitBinaries(ModuleOp module, const GpuTarget &target,
                  GpuProgram &program, std::string &error) {
  llvm::StringMap<std::string> binaries;
  if (target.kind == TargetKind::LevelZero || target.kind == TargetKind::Vulkan) {
    WalkResult walked = module.walk([&](spirv::ModuleOp spirvModule) {
      SmallVector<uint32_t> words;
      if (failed(spirv::serialize(spirvModule, words)))
        return WalkResult::interrupt();
      // convert-gpu-to-spirv names it "__spv__<gpu.module>".
      StringRef name = spirvModule.getName().value_or("");
      name.consume_front("__spv__");
      binaries[name] = std::string(reinterpret_cast<const char *>(words.data()),
                                   words.size() * sizeof(uint32_t));
      return WalkResult::advance();
    });
    if (walked.wasInterrupted()) {
      error = "SPIR-V serialization failed";
      return false;
    }
  } else {
    PassManager pm(module.getContext());
    GpuModuleToBinaryPassOptions toBinary;
    toBinary.compilationTarget = target.kind == TargetKind::Cuda ? "isa" : "llvm";
    pm.addPass(createGpuModuleToBinaryPass(toBinary));
    if (failed(pm.run(module))) {
      error = "gpu-module-to-binary failed";
      return false;
    }
    binaries = binaryObjects(module);
  }

  std::string ptxas = findTool({"ptxas"});
  std::string llc = findTool({"llc-22", "llc"});
  std::string lld = findTool({"ld.lld-22", "ld.lld"});
  for (GpuKernelInfo &kernel : program.kernels) {
    auto it = binaries.find(kernel.module);
    if (it == binaries.end()) {
      error = "no binary for kernel module '" + kernel.module + "'";
      return false;
    }
    switch (target.kind) {
    case TargetKind::Cuda:
      kernel.binary = it->second;
      if (!ptxas.empty() &&
          !runTool(ptxas, {"-arch=" + target.chip, "{in}", "-o", "{out}"},
                   kernel.binary, kernel.cubin, error))
        return false;
      break;
    case TargetKind::Rocm: {
      if (llc.empty() || lld.empty()) {
        error = "rocm needs llc and ld.lld (LLVM 22)";
        return false;
      }
      std::string object;
      if (!runTool(llc,
                   {"-mtriple=amdgcn-amd-amdhsa", "-mcpu=" + target.chip,
                    "-O3", "-filetype=obj", "{in}", "-o", "{out}"},
                   it->second, object, error) ||
          !runTool(lld, {"-shared", "{in}", "-o", "{out}"}, object,
                   kernel.binary, error))
        return false;
      break;
    }
    case TargetKind::LevelZero:
    case TargetKind::Vulkan:
      kernel.binary = it->second;
      break;
    }
  }
  return true;
}

void printJsonString(llvm::raw_ostream &os, StringRef text) {
  os << '"';
  for (char c : text) {
    if (c == '"' || c == '\\')
      os << '\\' << c;
    else if (c == '\n')
      os << "\\n";
    else
      os << c;
  }
  os << '"';
}

} // namespace

bool compileForGpu(ModuleOp module, const GpuTarget &target,
                   GpuProgram &program, std::string &error) {
  MLIRContext *context = module.getContext();
  std::string diagnostics;
  llvm::raw_string_ostream diagnosticStream(diagnostics);
  ScopedDiagnosticHandler handler(context, [&](Diagnostic &diagnostic) {
    diagnosticStream << diagnostic.getLocation() << ": " << diagnostic << "\n";
    return success();
  });
  auto fail = [&](StringRef what) {
    error = (what + ":\n" + diagnostics).str();
    return false;
  };

  program = GpuProgram();
  program.target = target;
  PassManager kernels(context);
  buildGpuKernelPipeline(kernels);
  if (failed(kernels.run(module)))
    return fail("kernel generation failed");
  if (failed(readKernels(module, target, program)))
    return fail("cannot read the launches");
  llvm::raw_string_ostream host(program.host);
  for (auto func : module.getOps<func::FuncOp>())
    host << func << "\n";

  PassManager lower(context);
  lower.addPass(createEmberGpuDropHost());
  buildGpuTargetPipeline(lower, target);
  if (failed(lower.run(module)))
    return fail("lowering for " + target.str() + " failed");
  if (!emitBinaries(module, target, program, error)) {
    error += diagnostics;
    return false;
  }
  return true;
}

std::string gpuProgramMetadataJson(const GpuProgram &program) {
  std::string json;
  llvm::raw_string_ostream os(json);
  os << "{\n  \"target\": ";
  printJsonString(os, program.target.str());
  os << ",\n  \"backend\": ";
  printJsonString(os, program.target.backendName());
  os << ",\n  \"format\": ";
  printJsonString(os, program.target.binaryFormat());
  os << ",\n  \"kernels\": [";
  for (auto [k, kernel] : llvm::enumerate(program.kernels)) {
    os << (k ? ",\n" : "\n") << "    {\"name\": ";
    printJsonString(os, kernel.name);
    os << ", \"module\": ";
    printJsonString(os, kernel.module);
    os << ", \"kind\": ";
    printJsonString(os, kernel.kind);
    os << ",\n     \"block\": [" << kernel.block[0] << ", " << kernel.block[1]
       << ", " << kernel.block[2] << "], \"shared_memory_bytes\": "
       << kernel.sharedMemoryBytes
       << ", \"push_constant_bytes\": " << kernel.pushConstantBytes
       << ",\n     \"grid\": [";
    for (unsigned d = 0; d < 3; ++d) {
      const GridRule &rule = kernel.grid[d];
      os << (d ? ", " : "");
      if (rule.arg < 0)
        os << "{\"constant\": " << rule.constant << "}";
      else
        os << "{\"arg\": " << rule.arg << ", \"divisor\": " << rule.divisor
           << ", \"max\": " << rule.max << "}";
    }
    os << "],\n     \"params\": [";
    for (auto [p, param] : llvm::enumerate(kernel.params)) {
      os << (p ? ", " : "") << "{\"kind\": ";
      printJsonString(os, param.kind);
      if (param.kind == "buffer") {
        os << ", \"element\": ";
        printJsonString(os, param.elementType);
        os << ", \"set\": " << param.set << ", \"binding\": " << param.binding;
      } else {
        os << ", \"offset\": " << param.offset;
      }
      os << "}";
    }
    os << "],\n     \"binary_bytes\": " << kernel.binary.size()
       << ", \"cubin_bytes\": " << kernel.cubin.size() << "}";
  }
  os << "\n  ]\n}\n";
  return json;
}

} // namespace ember::gpu
