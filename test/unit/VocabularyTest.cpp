//===- VocabularyTest.cpp - element-type and backend tables ---------------===//
//
// The runtime's one table of element types and one table of backends: every
// spelling users see, and the 16-bit float conversions. Links the runtime's
// vocabulary only (no LLVM).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Backend.h"
#include "ember/Runtime/ElementType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>

using namespace ember;

namespace {

const ElementType kAllTypes[] = {
    ElementType::Bool,    ElementType::Int32,   ElementType::Int64,  ElementType::Float16,
    ElementType::BFloat16, ElementType::Float32, ElementType::Float64};

const Backend kAll[] = {Backend::Cpu, Backend::Cuda, Backend::Rocm, Backend::LevelZero,
                        Backend::Vulkan};

TEST(ElementType, NamesSizesAndCategories) {
  struct Expected {
    const char *name, *torchName;
    size_t size;
    bool floating, integral;
  };
  const Expected expected[] = {
      {"bool", "Bool", 1, false, false},        {"int32", "Int", 4, false, true},
      {"int64", "Long", 8, false, true},        {"float16", "Half", 2, true, false},
      {"bfloat16", "BFloat16", 2, true, false}, {"float32", "Float", 4, true, false},
      {"float64", "Double", 8, true, false}};
  ASSERT_EQ(std::size(kAllTypes), size_t(kNumElementTypes));
  for (int i = 0; i < kNumElementTypes; ++i) {
    ElementType type = kAllTypes[i];
    SCOPED_TRACE(expected[i].name);
    EXPECT_STREQ(elementTypeName(type), expected[i].name);
    EXPECT_STREQ(elementTypeTorchName(type), expected[i].torchName);
    EXPECT_EQ(elementSize(type), expected[i].size);
    EXPECT_EQ(isFloating(type), expected[i].floating);
    EXPECT_EQ(isIntegral(type), expected[i].integral);
    EXPECT_EQ(elementTypeInfo(type).type, type);
  }
}

TEST(ElementType, ParsesEveryNameAndNothingElse) {
  for (ElementType type : kAllTypes) {
    ElementType parsed = ElementType::Bool;
    EXPECT_TRUE(parseElementType(elementTypeName(type), &parsed));
    EXPECT_EQ(parsed, type);
  }
  ElementType untouched = ElementType::Int32;
  for (const char *name : {"float", "Float", "half", "f32", "", "float32 ", "int8"})
    EXPECT_FALSE(parseElementType(name, &untouched)) << name;
  EXPECT_EQ(untouched, ElementType::Int32);
}

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

TEST(HalfConversion, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    float value = halfToFloat(uint16_t(h));
    bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (nan) {
      EXPECT_TRUE(std::isnan(value)) << h;
      // NaN comes back as the quiet NaN of the same sign.
      EXPECT_EQ(floatToHalf(value), (h & 0x8000) | 0x7e00) << h;
    } else {
      EXPECT_EQ(floatToHalf(value), h) << h;
    }
  }
}

TEST(HalfConversion, KnownValues) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff); // the largest half
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff); // below the midpoint to 65536
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // the midpoint rounds to infinity
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie: to even (zero)
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // tie: to even (two)
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x3555), 0.333251953125f);
  // Ties between normal halves go to the even mantissa.
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
}

TEST(BFloat16Conversion, RoundsToNearestEven) {
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBFloat16(-3.0f), 0xc040);
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  float tieDown, tieUp, above;
  uint32_t bits = 0x3f808000, bitsUp = 0x3f818000, bitsAbove = 0x3f808001;
  std::memcpy(&tieDown, &bits, 4);
  std::memcpy(&tieUp, &bitsUp, 4);
  std::memcpy(&above, &bitsAbove, 4);
  EXPECT_EQ(floatToBFloat16(tieDown), 0x3f80);
  EXPECT_EQ(floatToBFloat16(tieUp), 0x3f82);
  EXPECT_EQ(floatToBFloat16(above), 0x3f81);
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::max()), 0x7f80); // to infinity
  uint16_t nan = floatToBFloat16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(nan)));
  for (uint32_t b = 0; b <= 0xffff; ++b)
    if ((b & 0x7f80) != 0x7f80 || !(b & 0x7f))
      EXPECT_EQ(floatToBFloat16(bfloat16ToFloat(uint16_t(b))), b) << b;
  EXPECT_EQ(bitsOf(bfloat16ToFloat(0x8000)), 0x80000000u);
}

