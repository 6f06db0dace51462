//===- DType.cpp - dtype sizes, names and promotion ------------------------===//

#include "ember/Frontend/DType.h"

#include "ember/Frontend/Error.h"

#include <atomic>
#include <string>

namespace ember {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::Bool:
    return 1;
  case DType::Float16:
  case DType::BFloat16:
    return 2;
  case DType::Int32:
  case DType::Float32:
    return 4;
  case DType::Int64:
  case DType::Float64:
    return 8;
  }
  return 0;
}

const char *dtypeName(DType dtype) {
  static const char *names[] = {"bool",     "int32",   "int64",  "float16",
                                "bfloat16", "float32", "float64"};
  return names[static_cast<int>(dtype)];
}

const char *dtypeTorchName(DType dtype) {
  static const char *names[] = {"Bool",     "Int",   "Long",  "Half",
                                "BFloat16", "Float", "Double"};
  return names[static_cast<int>(dtype)];
}

namespace {
/// Bool < integers < floats; torch never converts to a lower category
/// implicitly.
int category(DType d) { return d == DType::Bool ? 0 : isIntegral(d) ? 1 : 2; }
} // namespace

DType promoteTypes(DType a, DType b) {
  if (a == b)
    return a;
  // Half and bfloat16 share no exact superset but float32.
  if ((a == DType::Float16 && b == DType::BFloat16) ||
      (a == DType::BFloat16 && b == DType::Float16))
    return DType::Float32;
  if (category(a) != category(b))
    return category(a) > category(b) ? a : b;
  // Within a category the enum order is the widening order.
  return a > b ? a : b;
}

bool canCast(DType from, DType to) { return category(from) <= category(to); }

namespace {
std::atomic<DType> &defaultFloatSetting() {
  static std::atomic<DType> setting{DType::Float32};
  return setting;
}
} // namespace

DType defaultFloat() { return defaultFloatSetting().load(std::memory_order_relaxed); }

void setDefaultFloat(DType dtype) {
  if (!isFloating(dtype))
    typeError(std::string("only floating-point types are supported as the default "
                          "type, not ") + dtypeTorchName(dtype));
  defaultFloatSetting().store(dtype, std::memory_order_relaxed);
}

} // namespace ember
