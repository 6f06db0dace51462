//===- Half.h - 16-bit float conversions -------------------------*- C++ -*-===//
//
// float16 and bfloat16 <-> float conversions with round-to-nearest-even, for
// filling and reading tensors on the host.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_HALF_H
#define EMBER_FRONTEND_HALF_H

#include <cstdint>
#include <cstring>

namespace ember {

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

#endif // EMBER_FRONTEND_HALF_H
