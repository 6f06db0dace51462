//===- LaunchPlanWriter.cpp - host functions as launch plans --------------===//
//
// The runtime's launcher executes the host side of a GPU program (index
// arithmetic, allocations, buffer views, launches in order) from this JSON
// plan instead of compiling host code; see
// runtime/gpu/include/ember/Runtime/Gpu/Program.h for what each op means.
//
//===----------------------------------------------------------------------===//

#include "GpuCompilerInternal.h"

#include "ember/Compiler/CpuCompiler.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

namespace ember {

namespace {

// The unit attribute ember-recurrent-loops puts on a time loop: on a GPU
// the loop stays host code, run by the launch plan (spelled out in each
// pass that reads it, so that no widely included header changes).
constexpr char kHostLoopAttr[] = "ember.host_loop";

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
      std::string text;
      if (!block(func.getBody().front(), text, error))
        return false;
      os << text << "]}";
    }
    os << "\n]}\n";
    return true;
  }

private:
  /// The instructions of `body`, comma-separated (its terminator has no
  /// instruction of its own: a loop's yield is a field of the loop).
  bool block(Block &body, std::string &text, std::string *error) {
    bool first = true;
    for (Operation &op : body) {
      if (isa<scf::YieldOp>(op))
        continue;
      std::string one;
      if (!instruction(op, one, error)) {
        if (error->empty())
          *error = "the GPU launcher cannot run '" + op.getName().getStringRef().str() +
                   "' on the host (" + formatLocation(op.getLoc()) + ")";
        return false;
      }
      if (one.empty())
        continue;
      text += (first ? "\n  " : ",\n  ") + one;
      first = false;
    }
    return true;
  }

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
  bool instruction(Operation &op, std::string &text, std::string *error) {
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
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      // A host loop (a recurrent layer's steps): operands lower bound, upper
      // bound, step, initial values; "arguments" the induction variable and
      // the carried values, which each iteration's "yield" replaces.
      if (!loop->hasAttr(kHostLoopAttr))
        return false;
      SmallVector<Value> arguments = {loop.getInductionVar()};
      for (Value carried : loop.getRegionIterArgs())
        arguments.push_back(carried);
      std::string body;
      if (!block(*loop.getBody(), body, error))
        return false;
      auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
      text = head("for") + ", \"arguments\": " + list(arguments) + ", \"yield\": " +
             list(yield.getOperands()) + ", \"body\": [" + body + "]}";
      return true;
    }
    if (auto launch = dyn_cast<mlir::gpu::LaunchFuncOp>(op)) {
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
    if (auto call = dyn_cast<func::CallOp>(op)) {
      // A C++ custom op (ember-custom-call-to-runtime{gpu=true}): its shape
      // function, or its kernel, run by the launcher.
      StringRef callee = call.getCallee();
      bool shapes = callee.starts_with("ember_custom_call_gpu_shapes_");
      auto name = call->getAttrOfType<StringAttr>("ember.custom_op");
      auto attrs = call->getAttrOfType<DictionaryAttr>("ember.op_attributes");
      auto dtypes = call->getAttrOfType<DenseI64ArrayAttr>("ember.custom_dtypes");
      auto ranks = call->getAttrOfType<DenseI64ArrayAttr>("ember.custom_output_ranks");
      auto inputs = call->getAttrOfType<IntegerAttr>("ember.custom_inputs");
      if (!callee.starts_with("ember_custom_call_gpu_") || !name || !attrs || !dtypes ||
          !ranks || !inputs)
        return false;
      std::string names = "[", raw = "[";
      for (auto [i, attr] : llvm::enumerate(attrs)) {
        double value = cast<FloatAttr>(attr.getValue()).getValueAsDouble();
        int64_t bits;
        memcpy(&bits, &value, sizeof(bits));
        // Attribute names are C identifiers the library chose; JSON-escape
        // the two characters that would break the string anyway.
        std::string escaped;
        for (char c : attr.getName().getValue()) {
          if (c == '"' || c == '\\')
            escaped += '\\';
          escaped += c;
        }
        names += (i ? ", \"" : "\"") + escaped + "\"";
        raw += (i ? ", " : "") + std::to_string(bits);
      }
      text = head(shapes ? "custom_shapes" : "custom_call") + ", \"name\": \"" +
             name.getValue().str() + "\", \"attr_names\": " + names + "], \"attr_raw\": " +
             raw + "], \"dtypes\": " + ints(dtypes.asArrayRef()) +
             ", \"output_ranks\": " + ints(ranks.asArrayRef()) +
             ", \"inputs\": " + std::to_string(inputs.getInt()) + "}";
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

} // namespace

bool writeLaunchPlan(ModuleOp module, std::string *plan, std::string *error) {
  return PlanWriter().write(module, plan, error);
}

} // namespace ember
