//===- GpuCompiler.cpp - ember programs to GPU kernels ---------------------===//
//
// The target-independent part is one pass pipeline (buildGpuKernelPipeline);
// each target then runs MLIR's own GPU lowering and serialization through a
// textual pipeline, and this file collects the binaries and the launch
// metadata. The AMDGPU path assembles MLIR's ISA output with llvm-mc and
// links it with ld.lld (MLIR's own HSACO step looks for a ROCm install).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/GpuCompiler.h"

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/Debug.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVM/ROCDL/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/ROCDL/ROCDLToLLVMIRTranslation.h"
#include "mlir/Target/SPIRV/Serialization.h"
#include "mlir/Target/SPIRV/Target.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <mutex>

namespace mlir {
// Defined in libMLIR (mlir/InitAllPasses.h): registers every upstream pass,
// so the target pipelines below can be written as text, as with mlir-opt.
void registerAllPasses();
} // namespace mlir

using namespace mlir;

namespace ember {

bool GpuTarget::parse(llvm::StringRef text, GpuTarget *target, std::string *error) {
  auto [kind, chip] = text.split(':');
  GpuTarget result;
  if (kind == "cuda" && chip.starts_with("sm_") && chip.size() > 3) {
    result.backend = GpuBackend::Cuda;
    result.chip = chip.str();
  } else if (kind == "rocm" && chip.starts_with("gfx") && chip.size() > 3) {
    result.backend = GpuBackend::Rocm;
    result.chip = chip.str();
  } else if (text == "level-zero") {
    result.backend = GpuBackend::LevelZero;
  } else if (text == "vulkan") {
    result.backend = GpuBackend::Vulkan;
  } else {
    *error = "unknown GPU target '" + text.str() +
             "' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)";
    return false;
  }
  *target = result;
  return true;
}

std::string GpuTarget::str() const {
  switch (backend) {
  case GpuBackend::Cuda:
    return "cuda:" + chip;
  case GpuBackend::Rocm:
    return "rocm:" + chip;
  case GpuBackend::LevelZero:
    return "level-zero";
  case GpuBackend::Vulkan:
    return "vulkan";
  }
  return "";
}

const char *GpuTarget::binaryFormat() const {
  switch (backend) {
  case GpuBackend::Cuda:
    return "ptx";
  case GpuBackend::Rocm:
    return "hsaco";
  default:
    return "spirv";
  }
}

namespace {
/// Registers the passes the textual pipelines below name.
void registerPassesOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    mlir::registerAllPasses();
    registerEmberTileParallelLoops();
    registerEmberSpirvEntryPoints();
    registerEmberFlattenBuffers();
    registerEmberSinkLaunchConstants();
    registerEmberGpuMath();
    registerEmberParallelDimsFirst();
    registerEmberGpuGridStride();
    registerEmberSpirvPushConstants();
    registerEmberGpuFillConstants();
    registerEmberGpuDeviceScalars();
    registerEmberSpirvBf16Storage();
    registerEmberGpuF64Math();
  });
}
} // namespace

void registerGpuCompilerDialects(DialectRegistry &registry) {
  registerCompilerDialects(registry);
  // The GPU lowering passes through gpu, nvvm, rocdl, spirv and their
  // conversion interfaces: all upstream dialects and extensions (defined in
  // libMLIR, so this costs no compile time here).
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerROCDLDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  ROCDL::registerROCDLTargetInterfaceExternalModels(registry);
  spirv::registerSPIRVTargetInterfaceExternalModels(registry);
}