TEST(Backend, EverySpelling) {
  struct Expected {
    const char *name, *deviceType, *targetPrefix, *defaultChip, *kernelFormat;
  };
  const Expected expected[] = {
      {"cpu", "cpu", "cpu", "", ""},
      {"cuda", "cuda", "cuda:", "sm_90", "ptx"},
      {"rocm", "rocm", "rocm:", "gfx942", "hsaco"},
      {"level_zero", "xpu", "level-zero", "", "spirv"},
      {"vulkan", "vulkan", "vulkan", "", "spirv"}};
  ASSERT_EQ(std::size(kAll), size_t(kNumBackends));
  for (int i = 0; i < kNumBackends; ++i) {
    Backend backend = kAll[i];
    SCOPED_TRACE(expected[i].name);
    const BackendInfo &info = backendInfo(backend);
    EXPECT_EQ(info.backend, backend);
    EXPECT_STREQ(backendName(backend), expected[i].name);
    EXPECT_STREQ(backendDeviceType(backend), expected[i].deviceType);
    EXPECT_STREQ(backendTargetPrefix(backend), expected[i].targetPrefix);
    EXPECT_STREQ(info.defaultChip, expected[i].defaultChip);
    EXPECT_STREQ(info.kernelFormat, expected[i].kernelFormat);
    EXPECT_EQ(isGpuBackend(backend), backend != Backend::Cpu);
  }
}

TEST(Backend, ParsesNamesAndDeviceTypes) {
  std::set<std::string> names, types;
  for (Backend backend : kAll) {
    Backend parsed = Backend::Cpu;
    EXPECT_TRUE(parseBackendName(backendName(backend), &parsed));
    EXPECT_EQ(parsed, backend);
    parsed = Backend::Cpu;
    EXPECT_TRUE(parseDeviceType(backendDeviceType(backend), &parsed));
    EXPECT_EQ(parsed, backend);
    names.insert(backendName(backend));
    types.insert(backendDeviceType(backend));
  }
  EXPECT_EQ(names.size(), size_t(kNumBackends));
  EXPECT_EQ(types.size(), size_t(kNumBackends));
  Backend untouched = Backend::Rocm;
  // Each parser reads its own spelling only.
  EXPECT_FALSE(parseBackendName("xpu", &untouched));
  EXPECT_FALSE(parseDeviceType("level_zero", &untouched));
  EXPECT_FALSE(parseBackendName("level-zero", &untouched));
  EXPECT_FALSE(parseBackendName("metal", &untouched));
  EXPECT_FALSE(parseDeviceType("cuda:0", &untouched));
  EXPECT_FALSE(parseDeviceType("", &untouched));
  EXPECT_EQ(untouched, Backend::Rocm);
}

TEST(Backend, CommandLinesTakeAnySpelling) {
  for (Backend backend : kAll) {
    std::string target = backendTargetPrefix(backend);
    if (target.back() == ':')
      target.pop_back();
    for (const std::string &spelling :
         {std::string(backendName(backend)), std::string(backendDeviceType(backend)), target}) {
      Backend parsed = Backend::Cpu;
      EXPECT_TRUE(parseAnyBackendSpelling(spelling, &parsed)) << spelling;
      EXPECT_EQ(parsed, backend) << spelling;
    }
  }
  Backend untouched = Backend::Rocm;
  EXPECT_FALSE(parseAnyBackendSpelling("cuda:", &untouched));
  EXPECT_FALSE(parseAnyBackendSpelling("metal", &untouched));
  EXPECT_FALSE(parseAnyBackendSpelling("", &untouched));
  EXPECT_EQ(untouched, Backend::Rocm);
}

} // namespace
