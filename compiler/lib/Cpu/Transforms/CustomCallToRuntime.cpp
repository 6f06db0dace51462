//===- CustomCallToRuntime.cpp - custom ops as runtime calls --------------===//
//
// An `ember.custom_call` becomes two calls into the runtime on one call
// descriptor (layout: ember/Runtime/CustomOpRegistry.h): the shapes call
// fills in the outputs' sizes from the op's shape function, the outputs
// are allocated, and the kernel call runs the op's CPU kernel on strided
// views of the inputs. The descriptor carries pointers as integers, which
// is safe here: the calls are in the block that holds the buffers, and
// buffer deallocation frees at the end of the block.
//
// For a GPU target (option gpu) the host code becomes a launch plan, which
// has no pointers: the calls take the buffers themselves (GpuLowering).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "ember/Runtime/CustomOpRegistry.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cstring>

namespace ember {
#define GEN_PASS_DEF_EMBERCUSTOMCALLTORUNTIME
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

/// The runtime's dtype code (EmberDType, the order of ElementType).
int64_t dtypeCode(Type type) {
  if (type.isInteger(1))
    return EMBER_BOOL;
  if (type.isInteger(32))
    return EMBER_INT32;
  if (type.isInteger(64))
    return EMBER_INT64;
  if (type.isF16())
    return EMBER_FLOAT16;
  if (type.isBF16())
    return EMBER_BFLOAT16;
  if (type.isF32())
    return EMBER_FLOAT32;
  return EMBER_FLOAT64;
}

/// Words of a string: its length, then its bytes 8 to a word.
void appendString(SmallVectorImpl<int64_t> &words, StringRef s) {
  words.push_back(s.size());
  for (size_t i = 0; i < s.size(); i += 8) {
    int64_t word = 0;
    std::memcpy(&word, s.data() + i, std::min<size_t>(8, s.size() - i));
    words.push_back(word);
  }
}

func::FuncOp declare(ModuleOp module, StringRef name, Type descriptor) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b(module.getBodyRegion());
  auto func = func::FuncOp::create(b, module.getLoc(), name,
                                   b.getFunctionType({descriptor}, {}));
  func.setPrivate();
  return func;
}

class Lowering {
public:
  Lowering(ModuleOp module, CustomCallOp op)
      : module(module), op(op), b(op), loc(op.getLoc()) {}

  void run() {
    // The constant head: magic, name, attributes.
    SmallVector<int64_t> head = {kCustomCallMagic};
    appendString(head, op.getCallee());
    head.push_back(op.getOpAttributes().size());
    for (NamedAttribute attr : op.getOpAttributes()) {
      appendString(head, attr.getName().getValue());
      double value = cast<FloatAttr>(attr.getValue()).getValueAsDouble();
      int64_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      head.push_back(bits);
    }
    int64_t size = head.size() + 2;
    SmallVector<Type> types(op.getInputs().getTypes());
    llvm::append_range(types, op.getOutputs().getTypes());
    for (Type type : types)
      size += 4 + 2 * cast<RankedTensorType>(type).getRank();
    auto descType = MemRefType::get({size}, b.getI64Type());
    desc = memref::AllocaOp::create(b, loc, descType);
    for (int64_t word : head)
      store(constant(word));

    store(constant(op.getInputs().size()));
    for (Value input : op.getInputs())
      storeInput(input);
    store(constant(op.getOutputs().size()));
    SmallVector<int64_t> outputFields;
    for (Value output : op.getOutputs()) {
      auto type = cast<RankedTensorType>(output.getType());
      outputFields.push_back(pos);
      store(constant(dtypeCode(type.getElementType())));
      store(constant(type.getRank()));
      pos += 2 + 2 * type.getRank(); // filled by the shapes call and below
    }

    auto anyType = MemRefType::get({ShapedType::kDynamic}, b.getI64Type());
    Value descArg = memref::CastOp::create(b, loc, anyType, desc);
    func::CallOp::create(b, loc,
                         declare(module, "ember_custom_call_shapes", anyType),
                         ValueRange{descArg});
    SmallVector<Value> results;
    for (auto [output, fields] : llvm::zip(op.getOutputs(), outputFields)) {
      auto type = cast<RankedTensorType>(output.getType());
      SmallVector<Value> dynamic;
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          dynamic.push_back(arith::IndexCastOp::create(
              b, loc, b.getIndexType(), load(fields + 4 + d)));
      auto bufferType = MemRefType::get(type.getShape(), type.getElementType());
      Value alloc = memref::AllocOp::create(b, loc, bufferType, dynamic);
      storeAt(fields + 2, pointerOf(alloc));
      storeAt(fields + 3, constant(0));
      results.push_back(bufferization::ToTensorOp::create(
          b, loc, type, alloc, b.getUnitAttr(), b.getUnitAttr()));
    }
    func::CallOp::create(b, loc, declare(module, "ember_custom_call", anyType),
                         ValueRange{descArg});
    op->replaceAllUsesWith(results);
    op->erase();
  }

private:
  Value constant(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  }
  Value toI64(Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
  }
  void storeAt(int64_t at, Value v) {
    memref::StoreOp::create(b, loc, v, desc,
                            ValueRange{arith::ConstantIndexOp::create(b, loc, at)});
  }
  void store(Value v) { storeAt(pos++, v); }
  Value load(int64_t at) {
    return memref::LoadOp::create(
        b, loc, desc, ValueRange{arith::ConstantIndexOp::create(b, loc, at)});
  }
  Value pointerOf(Value buffer) {
    return toI64(memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer));
  }

  /// dtype, rank, pointer, offset, sizes, strides of a read-only view.
  void storeInput(Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
    auto viewType = MemRefType::get(
        type.getShape(), type.getElementType(),
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
    Value view = bufferization::ToBufferOp::create(b, loc, viewType, input,
                                                   /*read_only=*/true);
    auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, view);
    store(constant(dtypeCode(type.getElementType())));
    store(constant(type.getRank()));
    store(pointerOf(view));
    store(toI64(metadata.getOffset()));
    for (Value size : metadata.getSizes())
      store(toI64(size));
    for (Value stride : metadata.getStrides())
      store(toI64(stride));
  }

  ModuleOp module;
  CustomCallOp op;
  OpBuilder b;
  Location loc;
  Value desc;
  int64_t pos = 0;
};