void buildGpuKernelPipeline(OpPassManager &pm) {
  registerPassesOnce();
  // As for the CPU, without softmax-rows (GPUs get the primitives);
  // temporaries stay allocations in the host function (device memory,
  // allocated by the launcher).
  buildTensorToBufferPipeline(pm, /*softmaxRows=*/false);
  pm.addPass(createCanonicalizerPass());
  // Splat constants: device buffers filled by a kernel, not host globals;
  // scalar operands read in the kernels, not loaded on the host.
  pm.addPass(createEmberGpuFillConstants());
  pm.addNestedPass<func::FuncOp>(createEmberGpuDeviceScalars());

  // Loops -> blocks of threads -> kernels. Buffers are flattened to 1-D
  // (the casts hoisted out of the loops), so kernels take 1-D buffers plus
  // sizes as scalars: SPIR-V has no dynamic multi-dim buffers, and the other
  // targets pass fewer parameters. f32 transcendentals become polynomials:
  // no device library (libdevice, ROCm's ocml) is needed.
  OpPassManager &loops = pm.nest<func::FuncOp>();
  loops.addPass(createEmberParallelDimsFirst());
  // Matmuls and row reductions as cooperative kernels (workgroup memory);
  // every other op runs one thread per output element.
  loops.addPass(createEmberGpuKernelize());
  loops.addPass(createConvertLinalgToParallelLoopsPass());
  loops.addPass(createEmberApproximateMath());
  std::string error;
  llvm::raw_string_ostream os(error);
  loops.addPass(createEmberFlattenBuffers());
  loops.addPass(createCanonicalizerPass());
  // No canonicalization between tiling (which also maps the loops to
  // blocks and threads) and the conversion: it would merge the block and
  // thread loops back into one.
  loops.addPass(createEmberTileParallelLoops());
  // The mapping and outlining passes by name (their C++ entry points moved
  // between MLIR releases; the names are stable).
  if (failed(parsePassPipeline("func.func(convert-parallel-loops-to-gpu,canonicalize,"
                               "ember-gpu-grid-stride),"
                               "func.func(ember-sink-launch-constants),"
                               "gpu-kernel-outlining,lower-affine,canonicalize,cse",
                               pm, os)))
    llvm::report_fatal_error(llvm::Twine("ember: GPU pipeline: ") + error);
}

