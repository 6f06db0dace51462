//===- EmberOps.td - ember dialect operations --------------*- tablegen -*-===//
//
// Every op is pure and works on ranked tensors with static or dynamic dims.
// Attributes name dims with non-negative indices; the tracer normalizes
// negative Python dims before it builds an op.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_DIALECT_EMBEROPS_TD
#define EMBER_DIALECT_EMBEROPS_TD

include "ember/Dialect/EmberDialect.td"
include "ember/Dialect/EmberInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Constants and casts
//===----------------------------------------------------------------------===//

def Ember_ConstantOp : Ember_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "a tensor constant";
  let description = [{
    ```mlir
    %0 = ember.constant dense<[1.0, 2.0]> : tensor<2xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

def Ember_CastOp : Ember_Op<"cast",
    [Pure, SameOperandsAndResultShape, Ember_Differentiable, Ember_Elementwise]> {
  let summary = "element type conversion";
  let description = [{
    Converts each element like `Tensor.to(dtype)` in PyTorch: floats to
    integers truncate toward zero, anything to bool tests `!= 0`, bool to a
    number gives 0 or 1. Differentiable between float types only.

    ```mlir
    %1 = ember.cast %0 : tensor<?x4xf32> to tensor<?x4xi32>
    ```
  }];
  let arguments = (ins Ember_Tensor:$input);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Unary element-wise ops
//===----------------------------------------------------------------------===//

// The op vocabulary: dialects/gen_vocabulary.py reads these classes to
// generate the frontend's op table (ember/Dialect/EmberVocabulary.inc), and
// the Python bindings define each of `torchNames` as an `ember.*` function,
// a Tensor method and its in-place `name_` form. The operand type chooses
// the tracer's dtype rule: a float-only op computes integer inputs in the
// default float dtype, a numeric op rejects bool, an integer-or-bool op
// rejects floats.
class Ember_UnaryOp<string mnemonic, Type type, string doc,
                    list<Trait> traits = [Ember_Differentiable]>
    : Ember_Op<mnemonic,
               [Pure, SameOperandsAndResultType, Ember_Elementwise] # traits> {
  let summary = doc;
  let arguments = (ins type:$input);
  let results = (outs type:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  list<string> torchNames = [mnemonic];
}

def Ember_NegOp : Ember_UnaryOp<"neg", Ember_NumericTensor, "-x"> {
  let torchNames = ["neg", "negative"];
}
def Ember_AbsOp : Ember_UnaryOp<"abs", Ember_NumericTensor, "|x|"> {
  let torchNames = ["abs", "absolute"];
}
def Ember_ReluOp : Ember_UnaryOp<"relu", Ember_NumericTensor, "max(x, 0)">;
def Ember_SignOp : Ember_UnaryOp<"sign", Ember_NumericTensor,
    "-1, 0 or 1 by the sign of x (NaN stays NaN)"> {
  let torchNames = ["sign", "sgn"];
}
def Ember_ExpOp : Ember_UnaryOp<"exp", Ember_FloatTensor, "e^x">;
def Ember_Exp2Op : Ember_UnaryOp<"exp2", Ember_FloatTensor, "2^x">;
def Ember_Expm1Op : Ember_UnaryOp<"expm1", Ember_FloatTensor,
                                  "e^x - 1, accurate near 0">;
def Ember_LogOp : Ember_UnaryOp<"log", Ember_FloatTensor, "natural logarithm">;
def Ember_Log2Op : Ember_UnaryOp<"log2", Ember_FloatTensor, "base-2 logarithm">;
def Ember_Log10Op : Ember_UnaryOp<"log10", Ember_FloatTensor,
                                  "base-10 logarithm">;
def Ember_Log1pOp : Ember_UnaryOp<"log1p", Ember_FloatTensor,
                                  "log(1 + x), accurate near 0">;
def Ember_SqrtOp : Ember_UnaryOp<"sqrt", Ember_FloatTensor, "square root">;
def Ember_RsqrtOp : Ember_UnaryOp<"rsqrt", Ember_FloatTensor, "1 / sqrt(x)">;
def Ember_SinOp : Ember_UnaryOp<"sin", Ember_FloatTensor, "sine">;
def Ember_CosOp : Ember_UnaryOp<"cos", Ember_FloatTensor, "cosine">;
def Ember_TanOp : Ember_UnaryOp<"tan", Ember_FloatTensor, "tangent">;
def Ember_AsinOp : Ember_UnaryOp<"asin", Ember_FloatTensor, "arc sine"> {
  let torchNames = ["asin", "arcsin"];
}
def Ember_AcosOp : Ember_UnaryOp<"acos", Ember_FloatTensor, "arc cosine"> {
  let torchNames = ["acos", "arccos"];
}
def Ember_AtanOp : Ember_UnaryOp<"atan", Ember_FloatTensor, "arc tangent"> {
  let torchNames = ["atan", "arctan"];
}
def Ember_SinhOp : Ember_UnaryOp<"sinh", Ember_FloatTensor, "hyperbolic sine">;
def Ember_CoshOp : Ember_UnaryOp<"cosh", Ember_FloatTensor,
                                 "hyperbolic cosine">;
def Ember_TanhOp : Ember_UnaryOp<"tanh", Ember_FloatTensor, "hyperbolic tangent">;
def Ember_AsinhOp : Ember_UnaryOp<"asinh", Ember_FloatTensor,
                                  "inverse hyperbolic sine"> {
  let torchNames = ["asinh", "arcsinh"];
}
def Ember_AcoshOp : Ember_UnaryOp<"acosh", Ember_FloatTensor,
                                  "inverse hyperbolic cosine"> {
  let torchNames = ["acosh", "arccosh"];
}
def Ember_AtanhOp : Ember_UnaryOp<"atanh", Ember_FloatTensor,
                                  "inverse hyperbolic tangent"> {
  let torchNames = ["atanh", "arctanh"];
}
def Ember_SigmoidOp : Ember_UnaryOp<"sigmoid", Ember_FloatTensor,
                                    "1 / (1 + e^-x)">;
def Ember_GeluOp : Ember_UnaryOp<"gelu", Ember_FloatTensor,
                                 "x * Phi(x), the exact (erf) form of GELU">;
def Ember_ErfOp : Ember_UnaryOp<"erf", Ember_FloatTensor,
                                "the error function (GELU's derivative uses it)">;
def Ember_ErfcOp : Ember_UnaryOp<"erfc", Ember_FloatTensor,
                                 "1 - erf(x), accurate for large x">;
def Ember_ErfinvOp : Ember_UnaryOp<"erfinv", Ember_FloatTensor,
                                   "the inverse error function">;
// Rounding: the tracer returns integer inputs unchanged, as torch does.
def Ember_FloorOp : Ember_UnaryOp<"floor", Ember_FloatTensor,
                                  "round toward -inf">;
def Ember_CeilOp : Ember_UnaryOp<"ceil", Ember_FloatTensor, "round toward +inf">;
def Ember_RoundOp : Ember_UnaryOp<"round", Ember_FloatTensor,
                                  "round half to even, as torch.round">;
def Ember_TruncOp : Ember_UnaryOp<"trunc", Ember_FloatTensor,
                                  "round toward zero"> {
  let torchNames = ["trunc", "fix"];
}
def Ember_NotOp : Ember_UnaryOp<"not", Ember_IntegerOrBoolTensor,
                                "bitwise not (logical not on bool)", []> {
  let torchNames = ["bitwise_not"];
}

//===----------------------------------------------------------------------===//
// Binary element-wise ops with broadcasting
//===----------------------------------------------------------------------===//

class Ember_BinaryOp<string mnemonic, Type type, string doc,
                     string example = "f32",
                     list<Trait> traits = [Ember_Differentiable]>
    : Ember_Op<mnemonic, [Pure, InferTypeOpAdaptor, Ember_Elementwise] # traits> {
  let summary = doc;
  list<string> torchNames = [mnemonic];
  let description = [{
    Both operands have the same element type; shapes broadcast like NumPy.

    ```mlir
    %2 = ember.}] # mnemonic # [{ %0, %1 : tensor<?x4x}] # example # [{>, tensor<4x}] #
        example # [{> -> tensor<?x4x}] # example # [{>
    ```
  }];
  let arguments = (ins type:$lhs, type:$rhs);
  let results = (outs type:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &results) {
      return inferBinaryResultType(loc, "}] # mnemonic # [{", adaptor.getLhs(),
                                   adaptor.getRhs(), results);
    }
  }];
}

def Ember_AddOp : Ember_BinaryOp<"add", Ember_NumericTensor, "lhs + rhs">;
def Ember_SubOp : Ember_BinaryOp<"sub", Ember_NumericTensor, "lhs - rhs"> {
  let torchNames = ["sub", "subtract"];
}
def Ember_MulOp : Ember_BinaryOp<"mul", Ember_NumericTensor, "lhs * rhs"> {
  let torchNames = ["mul", "multiply"];
}
def Ember_DivOp : Ember_BinaryOp<"div", Ember_NumericTensor,
    "lhs / rhs (integers divide truncating toward zero)"> {
  let torchNames = ["div", "divide", "true_divide"];
}
def Ember_PowOp : Ember_BinaryOp<"pow", Ember_FloatTensor, "lhs ** rhs">;
def Ember_Atan2Op : Ember_BinaryOp<"atan2", Ember_FloatTensor,
    "the angle of the point (rhs, lhs), in (-pi, pi]"> {
  let torchNames = ["atan2", "arctan2"];
}
def Ember_FmodOp : Ember_BinaryOp<"fmod", Ember_NumericTensor,
    "C's fmod: the remainder of lhs / rhs truncated, with the sign of lhs">;
def Ember_RemainderOp : Ember_BinaryOp<"remainder", Ember_NumericTensor,
    "Python's %: the remainder of lhs / rhs floored, with the sign of rhs">;
def Ember_MaximumOp : Ember_BinaryOp<"maximum", Ember_NumericTensor,
                                     "element-wise max">;
def Ember_MinimumOp : Ember_BinaryOp<"minimum", Ember_NumericTensor,
                                     "element-wise min">;
def Ember_AndOp : Ember_BinaryOp<"and", Ember_IntegerOrBoolTensor,
    "bitwise and (logical and on bool)", "i1", []> {
  let torchNames = ["bitwise_and"];
}
def Ember_OrOp : Ember_BinaryOp<"or", Ember_IntegerOrBoolTensor,
    "bitwise or (logical or on bool)", "i1", []> {
  let torchNames = ["bitwise_or"];
}
def Ember_ShiftLeftOp : Ember_BinaryOp<"shift_left", Ember_IntegerOrBoolTensor,
    "lhs << rhs (0 once rhs reaches the bit width, as torch gives)", "i64", []> {
  let torchNames = ["bitwise_left_shift"];
}
def Ember_ShiftRightOp : Ember_BinaryOp<"shift_right", Ember_IntegerOrBoolTensor,
    "lhs >> rhs, arithmetic (the sign fills once rhs reaches the bit width)",
    "i64", []> {
  let torchNames = ["bitwise_right_shift"];
}
def Ember_XorOp : Ember_BinaryOp<"xor", Ember_IntegerOrBoolTensor,
    "bitwise exclusive or (logical xor on bool)", "i1", []> {
  let torchNames = ["bitwise_xor"];
}

def Ember_CompareOp : Ember_Op<"compare",
    [Pure, InferTypeOpAdaptor, Ember_Elementwise]> {
  let summary = "element-wise comparison giving a bool tensor";
  let description = [{
    ```mlir
    %m = ember.compare lt, %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xi1>
    ```
  }];
  let arguments = (ins Ember_ComparePredicate:$predicate, Ember_Tensor:$lhs,
                       Ember_Tensor:$rhs);
  let results = (outs Ember_BoolTensor:$result);
  let assemblyFormat = [{
    $predicate `,` $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

def Ember_SelectOp : Ember_Op<"select",
    [Pure, InferTypeOpAdaptor, Ember_Differentiable, Ember_Elementwise]> {
  let summary = "where(condition, true_value, false_value) with broadcasting";
  let arguments = (ins Ember_BoolTensor:$condition, Ember_Tensor:$true_value,
                       Ember_Tensor:$false_value);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $condition `,` $true_value `,` $false_value attr-dict `:` type($condition) `,`
    type($true_value) `,` type($false_value) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class Ember_ReduceOp<string mnemonic, Type type, string doc>
    : Ember_Op<mnemonic, [Pure, InferTypeOpAdaptor, Ember_Differentiable]> {
  let summary = doc;
  let description = [{
    Reduces over the listed dims (non-empty, distinct, in range). With
    `keepdim` the reduced dims stay as size 1.

    ```mlir
    %s = ember.}] # mnemonic # [{ %x dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
    ```
  }];
  let arguments = (ins type:$input, DenseI64ArrayAttr:$dims, UnitAttr:$keepdim);
  let results = (outs type:$result);
  let assemblyFormat = [{
    $input `dims` `=` $dims (`keepdim` $keepdim^)? attr-dict `:` type($input) `->` type($result)
  }];
}

def Ember_SumOp : Ember_ReduceOp<"sum", Ember_NumericTensor, "sum over dims">;
def Ember_MeanOp : Ember_ReduceOp<"mean", Ember_FloatTensor, "mean over dims">;
def Ember_MaxOp : Ember_ReduceOp<"max", Ember_NumericTensor, "max over dims">;
def Ember_MinOp : Ember_ReduceOp<"min", Ember_NumericTensor, "min over dims">;

class Ember_ArgReduceOp<string mnemonic, string extreme>
    : Ember_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let summary = "index (i64) of the first " # extreme # " along one dim";
  let description = [{
    Like `torch.}] # mnemonic # [{`: ties give the lowest index, and a NaN
    counts as the }] # extreme # [{ (the first NaN wins).

    ```mlir
    %i = ember.}] # mnemonic # [{ %x dim = 1 keepdim : tensor<?x8xf32> -> tensor<?x1xi64>
    ```
  }];
  let arguments = (ins Ember_NumericTensor:$input, I64Attr:$dim,
                       UnitAttr:$keepdim);
  let results = (outs Ember_IndexTensor:$result);
  let assemblyFormat = [{
    $input `dim` `=` $dim (`keepdim` $keepdim^)? attr-dict `:` type($input) `->` type($result)
  }];
}

