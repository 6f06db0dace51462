//===- ElementType.h - the element types of tensors -------------*- C++ -*-===//
//
// The one element-type vocabulary of Ember: the runtime's host tensors and
// manifests, the frontend's eager tensors (DType is this type) and the
// Python binding all use it. One table holds each type's spellings, size and
// category, so a name can never disagree with a size. Also the float16 and
// bfloat16 <-> float conversions every host-side reader and writer of 16-bit
// floats uses. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_ELEMENTTYPE_H
#define EMBER_RUNTIME_ELEMENTTYPE_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace ember {

/// Element types, in widening order within each category (promotion relies
/// on it: see frontend/include/ember/Frontend/DType.h).
enum class ElementType : uint8_t {
  Bool, Int32, Int64, Float16, BFloat16, Float32, Float64,
};

constexpr int kNumElementTypes = 7;

/// Everything Ember spells or computes about one element type.
struct ElementTypeInfo {
  ElementType type;
  /// As in the manifest, .npy descriptions and Python: "float32".
  const char *name;
  /// PyTorch's capitalized scalar-type name, used in its error messages:
  /// "Float".
  const char *torchName;
  /// Bytes per element (bool is one byte, as in NumPy).
  uint8_t size;
  bool floating;
  bool integral;
};

/// The table, indexed by the enum's value.
inline constexpr ElementTypeInfo kElementTypes[kNumElementTypes] = {
    {ElementType::Bool, "bool", "Bool", 1, false, false},
    {ElementType::Int32, "int32", "Int", 4, false, true},
    {ElementType::Int64, "int64", "Long", 8, false, true},
    {ElementType::Float16, "float16", "Half", 2, true, false},
    {ElementType::BFloat16, "bfloat16", "BFloat16", 2, true, false},
    {ElementType::Float32, "float32", "Float", 4, true, false},
    {ElementType::Float64, "float64", "Double", 8, true, false},
};

constexpr const ElementTypeInfo &elementTypeInfo(ElementType type) {
  return kElementTypes[static_cast<int>(type)];
}

/// "float32", "int64", "bool", ...
constexpr const char *elementTypeName(ElementType type) {
  return elementTypeInfo(type).name;
}
/// "Float", "Long", "Bool", ... (torch's scalar-type names).
constexpr const char *elementTypeTorchName(ElementType type) {
  return elementTypeInfo(type).torchName;
}
constexpr size_t elementSize(ElementType type) { return elementTypeInfo(type).size; }
/// float16, bfloat16, float32, float64.
constexpr bool isFloating(ElementType type) { return elementTypeInfo(type).floating; }
/// int32, int64 (bool is neither integral nor floating, as in promotion).
constexpr bool isIntegral(ElementType type) { return elementTypeInfo(type).integral; }

/// Parses a name from elementTypeName; false when unknown.
bool parseElementType(const std::string &name, ElementType *type);

//===----------------------------------------------------------------------===//
// 16-bit floats: round-to-nearest-even from float, exact to float.
//===----------------------------------------------------------------------===//

inline uint16_t floatToBFloat16(float value) {
  uint32_t bits;
  memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffff) > 0x7f800000) // NaN stays a quiet NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

inline float bfloat16ToFloat(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float result;
  memcpy(&result, &bits, 4);
  return result;
}

inline uint16_t floatToHalf(float value) {
  uint32_t bits;
  memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN
    return static_cast<uint16_t>(sign | 0x7e00);
  if (magnitude >= 0x477ff000) // rounds to infinity
    return static_cast<uint16_t>(sign | 0x7c00);
  if (magnitude < 0x38800000) {
    // Subnormal half (or zero): scale into the integer mantissa range and
    // let the float unit round to nearest even.
    float scaled;
    memcpy(&scaled, &magnitude, 4);
    scaled *= 16777216.0f; // 2^24: one unit = the smallest half subnormal
    uint32_t mantissa = static_cast<uint32_t>(scaled);
    float rest = scaled - static_cast<float>(mantissa);
    if (rest > 0.5f || (rest == 0.5f && (mantissa & 1)))
      ++mantissa;
    return static_cast<uint16_t>(sign | mantissa);
  }
  uint32_t rounded = magnitude + 0xfff + ((magnitude >> 13) & 1);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000) >> 13));
}

inline float halfToFloat(uint16_t value) {
  uint32_t sign = static_cast<uint32_t>(value & 0x8000) << 16;
  uint32_t exponent = (value >> 10) & 0x1f;
  uint32_t mantissa = value & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent == 0) {
    float result = static_cast<float>(mantissa) / 16777216.0f;
    return sign ? -result : result;
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float result;
  memcpy(&result, &bits, 4);
  return result;
}

} // namespace ember

#endif // EMBER_RUNTIME_ELEMENTTYPE_H
