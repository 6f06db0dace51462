//===- DType.h - element types of eager tensors -----------------*- C++ -*-===//
//
// The dtypes a tensor can hold (the runtime's ElementType) and PyTorch's
// promotion rules between them.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_DTYPE_H
#define EMBER_FRONTEND_DTYPE_H

#include "ember/Runtime/ElementType.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace ember {

/// A tensor's dtype is the runtime's element type (one enum, one table of
/// names: ember/Runtime/ElementType.h).
using DType = ElementType;

constexpr int kNumDTypes = kNumElementTypes;

/// Bytes per element (bool is one byte, as in NumPy).
constexpr size_t dtypeSize(DType dtype) { return elementSize(dtype); }
/// The torch spelling without a module prefix: "float32", "int64", ...
constexpr const char *dtypeName(DType dtype) { return elementTypeName(dtype); }
/// PyTorch's capitalized scalar-type name used in its error messages: "Float".
constexpr const char *dtypeTorchName(DType dtype) { return elementTypeTorchName(dtype); }

/// The dtype both operands convert to in a binary op (torch.promote_types).
DType promoteTypes(DType a, DType b);

/// Whether a value of `from` may be written into a tensor of `to` by an
/// in-place op (torch.can_cast): never to a lower category.
bool canCast(DType from, DType to);

/// torch.get_default_dtype(): the dtype of tensors made from Python floats,
/// of float ops on integer tensors, and of float factories without a dtype.
/// Float32 unless setDefaultFloat changed it (a process-wide setting, as in
/// torch).
DType defaultFloat();
/// torch.set_default_dtype: a floating dtype; TypeError otherwise.
void setDefaultFloat(DType dtype);

/// A Python number: bool, int or float.
struct Scalar {
  enum class Kind : uint8_t { Bool, Int, Float } kind;
  double f = 0;
  int64_t i = 0;

  static Scalar fromBool(bool v) { return {Kind::Bool, double(v), v}; }
  static Scalar fromInt(int64_t v) { return {Kind::Int, double(v), v}; }
  static Scalar fromFloat(double v) { return {Kind::Float, v, int64_t(v)}; }
  /// The dtype of the tensor torch would wrap this number in.
  DType wrappedDType() const {
    return kind == Kind::Bool  ? DType::Bool
           : kind == Kind::Int ? DType::Int64
                               : defaultFloat();
  }
};

} // namespace ember

#endif // EMBER_FRONTEND_DTYPE_H
