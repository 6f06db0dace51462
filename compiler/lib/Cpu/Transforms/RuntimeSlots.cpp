//===- RuntimeSlots.cpp - call runtime functions through loader-filled slots ===//
//
// An ahead-of-time shared object must not depend on the process exporting
// `ember_cpu_sgemm` or `memrefCopy` under those names (an app may link the
// runtime statically, hidden, or twice). Instead the object defines one
// pointer slot per runtime function and calls through it; the loader fills
// the slots from cpuRuntimeSymbols() after dlopen.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Runtime/CpuRuntime.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"

namespace ember {
#define GEN_PASS_DEF_EMBERRUNTIMESLOTS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kSlotPrefix = "__ember_rt_";

/// Defines `__ember_rt_<name>`: an external, zero-initialized pointer.
LLVM::GlobalOp defineSlot(ModuleOp module, StringRef name) {
  std::string slotName = (kSlotPrefix + name).str();
  if (auto existing = module.lookupSymbol<LLVM::GlobalOp>(slotName))
    return existing;
  OpBuilder b(module.getBodyRegion());
  Location loc = module.getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(module.getContext());
  auto global = LLVM::GlobalOp::create(b, loc, ptrType, /*isConstant=*/false,
                                       LLVM::Linkage::External, slotName,
                                       /*value=*/Attribute());
  // With an initializer it is a definition, not an extern declaration.
  b.createBlock(&global.getInitializerRegion());
  Value zero = LLVM::ZeroOp::create(b, loc, ptrType);
  LLVM::ReturnOp::create(b, loc, zero);
  return global;
}

/// The function pointer stored in `slot`, loaded at `op`.
Value loadSlot(OpBuilder &b, Operation *op, LLVM::GlobalOp slot) {
  b.setInsertionPoint(op);
  auto ptrType = LLVM::LLVMPointerType::get(op->getContext());
  Value address = LLVM::AddressOfOp::create(b, op->getLoc(), slot);
  return LLVM::LoadOp::create(b, op->getLoc(), ptrType, address);
}

struct EmberRuntimeSlotsPass
    : ember::impl::EmberRuntimeSlotsBase<EmberRuntimeSlotsPass> {
  using EmberRuntimeSlotsBase::EmberRuntimeSlotsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringSet<> names;
    for (const std::string &name : symbols)
      names.insert(name);
    if (names.empty()) {
      int count = 0;
      const ember::RuntimeSymbol *table = ember::cpuRuntimeSymbols(&count);
      for (int i = 0; i < count; ++i)
        names.insert(table[i].name);
    }

    // Slots only for the functions the code declares (and so may call).
    SmallVector<LLVM::LLVMFuncOp> declarations;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      if (func.isExternal() && names.contains(func.getSymName()))
        declarations.push_back(func);

    OpBuilder b(module.getContext());
    for (LLVM::LLVMFuncOp func : declarations) {
      LLVM::GlobalOp slot = defineSlot(module, func.getSymName());
      SmallVector<Operation *> users;
      std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(func, module);
      if (uses)
        for (const SymbolTable::SymbolUse &use : *uses)
          users.push_back(use.getUser());
      for (Operation *user : users) {
        if (auto call = dyn_cast<LLVM::CallOp>(user)) {
          Value callee = loadSlot(b, call, slot);
          SmallVector<Value> operands{callee};
          llvm::append_range(operands, call.getArgOperands());
          auto indirect = LLVM::CallOp::create(b, call.getLoc(),
                                               func.getFunctionType(), operands);
          call.replaceAllUsesWith(indirect.getResults());
          call.erase();
        } else if (auto address = dyn_cast<LLVM::AddressOfOp>(user)) {
          // Code that takes the function's address gets the slot's value.
          Value callee = loadSlot(b, address, slot);
          address.replaceAllUsesWith(callee);
          address.erase();
        } else {
          user->emitOpError("refers to runtime function '")
              << func.getSymName() << "' in a way ember-runtime-slots cannot "
              << "rewrite into a slot load";
          return signalPassFailure();
        }
      }
      func.erase();
    }
  }
};

} // namespace