def Ember_ArgmaxOp : Ember_ArgReduceOp<"argmax", "maximum">;
def Ember_ArgminOp : Ember_ArgReduceOp<"argmin", "minimum">;

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

def Ember_MatmulOp : Ember_Op<"matmul",
    [Pure, InferTypeOpAdaptor, Ember_Differentiable]> {
  let summary = "matrix product, batched with broadcast batch dims";
  let description = [{
    Both operands have rank >= 2: `[..., M, K] x [..., K, N] -> [..., M, N]`,
    batch dims broadcasting like NumPy. (1-D operands are reshaped by the
    tracer, as `torch.matmul` does.)

    ```mlir
    %c = ember.matmul %a, %b : tensor<?x64xf32>, tensor<64x10xf32> -> tensor<?x10xf32>
    ```
  }];
  let arguments = (ins Ember_NumericTensor:$lhs, Ember_NumericTensor:$rhs);
  let results = (outs Ember_NumericTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Ember_ReshapeOp : Ember_Op<"reshape", [Pure, Ember_Differentiable]> {
  let summary = "reshape to the result type (row-major element order)";
  let description = [{
    One `index` operand gives each dynamic dim of the result, in order.

    `groups`, when present, says how the dims correspond: pairs (input dims,
    result dims) of consecutive dims whose element counts are equal, in
    order (the tracer knows the sizes; the types, whose dims are dynamic, do
    not). The lowering then collapses and expands the dims of each group,
    which reads a strided input (a slice) in place; without it the input is
    made dense first.

    ```mlir
    %r = ember.reshape %x[%n] : tensor<?x4xf32> -> tensor<?xf32>
    %h = ember.reshape %q[%b, %h, %d] {groups = array<i64: 1, 1, 1, 2>}
        : tensor<?x?xf32> -> tensor<?x?x?xf32>
    ```
  }];
  let arguments = (ins Ember_Tensor:$input, Variadic<Index>:$sizes,
                       OptionalAttr<DenseI64ArrayAttr>:$groups);
  let results = (outs Ember_Tensor:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::Value":$input,
                   "::mlir::ValueRange":$sizes), [{
      build($_builder, $_state, type, input, sizes, ::mlir::DenseI64ArrayAttr());
    }]>
  ];
  let assemblyFormat = [{
    $input (`[` $sizes^ `]`)? attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Ember_TransposeOp : Ember_Op<"transpose",
    [Pure, InferTypeOpAdaptor, Ember_Differentiable]> {
  let summary = "permute dims: result dim i is input dim permutation[i]";
  let arguments = (ins Ember_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $input `perm` `=` $permutation attr-dict `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
}

def Ember_BroadcastToOp : Ember_Op<"broadcast_to",
    [Pure, Ember_Differentiable]> {
  let summary = "broadcast to the result shape (NumPy rules)";
  let description = [{
    One `index` operand gives each dynamic dim of the result, in order.

    ```mlir
    %b = ember.broadcast_to %x[%n] : tensor<1x4xf32> -> tensor<?x4xf32>
    ```
  }];
  let arguments = (ins Ember_Tensor:$input, Variadic<Index>:$sizes);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $input (`[` $sizes^ `]`)? attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Ember_SliceOp : Ember_Op<"slice",
    [Pure, AttrSizedOperandSegments, InferTypeOpAdaptor, Ember_Differentiable]> {
  let summary = "Python slicing start:stop:step on every dim";
  let description = [{
    Per dim, Python semantics: negative `start`/`stop` count from the end,
    both clamp to the dim, `step` is positive. A `stop` of
    9223372036854775807 (INT64_MAX) means "to the end".

    A start or stop may be a run-time `index` value instead (written as an
    SSA value in the list, stored as `ShapedType::kDynamic` in the
    attribute), with the same semantics: an eager program that slices a new
    window each step then runs the same compiled code. Steps stay static,
    since a unit step is what makes a slice a contiguous copy.

    ```mlir
    %s = ember.slice %x start = [0, 1] stop = [9223372036854775807, 7] step = [1, 2]
           : tensor<?x8xf32> -> tensor<?x3xf32>
    %w = ember.slice %x start = [%i, 0] stop = [%j, 9223372036854775807] step = [1, 1]
           : tensor<?x8xf32> -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Ember_Tensor:$input,
                       Variadic<Index>:$dynamic_start, Variadic<Index>:$dynamic_stop,
                       DenseI64ArrayAttr:$start, DenseI64ArrayAttr:$stop,
                       DenseI64ArrayAttr:$step);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $input `start` `=` custom<DynamicIndexList>($dynamic_start, $start)
    `stop` `=` custom<DynamicIndexList>($dynamic_stop, $stop) `step` `=` $step
    attr-dict `:` type($input) `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::llvm::ArrayRef<int64_t>":$start,
                   "::llvm::ArrayRef<int64_t>":$stop, "::llvm::ArrayRef<int64_t>":$step), [{
      build($_builder, $_state, input, ::mlir::ValueRange(), ::mlir::ValueRange(),
            start, stop, step);
    }]>
  ];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Ember_InsertSliceOp : Ember_Op<"insert_slice",
    [Pure, AttrSizedOperandSegments, AllElementTypesMatch<["source", "dest"]>,
     AllTypesMatch<["dest", "result"]>, Ember_Differentiable]> {
  let summary = "dest with the region a slice would read replaced by source";
  let description = [{
    The region is the one `ember.slice %dest start stop step` reads (same
    Python semantics, run-time starts and stops included), and `source` has
    that slice's shape; the result is `dest` with those elements replaced,
    like `dest[start:stop:step] = source` without broadcasting (the tracer
    broadcasts `source` first).

    ```mlir
    %r = ember.insert_slice %src into %x start = [-2, 0] stop = [9223372036854775807, 8] step = [1, 2]
           : tensor<2x4xf32> into tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Ember_Tensor:$source, Ember_Tensor:$dest,
                       Variadic<Index>:$dynamic_start, Variadic<Index>:$dynamic_stop,
                       DenseI64ArrayAttr:$start, DenseI64ArrayAttr:$stop,
                       DenseI64ArrayAttr:$step);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $source `into` $dest `start` `=` custom<DynamicIndexList>($dynamic_start, $start)
    `stop` `=` custom<DynamicIndexList>($dynamic_stop, $stop) `step` `=` $step
    attr-dict `:` type($source) `into` type($dest)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$source,
                   "::mlir::Value":$dest, "::llvm::ArrayRef<int64_t>":$start,
                   "::llvm::ArrayRef<int64_t>":$stop, "::llvm::ArrayRef<int64_t>":$step), [{
      build($_builder, $_state, result, source, dest, ::mlir::ValueRange(),
            ::mlir::ValueRange(), start, stop, step);
    }]>
  ];
  let hasVerifier = 1;
}

def Ember_GatherOp : Ember_Op<"gather",
    [Pure, InferTypeOpAdaptor, Ember_Differentiable]> {
  let summary = "pick slices along one dim by an index tensor";
  let description = [{
    `result[i..., j..., k...] = input[i..., indices[j...], k...]` where the
    `i` run over the dims before `dim` and the `k` over those after it: the
    result shape is `input.shape[:dim] + indices.shape + input.shape[dim+1:]`
    (NumPy's `take` along an axis; `torch.index_select` for 1-D indices).
    Indices are i32 or i64 of any rank, 0-d included; a negative index counts
    from the end. An index out of range is undefined behaviour: the tracer
    checks bounds before it builds the op.

    ```mlir
    %g = ember.gather %x, %idx dim = 1 : tensor<?x8xf32>, tensor<2x3xi64> -> tensor<?x2x3xf32>
    ```
  }];
  let arguments = (ins Ember_Tensor:$input, Ember_IndicesTensor:$indices,
                       I64Attr:$dim);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $indices `dim` `=` $dim attr-dict `:` type($input) `,`
    type($indices) `->` type($result)
  }];
}