namespace {

/// Collects diagnostics as "file:line: message" lines.
class Diagnostics {
public:
  explicit Diagnostics(MLIRContext *context)
      : handler(context, [this](Diagnostic &diag) {
          if (diag.getSeverity() == DiagnosticSeverity::Remark)
            return success(); // conversion remarks: noise
          llvm::raw_string_ostream os(text);
          os << formatLocation(diag.getLocation()) << ": " << diag << "\n";
          return success();
        }) {}
  std::string text;

private:
  ScopedDiagnosticHandler handler;
};

std::string typeName(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

/// The kernels of the outlined module, with their launch metadata.
std::vector<GpuKernel> describeKernels(ModuleOp module) {
  std::vector<GpuKernel> kernels;
  module.walk([&](gpu::GPUFuncOp func) {
    if (!func.isKernel())
      return;
    GpuKernel kernel;
    kernel.name = func.getName().str();
    kernel.module = func->getParentOfType<gpu::GPUModuleOp>().getName().str();
    if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
      for (auto [i, extent] : llvm::enumerate(*known))
        if (i < 3)
          kernel.block[i] = extent;
    for (Type type : func.getArgumentTypes()) {
      GpuKernelArg arg;
      if (auto memref = dyn_cast<MemRefType>(type)) {
        arg.kind = GpuKernelArg::Kind::Memref;
        arg.rank = memref.getRank();
        arg.type = typeName(memref.getElementType());
      } else if (type.isIndex()) {
        arg.kind = GpuKernelArg::Kind::Index;
        arg.type = "index";
        arg.bits = 64;
      } else if (isa<FloatType>(type)) {
        arg.kind = GpuKernelArg::Kind::Float;
        arg.type = typeName(type);
        arg.bits = type.getIntOrFloatBitWidth();
      } else {
        arg.kind = GpuKernelArg::Kind::Integer;
        arg.type = typeName(type);
        arg.bits = std::max(32u, type.getIntOrFloatBitWidth());
      }
      kernel.args.push_back(arg);
    }
    kernels.push_back(std::move(kernel));
  });
  return kernels;
}

/// Runs `program` with `args`; its stdout+stderr in `output`.
bool runTool(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> args,
             std::string *output) {
  llvm::SmallString<128> log;
  llvm::sys::fs::createTemporaryFile("ember-tool", "log", log);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  SmallVector<llvm::StringRef> argv = {program};
  argv.append(args.begin(), args.end());
  std::string message;
  int status = llvm::sys::ExecuteAndWait(program, argv, std::nullopt, redirects, 0, 0,
                                         &message);
  if (auto buffer = llvm::MemoryBuffer::getFile(log))
    *output = (*buffer)->getBuffer().str();
  llvm::sys::fs::remove(log);
  if (status != 0 && output->empty())
    *output = message;
  return status == 0;
}

std::string readFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

/// AMDGPU assembly -> relocatable object (llvm-mc) -> HSACO (ld.lld).
bool assembleHsaco(const std::string &assembly, const std::string &chip,
                   std::string *hsaco, std::string *error) {
  llvm::SmallString<128> source, object, image;
  llvm::sys::fs::createTemporaryFile("ember-kernel", "s", source);
  llvm::sys::fs::createTemporaryFile("ember-kernel", "o", object);
  llvm::sys::fs::createTemporaryFile("ember-kernel", "hsaco", image);
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(source, ec);
    out << assembly;
  }
  std::string output;
  std::string mcpu = "-mcpu=" + chip;
  bool ok = runTool("/usr/lib/llvm-22/bin/llvm-mc",
                    {"-triple=amdgcn-amd-amdhsa", mcpu, "-filetype=obj", source,
                     "-o", object},
                    &output) &&
            runTool("/usr/lib/llvm-22/bin/ld.lld", {"-shared", object, "-o", image},
                    &output);
  if (ok)
    *hsaco = readFile(image);
  else
    *error = "assembling the AMDGPU kernel failed: " + output;
  for (auto &path : {source, object, image})
    llvm::sys::fs::remove(path);
  return ok;
}

/// PTX -> cubin with ptxas, when ptxas is installed; false otherwise.
bool assembleCubin(const std::string &ptx, const std::string &chip, std::string *cubin) {
  std::string ptxas;
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    ptxas = *found;
  else if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    ptxas = "/usr/local/cuda/bin/ptxas";
  else
    return false;
  llvm::SmallString<128> source, image;
  llvm::sys::fs::createTemporaryFile("ember-kernel", "ptx", source);
  llvm::sys::fs::createTemporaryFile("ember-kernel", "cubin", image);
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(source, ec);
    out << ptx;
  }
  std::string output, arch = "-arch=" + chip;
  bool ok = runTool(ptxas, {arch, source, "-o", image}, &output);
  if (ok)
    *cubin = readFile(image);
  llvm::sys::fs::remove(source);
  llvm::sys::fs::remove(image);
  return ok;
}

/// Writes the host functions as a launch plan (see GpuProgram::plan).
class PlanWriter {
public:
  bool write(ModuleOp module, std::string *plan, std::string *error) {
    llvm::raw_string_ostream os(*plan);
    os << "{\"functions\": [";
    bool firstFunc = true;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || func.isPrivate())
        continue;
      ids.clear();
      os << (firstFunc ? "" : ",") << "\n {\"name\": \"" << func.getName()
         << "\", \"arguments\": " << func.getNumArguments() << ", \"body\": [";
      firstFunc = false;
      for (BlockArgument arg : func.getArguments())
        id(arg);
      bool first = true;
      for (Operation &op : func.getBody().front()) {
        std::string text;
        if (!instruction(op, text)) {
          *error = "the GPU launcher cannot run '" + op.getName().getStringRef().str() +
                   "' on the host (" + formatLocation(op.getLoc()) + ")";
          return false;
        }
        if (text.empty())
          continue;
        os << (first ? "" : ",") << "\n  " << text;
        first = false;
      }
      os << "]}";
    }
    os << "\n]}\n";
    return true;
  }

