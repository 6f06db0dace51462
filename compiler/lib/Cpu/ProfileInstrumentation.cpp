//===- ProfileInstrumentation.cpp - compile and kernel spans for profiling ===//
//
// What ember.profiler sees of the CPU compiler: each MLIR pass of a lowering
// as a span (a PassInstrumentation), and, in graphs compiled while a profiler
// records kernels, a call to the runtime's record hook around each kernel
// call or parallel launch of the glue. Only the glue changes: kernels keep
// their code and symbols (and so their cache entries), and the frontend keys
// such graphs apart from ordinary ones.
//
//===----------------------------------------------------------------------===//

#include "CpuJitSupport.h"

#include "ember/Runtime/Profiler.h"
#include "mlir/IR/Operation.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"

#include <vector>

using namespace mlir;

namespace ember {
namespace {

/// Times each pass on the thread that runs it (MLIR may run a nested
/// pipeline on several threads, one function each).
class PassSpans : public PassInstrumentation {
public:
  void runBeforePass(Pass *, Operation *) override { starts().push_back(profiler::nowNs()); }
  void runAfterPass(Pass *pass, Operation *op) override { finish(pass, op); }
  void runAfterPassFailed(Pass *pass, Operation *op) override { finish(pass, op); }

private:
  static std::vector<uint64_t> &starts() {
    thread_local std::vector<uint64_t> stack;
    return stack;
  }
  static void finish(Pass *pass, Operation *op) {
    std::vector<uint64_t> &stack = starts();
    if (stack.empty())
      return;
    uint64_t start = stack.back();
    stack.pop_back();
    llvm::StringRef argument = pass->getArgument();
    std::string name = argument.empty() ? pass->getName().str() : argument.str();
    std::string on = op->getName().getStringRef().str();
    if (auto symbol = op->getAttrOfType<StringAttr>("sym_name"))
      on += " @" + symbol.getValue().str();
    profiler::recordSpan(profiler::Category::Pass, std::move(name), start, std::move(on));
  }
};

/// The kernel `call` runs: its callee, or a kernel passed to it (a parallel
/// launch takes the kernel's address).
llvm::Function *kernelOf(llvm::CallInst &call, const llvm::StringSet<> &kernels) {
  if (llvm::Function *callee = call.getCalledFunction())
    if (kernels.contains(callee->getName()))
      return callee;
  for (llvm::Value *argument : call.args())
    if (auto *function = llvm::dyn_cast<llvm::Function>(argument->stripPointerCasts()))
      if (kernels.contains(function->getName()))
        return function;
  return nullptr;
}

} // namespace

void addProfilerInstrumentation(PassManager &pm) {
  if (profiler::enabled())
    pm.addInstrumentation(std::make_unique<PassSpans>());
}

void instrumentKernelCalls(llvm::Module &glue, const llvm::StringSet<> &kernels) {
  llvm::LLVMContext &ctx = glue.getContext();
  llvm::Type *ptr = llvm::PointerType::getUnqual(ctx);
  llvm::FunctionType *hookType =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
  llvm::FunctionCallee begin = glue.getOrInsertFunction("ember_profile_kernel_begin", hookType);
  llvm::FunctionCallee end = glue.getOrInsertFunction("ember_profile_kernel_end", hookType);
  std::vector<std::pair<llvm::CallInst *, llvm::Function *>> calls;
  for (llvm::Function &function : glue)
    for (llvm::BasicBlock &block : function)
      for (llvm::Instruction &instruction : block)
        if (auto *call = llvm::dyn_cast<llvm::CallInst>(&instruction))
          if (llvm::Function *kernel = kernelOf(*call, kernels))
            calls.push_back({call, kernel});
  llvm::StringMap<llvm::Constant *> names;
  for (auto [call, kernel] : calls) {
    llvm::IRBuilder<> b(call);
    llvm::Constant *&name = names[kernel->getName()];
    if (!name)
      name = b.CreateGlobalString(kernel->getName(), "ember_profile_name");
    b.CreateCall(begin, {name});
    b.SetInsertPoint(call->getNextNode());
    b.CreateCall(end, {name});
  }
}

} // namespace ember