def Ember_ScatterAddOp : Ember_Op<"scatter_add",
    [Pure, AllTypesMatch<["dest", "result"]>,
     AllElementTypesMatch<["dest", "updates"]>, Ember_Differentiable]> {
  let summary = "add slices into dest along one dim at an index tensor's positions";
  let description = [{
    The adjoint of `ember.gather` (its VJP uses it): the result is `dest`
    with `updates[i..., j..., k...]` added to `result[i..., indices[j...], k...]`,
    where `updates` has the shape `gather` would give,
    `dest.shape[:dim] + indices.shape + dest.shape[dim+1:]`. Duplicate
    indices accumulate. A negative index counts from the end; an index out of
    range is undefined behaviour, as for `gather`.

    ```mlir
    %r = ember.scatter_add %dest, %idx, %upd dim = 1
           : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2x3xf32>
    ```
  }];
  let arguments = (ins Ember_NumericTensor:$dest, Ember_IndicesTensor:$indices,
                       Ember_NumericTensor:$updates, I64Attr:$dim);
  let results = (outs Ember_NumericTensor:$result);
  let assemblyFormat = [{
    $dest `,` $indices `,` $updates `dim` `=` $dim attr-dict `:` type($dest) `,`
    type($indices) `,` type($updates)
  }];
  let hasVerifier = 1;
}