private:
  int64_t id(Value value) {
    auto it = ids.find(value);
    if (it != ids.end())
      return it->second;
    int64_t next = ids.size();
    ids[value] = next;
    return next;
  }

  std::string list(ValueRange values) {
    std::string text = "[";
    for (auto [i, value] : llvm::enumerate(values))
      text += (i ? ", " : "") + std::to_string(id(value));
    return text + "]";
  }

  static std::string ints(ArrayRef<int64_t> values) {
    std::string text = "[";
    for (auto [i, v] : llvm::enumerate(values))
      text += (i ? ", " : "") + std::to_string(ShapedType::isDynamic(v) ? -1 : v);
    return text + "]";
  }

  static int64_t elementBytes(Type type) {
    Type element = cast<MemRefType>(type).getElementType();
    if (element.isIndex())
      return 8;
    if (!element.isIntOrFloat())
      return 0;
    return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
  }

  /// One instruction as JSON; empty text for ops without effect here.
  bool instruction(Operation &op, std::string &text) {
    auto results = [&] { return list(op.getResults()); };
    auto head = [&](const char *name) {
      return std::string("{\"op\": \"") + name + "\", \"results\": " + results() +
             ", \"operands\": " + list(op.getOperands());
    };
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      if (auto integer = dyn_cast<IntegerAttr>(constant.getValue())) {
        text = head("int") + ", \"value\": " + std::to_string(integer.getInt()) + "}";
        return true;
      }
      if (auto real = dyn_cast<FloatAttr>(constant.getValue())) {
        // The double's bits: JSON has no inf or nan (a max's initial value).
        double value = real.getValueAsDouble();
        int64_t raw;
        memcpy(&raw, &value, sizeof(raw));
        text = head("float") + ", \"raw\": " + std::to_string(raw) + ", \"bits\": " +
               std::to_string(real.getType().getIntOrFloatBitWidth()) + "}";
        return true;
      }
      return false;
    }
    if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
      text = head("cmpi") + ", \"predicate\": \"" +
             arith::stringifyCmpIPredicate(cmp.getPredicate()).str() + "\"}";
      return true;
    }
    static const std::pair<const char *, const char *> binaries[] = {
        {"arith.addi", "add"},         {"arith.subi", "sub"},
        {"arith.muli", "mul"},         {"arith.divsi", "divs"},
        {"arith.divui", "divu"},       {"arith.remsi", "rems"},
        {"arith.remui", "remu"},       {"arith.ceildivsi", "ceildivs"},
        {"arith.ceildivui", "ceildivu"}, {"arith.floordivsi", "floordivs"},
        {"arith.minsi", "mins"},       {"arith.maxsi", "maxs"},
        {"arith.minui", "minu"},       {"arith.maxui", "maxu"},
        {"arith.andi", "and"},         {"arith.ori", "or"},
        {"arith.xori", "xor"},         {"arith.select", "select"},
        {"arith.index_cast", "copy"},  {"arith.index_castui", "copy"},
        {"arith.extsi", "copy"},       {"arith.extui", "copy"},
        {"arith.trunci", "copy"}};
    for (auto [name, kind] : binaries)
      if (op.getName().getStringRef() == name) {
        text = head(kind) + "}";
        return true;
      }
    auto scalarKind = [](Type type) {
      unsigned bits = type.isIndex() ? 64 : type.isIntOrFloat() ? type.getIntOrFloatBitWidth() : 0;
      // bfloat16 and float16 share a width: bf16 is its own kind.
      const char *kind = type.isBF16() ? "bfloat" : isa<FloatType>(type) ? "float" : "int";
      return std::string(", \"kind\": \"") + kind + "\", \"bits\": " + std::to_string(bits);
    };
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      text = head("load") + scalarKind(load.getType()) + "}";
      return true;
    }
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      text = head("store") + scalarKind(store.getValueToStore().getType()) + "}";
      return true;
    }
    static const std::pair<const char *, const char *> floats[] = {
        {"arith.addf", "fadd"},     {"arith.subf", "fsub"},     {"arith.mulf", "fmul"},
        {"arith.divf", "fdiv"},     {"arith.maximumf", "fmax"}, {"arith.minimumf", "fmin"},
        {"arith.maxnumf", "fmaxnum"}, {"arith.minnumf", "fminnum"}, {"arith.negf", "fneg"}};
    for (auto [name, kind] : floats)
      if (op.getName().getStringRef() == name) {
        text = head(kind) + scalarKind(op.getResult(0).getType()) + "}";
        return true;
      }
    if (isa<arith::BitcastOp, arith::TruncFOp, arith::ExtFOp, arith::SIToFPOp,
            arith::FPToSIOp>(op)) {
      std::string kind = isa<arith::BitcastOp>(op)   ? "bitcast"
                         : isa<arith::SIToFPOp>(op) ? "sitofp"
                         : isa<arith::FPToSIOp>(op) ? "fptosi"
                                                    : "convertf";
      text = head(kind.c_str()) + scalarKind(op.getResult(0).getType()) + "}";
      return true;
    }
    if (auto dim = dyn_cast<memref::DimOp>(op)) {
      text = head("dim") + "}";
      return true;
    }
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (!elementBytes(alloc.getType()))
        return false;
      text = head("alloc") + ", \"shape\": " + ints(alloc.getType().getShape()) +
             ", \"element_bytes\": " + std::to_string(elementBytes(alloc.getType())) + "}";
      return true;
    }
    if (isa<memref::DeallocOp>(op)) {
      text = head("dealloc") + "}";
      return true;
    }
    if (isa<memref::ExtractStridedMetadataOp>(op)) {
      text = head("metadata") + "}";
      return true;
    }
    if (auto cast = dyn_cast<memref::ReinterpretCastOp>(op)) {
      text = head("reinterpret") + ", \"offsets\": " + ints(cast.getStaticOffsets()) +
             ", \"sizes\": " + ints(cast.getStaticSizes()) + ", \"strides\": " +
             ints(cast.getStaticStrides()) + "}";
      return true;
    }
    auto reassociation = [&](ArrayRef<ReassociationIndices> groups) {
      std::string text = "[";
      for (auto [i, group] : llvm::enumerate(groups)) {
        text += i ? ", [" : "[";
        for (auto [j, d] : llvm::enumerate(group))
          text += (j ? ", " : "") + std::to_string(d);
        text += "]";
      }
      return text + "]";
    };
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(op)) {
      text = head("expand") + ", \"groups\": " +
             reassociation(expand.getReassociationIndices()) + ", \"shape\": " +
             ints(expand.getStaticOutputShape()) + "}";
      return true;
    }
    if (auto collapse = dyn_cast<memref::CollapseShapeOp>(op)) {
      text = head("collapse") + ", \"groups\": " +
             reassociation(collapse.getReassociationIndices()) + "}";
      return true;
    }
    if (auto subview = dyn_cast<memref::SubViewOp>(op)) {
      SmallVector<int64_t> dropped;
      for (unsigned d : subview.getDroppedDims().set_bits())
        dropped.push_back(d);
      text = head("subview") + ", \"offsets\": " + ints(subview.getStaticOffsets()) +
             ", \"sizes\": " + ints(subview.getStaticSizes()) + ", \"strides\": " +
             ints(subview.getStaticStrides()) + ", \"dropped\": " + ints(dropped) + "}";
      return true;
    }
    if (auto reshape = dyn_cast<memref::ReshapeOp>(op)) {
      text = head("reshape") + ", \"shape\": " +
             ints(reshape.getResult().getType().getShape()) + "}";
      return true;
    }
    if (isa<memref::CopyOp>(op)) {
      text = head("copy_buffer") + "}";
      return true;
    }
    if (isa<memref::CastOp>(op)) {
      text = head("copy") + "}";
      return true;
    }
    if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
      // operands: grid x y z, block x y z, then the kernel's arguments.
      SmallVector<Value> operands = {launch.getGridSizeX(),  launch.getGridSizeY(),
                                     launch.getGridSizeZ(),  launch.getBlockSizeX(),
                                     launch.getBlockSizeY(), launch.getBlockSizeZ()};
      for (Value arg : launch.getKernelOperands())
        operands.push_back(arg);
      text = std::string("{\"op\": \"launch\", \"results\": [], \"operands\": ") +
             list(operands) + ", \"module\": \"" +
             launch.getKernelModuleName().str() + "\", \"kernel\": \"" +
             launch.getKernelName().str() + "\"}";
      return true;
    }
    if (isa<func::ReturnOp>(op)) {
      text = "";
      return op.getNumOperands() == 0;
    }
    return false;
  }

  llvm::DenseMap<Value, int64_t> ids;
};