/// The GPU form: calls of private declarations the launch plan writer
/// turns into "custom_shapes" and "custom_call" instructions.
class GpuLowering {
public:
  GpuLowering(ModuleOp module, CustomCallOp op, int64_t number)
      : module(module), op(op), b(op), loc(op.getLoc()), number(number) {}

  void run() {
    SmallVector<Value> views;
    SmallVector<int64_t> dtypes, ranks;
    for (Value input : op.getInputs()) {
      auto type = cast<RankedTensorType>(input.getType());
      SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
      auto viewType = MemRefType::get(
          type.getShape(), type.getElementType(),
          StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
      views.push_back(bufferization::ToBufferOp::create(b, loc, viewType, input,
                                                        /*read_only=*/true));
      dtypes.push_back(dtypeCode(type.getElementType()));
    }
    int64_t numSizes = 0;
    for (Value output : op.getOutputs()) {
      auto type = cast<RankedTensorType>(output.getType());
      dtypes.push_back(dtypeCode(type.getElementType()));
      ranks.push_back(type.getRank());
      numSizes += type.getRank();
    }
    auto annotate = [&](func::CallOp call) {
      call->setAttr("ember.custom_op", op.getCalleeAttr());
      call->setAttr("ember.op_attributes", op.getOpAttributes());
      call->setAttr("ember.custom_dtypes", b.getDenseI64ArrayAttr(dtypes));
      call->setAttr("ember.custom_output_ranks", b.getDenseI64ArrayAttr(ranks));
      call->setAttr("ember.custom_inputs",
                    b.getI64IntegerAttr(op.getInputs().size()));
    };
    SmallVector<Type> sizeTypes(numSizes, b.getIndexType());
    auto shapes = func::CallOp::create(
        b, loc, declare("ember_custom_call_gpu_shapes_", ValueRange(views), sizeTypes),
        ValueRange(views));
    annotate(shapes);

    SmallVector<Value> buffers(views), results;
    int64_t next = 0;
    for (Value output : op.getOutputs()) {
      auto type = cast<RankedTensorType>(output.getType());
      SmallVector<Value> dynamic;
      for (int64_t d = 0; d < type.getRank(); ++d, ++next)
        if (type.isDynamicDim(d))
          dynamic.push_back(shapes.getResult(next));
      auto bufferType = MemRefType::get(type.getShape(), type.getElementType());
      Value alloc = memref::AllocOp::create(b, loc, bufferType, dynamic);
      buffers.push_back(alloc);
      results.push_back(bufferization::ToTensorOp::create(
          b, loc, type, alloc, b.getUnitAttr(), b.getUnitAttr()));
    }
    auto call = func::CallOp::create(
        b, loc, declare("ember_custom_call_gpu_", ValueRange(buffers), {}),
        ValueRange(buffers));
    annotate(call);
    op->replaceAllUsesWith(results);
    op->erase();
  }

private:
  /// A private declaration of its own (the types differ between calls).
  func::FuncOp declare(StringRef prefix, ValueRange args, TypeRange results) {
    OpBuilder top(module.getBodyRegion());
    auto func = func::FuncOp::create(
        top, module.getLoc(), (prefix + std::to_string(number)).str(),
        top.getFunctionType(args.getTypes(), results));
    func.setPrivate();
    return func;
  }

  ModuleOp module;
  CustomCallOp op;
  OpBuilder b;
  Location loc;
  int64_t number;
};

struct EmberCustomCallToRuntimePass
    : ember::impl::EmberCustomCallToRuntimeBase<EmberCustomCallToRuntimePass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // An unused custom call must not become a call, which would run.
    SmallVector<CustomCallOp> calls;
    module.walk([&](CustomCallOp op) { calls.push_back(op); });
    for (CustomCallOp op : llvm::reverse(calls)) {
      if (isOpTriviallyDead(op)) {
        op->erase();
        continue;
      }
    }
    calls.clear();
    module.walk([&](CustomCallOp op) { calls.push_back(op); });
    int64_t number = 0;
    for (CustomCallOp op : calls) {
      if (gpu)
        GpuLowering(module, op, number++).run();
      else
        Lowering(module, op).run();
    }
  }
};

} // namespace