def Ember_ConcatOp : Ember_Op<"concat",
    [Pure, InferTypeOpAdaptor, Ember_Differentiable]> {
  let summary = "concatenate along one dim";
  let arguments = (ins Variadic<Ember_Tensor>:$inputs, I64Attr:$dim);
  let results = (outs Ember_Tensor:$result);
  let assemblyFormat = [{
    $inputs `dim` `=` $dim attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Composite ops (expanded by ember-decompose)
//===----------------------------------------------------------------------===//

class Ember_SoftmaxLikeOp<string mnemonic, string doc>
    : Ember_Op<mnemonic, [Pure, SameOperandsAndResultType, Ember_Differentiable]> {
  let summary = doc;
  let description = [{
    A composite op: `ember-decompose` rewrites it into max/sub/exp/sum ops,
    subtracting the max along `dim` for numerical stability.
  }];
  let arguments = (ins Ember_FloatTensor:$input, I64Attr:$dim);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = "$input `dim` `=` $dim attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Ember_SoftmaxOp : Ember_SoftmaxLikeOp<"softmax", "softmax along one dim">;
def Ember_LogSoftmaxOp : Ember_SoftmaxLikeOp<"log_softmax",
                                             "log(softmax) along one dim">;

/// Normalisations over the innermost dim (a torch normalized_shape of
/// several dims reaches them flattened into one): one row at a time.
class Ember_NormLikeOp<string mnemonic, string doc, string formula>
    : Ember_Op<mnemonic, [Pure, AttrSizedOperandSegments,
                          AllTypesMatch<["input", "result"]>,
                          Ember_Differentiable]> {
  let summary = doc;
  let description = !strconcat([{
    A composite op over the innermost dim (each row of `input`):
  }], formula, [{
    then times `weight` and plus `bias` where given (both 1-D, the row's
    length, the input's element type). f16 and bf16 compute in f32. On the
    CPU `ember-norm-rows` lowers it row by row in one trip through memory;
    elsewhere `ember-decompose` rewrites it into primitives.

    ```mlir
    %y = ember.layer_norm %x weight %w : tensor<1024xf32>
           bias %b : tensor<1024xf32> eps = 1.0e-05 : tensor<?x1024xf32>
    ```
  }]);
  let arguments = (ins Ember_FloatTensor:$input,
                       Optional<Ember_FloatTensor>:$weight,
                       Optional<Ember_FloatTensor>:$bias, F64Attr:$eps);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` $weight^ `:` type($weight))? (`bias` $bias^ `:` type($bias))?
    `eps` `=` $eps attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def Ember_LayerNormOp : Ember_NormLikeOp<"layer_norm",
    "layer normalisation over the innermost dim",
    "`(x - mean(x)) / sqrt(var(x) + eps)` with the biased variance,">;
def Ember_RmsNormOp : Ember_NormLikeOp<"rms_norm",
    "root-mean-square normalisation over the innermost dim",
    "`x / sqrt(mean(x^2) + eps)`,">;

/// Cross-entropy over class indices, row by row: the loss of each row of
/// logits against its target class, ready for the caller's reduction.
def Ember_CrossEntropyRowsOp : Ember_Op<"cross_entropy_rows",
    [Pure, Ember_Differentiable]> {
  let summary = "per-row cross-entropy of (N, C) logits against class indices";
  let description = [{
    `result[i] = logsumexp(logits[i, :]) - logits[i, target[i]]`, and 0 for
    a row whose target is `ignore_index` or outside [0, C) (torch's
    `cross_entropy(..., reduction='none')` without weights). A composite
    op: on the CPU `ember-softmax-rows` lowers it in one pass over each row
    of logits (rows in parallel); `ember-decompose` rewrites it into
    primitives otherwise.

    ```mlir
    %l = ember.cross_entropy_rows %x, %t ignore_index = -100
           : tensor<?x10xf32>, tensor<?xi64> -> tensor<?xf32>
    ```
  }];
  let arguments = (ins Ember_FloatTensor:$logits, Ember_IndexTensor:$target,
                       I64Attr:$ignore_index);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $target `ignore_index` `=` $ignore_index attr-dict `:`
    type($logits) `,` type($target) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backward composites (built by the VJPs of the ops above)
//===----------------------------------------------------------------------===//

class Ember_SoftmaxBackwardLikeOp<string mnemonic, string doc, string formula>
    : Ember_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = doc;
  let description = !strconcat([{
    The input gradient of a softmax-like op from its result `output` and the
    result's cotangent `grad`, along `dim`:
  }], formula, [{
    A composite op: on the CPU `ember-softmax-rows` lowers it over the
    innermost dim row by row (one trip through memory); `ember-decompose`
    rewrites it into primitives otherwise.
  }]);
  let arguments = (ins Ember_FloatTensor:$grad, Ember_FloatTensor:$output,
                       I64Attr:$dim);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $output `dim` `=` $dim attr-dict `:` type($grad)
  }];
  let hasVerifier = 1;
}

def Ember_SoftmaxBackwardOp : Ember_SoftmaxBackwardLikeOp<"softmax_backward",
    "the input gradient of softmax", "`output * (grad - sum(grad * output))`.">;
def Ember_LogSoftmaxBackwardOp : Ember_SoftmaxBackwardLikeOp<
    "log_softmax_backward", "the input gradient of log_softmax",
    "`grad - exp(output) * sum(grad)`.">;

class Ember_NormBackwardLikeOp<string mnemonic, string doc, string formula>
    : Ember_Op<mnemonic, [Pure, AllTypesMatch<["grad", "input", "result"]>]> {
  let summary = doc;
  let description = !strconcat([{
    The input gradient of the forward op over the innermost dim, from its
    input `input` and the result's cotangent `grad` (`weight` as the forward
    op had it; its and the bias's gradients are column sums the VJP builds
    apart). With `xhat` the normalized row, `rstd` its 1 / sqrt(... + eps)
    and `gw = grad * weight`:
  }], formula, [{
    The row's statistics are recomputed from `input`. On the CPU
    `ember-norm-rows` lowers it row by row in one trip through memory;
    elsewhere `ember-decompose` rewrites it into primitives.
  }]);
  let arguments = (ins Ember_FloatTensor:$grad, Ember_FloatTensor:$input,
                       Optional<Ember_FloatTensor>:$weight, F64Attr:$eps);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $input (`weight` $weight^ `:` type($weight))? `eps` `=` $eps
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def Ember_LayerNormBackwardOp : Ember_NormBackwardLikeOp<"layer_norm_backward",
    "the input gradient of layer_norm",
    "`rstd * (gw - mean(gw) - xhat * mean(gw * xhat))`.">;
def Ember_RmsNormBackwardOp : Ember_NormBackwardLikeOp<"rms_norm_backward",
    "the input gradient of rms_norm", "`rstd * (gw - xhat * mean(gw * xhat))`.">;

def Ember_CrossEntropyRowsBackwardOp : Ember_Op<"cross_entropy_rows_backward",
    [Pure, AllTypesMatch<["logits", "result"]>]> {
  let summary = "the logits' gradient of cross_entropy_rows";
  let description = [{
    `grad[i] * (softmax(logits[i, :]) - onehot(target[i]))`, and 0 for the
    rows cross_entropy_rows gives 0. The row's max and sum are recomputed
    from `logits`: on the CPU `ember-softmax-rows` lowers it in one trip
    through memory per row; `ember-decompose` rewrites it into primitives
    otherwise.
  }];
  let arguments = (ins Ember_FloatTensor:$grad, Ember_FloatTensor:$logits,
                       Ember_IndexTensor:$target, I64Attr:$ignore_index);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $logits `,` $target `ignore_index` `=` $ignore_index attr-dict
    `:` type($grad) `,` type($logits) `,` type($target)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Custom gradients (autograd.Function)
//===----------------------------------------------------------------------===//

def Ember_CustomVjpOp : Ember_Op<"custom_vjp",
    [Pure, IsolatedFromAbove, Ember_Differentiable]> {
  let summary = "forward values whose gradient is a user-written backward";
  let description = [{
    The value of an `autograd.Function`: the results are the forward
    outputs, computed elsewhere and passed in; the region is the user's
    backward, traced into ember ops. Operands: the `num_primals` inputs
    that receive gradients, then one forward output per result, then any
    other values the backward reads (captures). The region's arguments
    stand for every operand, then one cotangent per result; it yields one
    gradient per primal, of the primal's type.

    The VJP inlines the region with the real cotangents, the primal
    operands and, for the forward outputs, the op's own results: a backward
    that reads a saved output differentiates again through this op, so
    gradients of gradients follow the user's backward too. Before lowering,
    `ember-strip-custom-vjp` replaces the results by the forward outputs.

    ```mlir
    %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64}
        : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32> ({
    ^bb0(%x_: tensor<?xf32>, %y_: tensor<?xf32>, %g: tensor<?xf32>):
      %dx = ember.mul %g, %y_ : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
      ember.yield %dx : tensor<?xf32>
    })
    ```
  }];
  let arguments = (ins Variadic<Ember_Tensor>:$inputs, I64Attr:$num_primals);
  let results = (outs Variadic<Ember_Tensor>:$outputs);
  let regions = (region SizedRegion<1>:$backward);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs) $backward
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The forward output that result `i` carries.
    ::mlir::Value getForwardOutput(unsigned i) {
      return getInputs()[getNumPrimals() + i];
    }
  }];
}

// Not an Ember_Op: a terminator is no op of the tracer's vocabulary.
def Ember_YieldOp : Op<Ember_Dialect, "yield",
    [Pure, Terminator, HasParent<"CustomVjpOp">]> {
  let summary = "the gradients a custom_vjp backward returns";
  let arguments = (ins Variadic<Ember_Tensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// Recurrent layers (nn.RNN, nn.LSTM, nn.GRU)
//===----------------------------------------------------------------------===//

/// One direction of one recurrent layer over a whole sequence: a loop over
/// a run-time number of time steps, so a new sequence length runs the same
/// compiled code (an unrolled Python loop would not).
def Ember_RecurrentSequenceOp : Ember_Op<"recurrent_sequence",
    [Pure, AttrSizedOperandSegments, Ember_Differentiable]> {
  let summary = "a recurrent layer (RNN, LSTM, GRU) over a sequence";
  let description = [{
    `cell` picks the recurrence (torch's gate order and formulas): 0
    `h = tanh(x_t + h W^T + b)`, 1 the same with relu, 2 LSTM (gates
    i, f, g, o; with `weight_hr` the projected `h = (o * tanh(c)) Whr^T`),
    3 GRU (gates r, z, n, `n = tanh(x_n + r * (h W_n^T + b_n))`). With G
    the gate count (1, 1, 4, 3), H the hidden size and P the size of h (P =
    H without a projection):

    - `input` [T, B, G*H]: the input projection `x W_ih^T + b_ih` of every
      step (computed outside, as one GEMM; LSTM and RNN fold `b_hh` into
      it too), `h0` [B, P], `c0` [B, H] (LSTM only), `weight_hh` [G*H, P],
      `bias_hh` [G*H] (GRU, whose n gate needs it inside), `weight_hr`
      [P, H] (LSTM with proj_size), `mask` [T, B] (1 where a step belongs
      to the sequence, 0 past its end, for packed sequences: a masked step
      keeps the state).
    - The result is the workspace [T + 1, B, W]: row t + 1 holds the state
      after step t, row 0 the initial state; each row is `h` (P), then for
      LSTM `c` (H) and the gate activations i, f, g, o (4H), for GRU the
      activations r, z, n and `h W_n^T + b_n` (4H), which the backward
      reads. `h` of masked steps is the carried state.

    On the CPU `ember-recurrent-loops` lowers it to an `scf.for` over the
    steps whose body is one GEMM (`h W_hh^T`) and one fused element-wise
    kernel; there is no lowering for other devices.

    ```mlir
    %ws = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?x?xf32>, tensor<?x?xf32>
            weight_hh %w : tensor<?x?xf32> cell = 2
            : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
    ```
  }];
  let arguments = (ins Ember_FloatTensor:$input, Ember_FloatTensor:$h0,
                       Optional<Ember_FloatTensor>:$c0,
                       Ember_FloatTensor:$weight_hh,
                       Optional<Ember_FloatTensor>:$bias_hh,
                       Optional<Ember_FloatTensor>:$weight_hr,
                       Optional<Ember_FloatTensor>:$mask, I64Attr:$cell);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $h0 (`c0` $c0^ `:` type($c0))? `weight_hh` $weight_hh `:`
    type($weight_hh) (`bias_hh` $bias_hh^ `:` type($bias_hh))?
    (`weight_hr` $weight_hr^ `:` type($weight_hr))?
    (`mask` $mask^ `:` type($mask))? `cell` `=` $cell attr-dict `:`
    type($input) `,` type($h0) `->` type($result)
  }];
  let hasVerifier = 1;
}

/// The backward of recurrent_sequence: the loop over the steps in reverse.
def Ember_RecurrentSequenceBackwardOp : Ember_Op<"recurrent_sequence_backward",
    [Pure, AttrSizedOperandSegments, AllTypesMatch<["grad", "workspace"]>]> {
  let summary = "the backward loop of recurrent_sequence";
  let description = [{
    From the workspace of `recurrent_sequence` and its cotangent `grad` (of
    the same shape; only its `h` and `c` columns are read), runs the steps
    from the last to the first. The result [T + 1, B, V] holds, in row t +
    1, the gradient of the step's input projection (G*H), for GRU then the
    gradient of `h W_hh^T + b_hh` (G*H), and with `weight_hr` the gradient
    of the projected `h` (P); row 0 holds the gradients of `h0` (P) and,
    for LSTM, `c0` (H). Masked steps get zeros and pass the state's
    gradient through. The VJP builds the weights' gradients from it as
    GEMMs over all steps at once.
  }];
  let arguments = (ins Ember_FloatTensor:$grad, Ember_FloatTensor:$workspace,
                       Ember_FloatTensor:$weight_hh,
                       Optional<Ember_FloatTensor>:$weight_hr,
                       Optional<Ember_FloatTensor>:$mask, I64Attr:$cell);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $workspace `weight_hh` $weight_hh `:` type($weight_hh)
    (`weight_hr` $weight_hr^ `:` type($weight_hr))?
    (`mask` $mask^ `:` type($mask))? `cell` `=` $cell attr-dict `:`
    type($grad) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Attention (F.scaled_dot_product_attention)
//===----------------------------------------------------------------------===//

def Ember_AttentionOp : Ember_Op<"attention", [Pure, Ember_Differentiable]> {
  let summary = "scaled dot-product attention";
  let description = [{
    `result = softmax(query @ key^T * scale + mask) @ value` over the last
    two dims: query `[..., L, E]`, key `[..., S, E]`, value `[..., S, Ev]`,
    result `[..., L, Ev]`, the batch dims `...` the same in all (the tracer
    broadcasts them). `mask`, where given, is `[..., L, S]` of the same
    element type and is added to the scaled scores (a bool mask reaches the
    op as 0/-inf); `causal` adds -inf where key j > query i. The second
    result is each query row's logsumexp of its masked, scaled scores
    (`[..., L]`), which the backward reads instead of the L x S weights.

    On the CPU `ember-attention-cpu` calls the runtime's blocked kernel
    (keys in blocks with an online softmax, no L x S matrix); elsewhere
    `ember-decompose` rewrites it into matmul and softmax primitives.

    ```mlir
    %o, %lse = ember.attention %q, %k, %v scale = 1.250000e-01 causal
        : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
        -> tensor<?x?x64xf32>, tensor<?x?xf32>
    ```
  }];
  let arguments = (ins Ember_FloatTensor:$query, Ember_FloatTensor:$key,
                       Ember_FloatTensor:$value,
                       Optional<Ember_FloatTensor>:$mask, F64Attr:$scale,
                       UnitAttr:$causal);
  let results = (outs Ember_FloatTensor:$result,
                      Ember_FloatTensor:$logsumexp);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^ `:` type($mask))? `scale` `=`
    $scale (`causal` $causal^)? attr-dict `:` type($query) `,` type($key) `,`
    type($value) `->` type($result) `,` type($logsumexp)
  }];
  let hasVerifier = 1;
}

def Ember_AttentionBackwardOp : Ember_Op<"attention_backward",
    [Pure, AllTypesMatch<["query", "grad_query"]>, AllTypesMatch<["key", "grad_key"]>,
     AllTypesMatch<["value", "grad_value"]>,
     AllTypesMatch<["grad", "output"]>]> {
  let summary = "the query, key and value gradients of attention";
  let description = [{
    From the forward's operands, its `output` and `logsumexp` and the
    output's cotangent `grad`: with `P = exp(query @ key^T * scale + mask -
    logsumexp)` recomputed block by block and `D = rowsum(grad * output)`,
    `grad_value = P^T @ grad`, `dS = P * (grad @ value^T - D)`,
    `grad_query = dS @ key * scale`, `grad_key = dS^T @ query * scale`.
    (The mask's gradient, `dS`, is built apart by the VJP.) On the CPU
    `ember-attention-cpu` calls the runtime's blocked kernel; elsewhere
    `ember-decompose` rewrites it into primitives.
  }];
  let arguments = (ins Ember_FloatTensor:$grad, Ember_FloatTensor:$query,
                       Ember_FloatTensor:$key, Ember_FloatTensor:$value,
                       Ember_FloatTensor:$output, Ember_FloatTensor:$logsumexp,
                       Optional<Ember_FloatTensor>:$mask, F64Attr:$scale,
                       UnitAttr:$causal);
  let results = (outs Ember_FloatTensor:$grad_query,
                      Ember_FloatTensor:$grad_key,
                      Ember_FloatTensor:$grad_value);
  let assemblyFormat = [{
    $grad `,` $query `,` $key `,` $value `,` $output `,` $logsumexp
    (`mask` $mask^ `:` type($mask))? `scale` `=` $scale (`causal` $causal^)?
    attr-dict `:` type($grad) `,` type($query) `,` type($key) `,` type($value)
    `,` type($logsumexp)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Convolution (F.conv1d/2d/3d, F.conv_transpose1d/2d/3d)
//===----------------------------------------------------------------------===//

defvar Ember_ConvAttrs = (ins DenseI64ArrayAttr:$strides,
    DenseI64ArrayAttr:$padding_low, DenseI64ArrayAttr:$padding_high,
    DenseI64ArrayAttr:$dilations, I64Attr:$groups);

def Ember_ConvOp : Ember_Op<"conv", [Pure, Ember_Differentiable]> {
  let summary = "grouped, strided, dilated convolution over 1 to 3 spatial dims";
  let description = [{
    `result[n, o, x...] = sum over c, k... of input[n, g * C/G + c,
    x * stride + k * dilation - padding_low] * weight[o, c, k...]` where
    `g = o / (O/G)`: input `[N, C, spatial...]`, weight `[O, C/G,
    kernel...]`, result `[N, O, out...]` with `out = (size + padding_low +
    padding_high - dilation * (kernel - 1) - 1) / stride + 1`; positions in
    the padding read 0. One entry per spatial dim in `strides`,
    `padding_low`, `padding_high` and `dilations`; G = `groups`. No bias
    (an add after it). Its VJP builds `ember.conv_backward_data` and
    `ember.conv_backward_weight`.

    On the CPU `ember-conv-to-runtime` calls the runtime's kernels
    (runtime/lib/CpuConv.cpp: im2col panels packed straight into the GEMM
    micro-kernel's layout) for f32; the tracer emits the op only there
    (elsewhere F.conv*d stays the im2col composite of python/ember/nn/_conv.py).

    ```mlir
    %y = ember.conv %x, %w {strides = array<i64: 1, 1>, padding_low = array<i64: 1, 1>,
        padding_high = array<i64: 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}
        : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
    ```
  }];
  let arguments = !con((ins Ember_FloatTensor:$input, Ember_FloatTensor:$weight),
                       Ember_ConvAttrs);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Ember_ConvBackwardDataOp : Ember_Op<"conv_backward_data",
    [Pure, Ember_Differentiable]> {
  let summary = "a convolution's input gradient (a transposed convolution)";
  let description = [{
    The gradient of `ember.conv` with respect to its input, from the
    result's cotangent `grad` `[N, O, out...]` and `weight` `[O, C/G,
    kernel...]`: `result[n, c, x...]` `[N, C, sizes...]` sums
    `grad[n, o, y...] * weight[o, c', k...]` over every (o, y, k) with
    `y * stride + k * dilation - padding_low = x`. `sizes` (one index per
    spatial dim) are the input's spatial sizes, which `grad`'s do not
    determine when a stride is > 1. F.conv_transpose*d is this op.
  }];
  let arguments = !con((ins Ember_FloatTensor:$grad, Ember_FloatTensor:$weight,
                            Variadic<Index>:$sizes),
                       Ember_ConvAttrs);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight `sizes` `(` $sizes `)` attr-dict `:` type($grad) `,`
    type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Ember_ConvBackwardWeightOp : Ember_Op<"conv_backward_weight",
    [Pure, Ember_Differentiable]> {
  let summary = "a convolution's weight gradient";
  let description = [{
    The gradient of `ember.conv` with respect to its weight, from its
    `input` `[N, C, spatial...]` and the result's cotangent `grad` `[N, O,
    out...]`: `result[o, c, k...]` `[O, C/G, sizes...]` sums
    `input[n, g * C/G + c, y * stride + k * dilation - padding_low] *
    grad[n, o, y...]` over n and y. `sizes` are the kernel's spatial sizes
    (a stride > 1 leaves them undetermined by the other shapes).
  }];
  let arguments = !con((ins Ember_FloatTensor:$input, Ember_FloatTensor:$grad,
                            Variadic<Index>:$sizes),
                       Ember_ConvAttrs);
  let results = (outs Ember_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $grad `sizes` `(` $sizes `)` attr-dict `:` type($input) `,`
    type($grad) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// C++ custom ops (docs/custom-ops.md)
//===----------------------------------------------------------------------===//

def Ember_CustomCallOp : Ember_Op<"custom_call", [Pure]> {
  let summary = "a call of a registered C++ custom op";
  let description = [{
    Runs the custom op `callee` ("namespace::op", registered by a library
    built against ember/Runtime/CustomOp.h) on `inputs`. `op_attributes`
    holds the op's attributes as f64 values by name (absent ones take the
    registered defaults). The result types are what the op's shape
    function gave when the op was traced; on the CPU
    `ember-custom-call-to-runtime` calls the shape function again at run
    time (to size the outputs) and then the op's kernel, through the
    runtime (runtime/lib/CustomOpRegistry.cpp). The call is opaque to the
    compiler: fusion stops at it. It has no VJP of its own: the Python
    layer gives it one (the registered backward op or a Python function,
    through `ember.custom_vjp`).

    ```mlir
    %y = ember.custom_call "mylib::swish"(%x) {op_attributes = {beta = 1.0 : f64}}
        : (tensor<?x8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Variadic<Ember_Tensor>:$inputs, StrAttr:$callee,
                       DefaultValuedAttr<DictionaryAttr, "{}">:$op_attributes);
  let results = (outs Variadic<Ember_Tensor>:$outputs);
  let assemblyFormat = [{
    $callee `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Collectives (ember.distributed)
//===----------------------------------------------------------------------===//

def Ember_AllReduceOp : Ember_Op<"all_reduce",
    [MemoryEffects<[MemRead, MemWrite]>, SameOperandsAndResultType,
     Ember_Differentiable]> {
  let summary = "all-reduce over the ranks of a process group";
  let description = [{
    Every rank of process group `group` (the number the runtime's group
    table, runtime/include/ember/Runtime/ProcessGroups.h, gave the
    communicator) contributes `input`; each gets the element-wise
    reduction over all ranks. `reduce_op` is torch.distributed.ReduceOp's
    member in ember::dist::ReduceOp order: 0 sum, 1 avg (sum / size), 2 min,
    3 max, 4 product.

    The op talks to other processes, so it is not Pure: it carries a write
    effect, and no pass erases, merges or reorders it relative to other
    collectives. The collectives of one program therefore run in program
    order, and since every rank compiles the same traced program, in the
    same order on every rank. Its VJP (sum and avg only) is the same
    all-reduce of the cotangent.

    On the CPU `ember-collectives-to-runtime` calls
    `ember_collective_all_reduce_<type>` (runtime/lib/CpuCollectives.cpp),
    which runs the group's engine (MPI, Gloo) through its ordered queue.

    ```mlir
    %g = ember.all_reduce %x {reduce_op = 0 : i64, group = 0 : i64}
        : tensor<?x?xf32>
    ```
  }];
  let arguments = (ins Ember_NumericTensor:$input, I64Attr:$reduce_op,
                       I64Attr:$group);
  let results = (outs Ember_NumericTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

#endif // EMBER_DIALECT_EMBEROPS_TD