// Float16, Int16 and 16-bit storage buffers let f16 (and bf16, as i16 bits)
// tensors be read and computed as they are stored; spirv-update-vce keeps only what a module uses, so
// other programs do not ask for them.
const char *kVulkanEnv =
    "#spirv.target_env<#spirv.vce<v1.3, [Shader, Int64, Float64, Int16, Float16, "
    "StorageBuffer16BitAccess], [SPV_KHR_storage_buffer_storage_class, "
    "SPV_KHR_16bit_storage]>, #spirv.resource_limits<>>";
const char *kOpenClEnv =
    "#spirv.target_env<#spirv.vce<v1.0, [Addresses, Kernel, Int64, Float64, "
    "Int8, Int16, Float16, Linkage], []>, api=OpenCL, #spirv.resource_limits<>>";

} // namespace

bool compileForGpu(ModuleOp module, const GpuTarget &target, GpuProgram *program,
                   std::string *error) {
  registerPassesOnce();
  MLIRContext *context = module.getContext();
  Diagnostics diagnostics(context);
  program->target = target;

  PassManager kernels(context);
  buildGpuKernelPipeline(kernels);
  if (failed(kernels.run(module))) {
    *error = diagnostics.text;
    return false;
  }
  program->kernels = describeKernels(module);
  {
    llvm::raw_string_ostream os(program->host);
    for (auto func : module.getOps<func::FuncOp>())
      func->print(os);
  }
  if (!PlanWriter().write(module, &program->plan, error))
    return false;

  // The target's lowering and serialization, as mlir-opt would spell it.
  std::string pipeline;
  switch (target.backend) {
  case GpuBackend::Cuda:
    pipeline = "builtin.module(nvvm-attach-target{chip=" + target.chip +
               " features=+ptx80 O=3},ember-gpu-f64-math,ember-gpu-math,gpu.module(convert-scf-to-cf,"
               // fma as mul+add (the backend contracts it again), not a
               // libdevice call.
               "math-expand-ops{ops=fma},convert-gpu-to-nvvm{index-bitwidth=64},canonicalize,cse,"
               "reconcile-unrealized-casts),gpu-module-to-binary{format=isa})";
    break;
  case GpuBackend::Rocm:
    pipeline = "builtin.module(rocdl-attach-target{chip=" + target.chip +
               " O=3},ember-gpu-f64-math,ember-gpu-math,gpu.module(convert-scf-to-cf,convert-gpu-to-rocdl{"
               "index-bitwidth=64},canonicalize,cse,reconcile-unrealized-casts),"
               "gpu-module-to-binary{format=isa})";
    break;
  case GpuBackend::Vulkan:
  case GpuBackend::LevelZero: {
    bool vulkan = target.backend == GpuBackend::Vulkan;
    module->setAttr("spirv.target_env",
                    parseAttribute(vulkan ? kVulkanEnv : kOpenClEnv, context));
    // Scalars as push constants and bf16 buffers as i16 change kernel
    // signatures: the host functions (already written as the plan) go first.
    for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      func.erase();
    // Vulkan puts each spirv.module beside its gpu.module; OpenCL inside it.
    pipeline = std::string("builtin.module(ember-gpu-f64-math,ember-spirv-entry-points,") +
               (vulkan ? "ember-spirv-push-constants," : "") +
               std::string("ember-spirv-bf16-storage,gpu.module(arith-emulate-unsupported-floats{"
                           "source-types=bf16 target-type=f32},arith-expand{include-bf16=true},"
                           "canonicalize),gpu.module(convert-math-to-spirv),"
                           "convert-gpu-to-spirv{use-64bit-index=true},") +
               (vulkan ? "spirv.module(spirv-lower-abi-attrs,spirv-update-vce))"
                       : "gpu.module(spirv.module(spirv-lower-abi-attrs,"
                         "spirv-update-vce)))");
    break;
  }
  }
  PassManager lowering(context);
  std::string parseError;
  llvm::raw_string_ostream parseOs(parseError);
  // The text names the module's passes; parsing into `lowering` (already on
  // builtin.module) takes the list inside "builtin.module(...)".
  llvm::StringRef passes = llvm::StringRef(pipeline)
                               .drop_front(strlen("builtin.module("))
                               .drop_back();
  if (failed(parsePassPipeline(passes, lowering, parseOs))) {
    *error = "internal error: GPU pipeline: " + parseError;
    return false;
  }
  if (failed(lowering.run(module))) {
    *error = diagnostics.text;
    return false;
  }

  if (debugEnabled(DebugTopic::GpuModules))
    module->print(llvm::errs());
  // Binaries, by gpu.module name.
  std::map<std::string, std::string> binaries;
  if (target.backend == GpuBackend::Cuda || target.backend == GpuBackend::Rocm) {
    for (auto binary : module.getOps<gpu::BinaryOp>()) {
      auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
      binaries[binary.getName().str()] = object.getObject().str();
    }
  } else {
    std::vector<spirv::ModuleOp> modules;
    module.walk([&](spirv::ModuleOp spirvModule) { modules.push_back(spirvModule); });
    for (spirv::ModuleOp spirvModule : modules) {
      // spirv-lower-abi-attrs gives every interface variable a descriptor
      // set and binding; a push-constant block must have neither.
      spirvModule.walk([](spirv::GlobalVariableOp variable) {
        auto pointer = dyn_cast<spirv::PointerType>(variable.getType());
        if (pointer && pointer.getStorageClass() == spirv::StorageClass::PushConstant) {
          variable->removeAttr(variable.getDescriptorSetAttrName());
          variable->removeAttr(variable.getBindingAttrName());
        }
      });
      SmallVector<uint32_t, 0> words;
      if (failed(spirv::serialize(spirvModule, words))) {
        *error = "cannot serialize SPIR-V module:\n" + diagnostics.text;
        return false;
      }
      std::string name = spirvModule.getName().value_or("").str();
      llvm::StringRef gpuModule = llvm::StringRef(name).drop_front(
          llvm::StringRef(name).starts_with("__spv__") ? 7 : 0);
      binaries[gpuModule.str()] =
          std::string(reinterpret_cast<const char *>(words.data()), words.size() * 4);
    }
  }
  for (GpuKernel &kernel : program->kernels) {
    auto it = binaries.find(kernel.module);
    if (it == binaries.end()) {
      *error = "internal error: no binary for kernel '" + kernel.name + "'";
      return false;
    }
    kernel.binary = it->second;
    if (target.backend == GpuBackend::Rocm) {
      std::string hsaco;
      if (!assembleHsaco(kernel.binary, target.chip, &hsaco, error))
        return false;
      kernel.binary = std::move(hsaco);
    } else if (target.backend == GpuBackend::Cuda) {
      assembleCubin(kernel.binary, target.chip, &kernel.cubin);
    }
  }
  return true;
}

