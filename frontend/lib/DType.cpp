//===- DType.cpp - dtype promotion and the default dtype ------------------===//

#include "ember/Frontend/DType.h"

#include "ember/Frontend/Error.h"

#include <atomic>
#include <string>

namespace ember {

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