std::string gpuProgramMetadata(const GpuProgram &program) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "{\n  \"target\": \"" << program.target.str() << "\",\n  \"format\": \""
     << program.target.binaryFormat() << "\",\n  \"kernels\": [";
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    const GpuKernel &kernel = program.kernels[i];
    os << (i ? "," : "") << "\n    {\"name\": \"" << kernel.name << "\", \"module\": \""
       << kernel.module << "\", \"block\": [" << kernel.block[0] << ", "
       << kernel.block[1] << ", " << kernel.block[2] << "], \"bytes\": "
       << kernel.binary.size() << ", \"cubin\": " << (kernel.cubin.empty() ? "false" : "true")
       << ", \"args\": [";
    for (size_t j = 0; j < kernel.args.size(); ++j) {
      const GpuKernelArg &arg = kernel.args[j];
      os << (j ? ", " : "") << "{\"kind\": \"";
      switch (arg.kind) {
      case GpuKernelArg::Kind::Memref:
        os << "memref\", \"rank\": " << arg.rank << ", ";
        break;
      case GpuKernelArg::Kind::Index:
        os << "index\", ";
        break;
      case GpuKernelArg::Kind::Integer:
        os << "int\", ";
        break;
      case GpuKernelArg::Kind::Float:
        os << "float\", ";
        break;
      }
      os << "\"type\": \"" << arg.type << "\"}";
    }
    os << "]}";
  }
  os << "\n  ]\n}\n";
  return text;
}

} // namespace ember

namespace ember {

GpuArtifact packGpuArtifact(const GpuProgram &program) {
  GpuArtifact artifact;
  artifact.target = program.target.str();
  artifact.section = "artifact." + artifact.target;
  std::string kernels;
  llvm::raw_string_ostream os(kernels);
  os << "[";
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    const GpuKernel &kernel = program.kernels[i];
    auto append = [&](const std::string &bytes) {
      size_t offset = artifact.bytes.size();
      artifact.bytes.insert(artifact.bytes.end(), bytes.begin(), bytes.end());
      // Keep each binary 8-byte aligned (SPIR-V is read as 32-bit words).
      artifact.bytes.resize((artifact.bytes.size() + 7) / 8 * 8, 0);
      return offset;
    };
    size_t offset = append(kernel.binary);
    os << (i ? ", " : "") << "{\"module\": \"" << kernel.module << "\", \"name\": \""
       << kernel.name << "\", \"offset\": " << offset << ", \"size\": "
       << kernel.binary.size() << ", \"block\": [" << kernel.block[0] << ", "
       << kernel.block[1] << ", " << kernel.block[2] << "], \"params\": [";
    for (size_t j = 0; j < kernel.args.size(); ++j) {
      const GpuKernelArg &arg = kernel.args[j];
      const char *kind = arg.kind == GpuKernelArg::Kind::Memref   ? "buffer"
                         : arg.kind == GpuKernelArg::Kind::Index ? "index"
                         : arg.kind == GpuKernelArg::Kind::Float ? "float"
                                                                 : "int";
      os << (j ? ", " : "") << "{\"kind\": \"" << kind << "\", \"bits\": " << arg.bits
         << ", \"rank\": " << arg.rank << (arg.type == "bf16" ? ", \"bfloat\": true" : "")
         << "}";
    }
    os << "]}";
  }
  os << "]";
  std::string plan = program.plan;
  while (!plan.empty() && (plan.back() == '\n' || plan.back() == ' '))
    plan.pop_back();
  artifact.manifestJson = "{\"target\": \"" + artifact.target +
                          "\", \"format\": \"gpu-kernels\", \"section\": \"" +
                          artifact.section + "\", \"checksum\": \"\", "
                          "\"binary_format\": \"" + program.target.binaryFormat() +
                          "\", \"kernels\": " + kernels + ", \"plan\": " + plan + "}";
  return artifact;
}

} // namespace ember
