//===- JitTestSupport.cpp - run JIT-compiled ember functions in tests ------===//

#include "JitTestSupport.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace ember::test {

const char *mlirName(Dtype dtype) {
  switch (dtype) {
  case Dtype::f32: return "f32";
  case Dtype::f64: return "f64";
  case Dtype::f16: return "f16";
  case Dtype::bf16: return "bf16";
  case Dtype::i32: return "i32";
  case Dtype::i64: return "i64";
  case Dtype::i1: return "i1";
  }
  return "?";
}

bool isFloat(Dtype dtype) {
  return dtype == Dtype::f32 || dtype == Dtype::f64 || dtype == Dtype::f16 ||
         dtype == Dtype::bf16;
}

int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static size_t byteWidth(Dtype dtype) {
  switch (dtype) {
  case Dtype::f64:
  case Dtype::i64: return 8;
  case Dtype::f32:
  case Dtype::i32: return 4;
  case Dtype::f16:
  case Dtype::bf16: return 2;
  case Dtype::i1: return 1;
  }
  return 0;
}

static uint32_t floatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

static float bitsFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static uint16_t toBf16(float f) {
  uint32_t bits = floatBits(f);
  if (std::isnan(f))
    return 0x7fc0;
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

static float fromBf16(uint16_t h) { return bitsFloat(uint32_t(h) << 16); }

static float fromF16(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float value;
  if (exponent == 0)
    value = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(static_cast<float>(mantissa | 0x400), int(exponent) - 25);
  return sign ? -value : value;
}

static uint16_t toF16(float f) {
  // Exhaustive nearest search over the bit patterns would be slow; instead
  // use the standard rounding via frexp on the magnitude.
  uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  float a = std::fabs(f);
  if (std::isnan(f))
    return 0x7e00;
  if (a >= 65520.0f)
    return sign | 0x7c00;
  if (a < std::ldexp(1.0f, -14)) {
    // Subnormal: multiples of 2^-24.
    long q = std::lrint(std::ldexp(a, 24));
    return sign | static_cast<uint16_t>(q);
  }
  int e;
  float m = std::frexp(a, &e); // a = m * 2^e, m in [0.5, 1)
  long q = std::lrint(std::ldexp(m, 11)); // 11 significant bits
  if (q == 2048) {
    q = 1024;
    ++e;
  }
  int exponent = e - 1 + 15;
  if (exponent >= 31)
    return sign | 0x7c00;
  return sign | static_cast<uint16_t>(exponent << 10) |
         static_cast<uint16_t>(q & 0x3ff);
}

double roundTo(Dtype dtype, double value) {
  switch (dtype) {
  case Dtype::f32: return static_cast<float>(value);
  case Dtype::f64: return value;
  case Dtype::f16: return fromF16(toF16(static_cast<float>(value)));
  case Dtype::bf16: return fromBf16(toBf16(static_cast<float>(value)));
  case Dtype::i32: return static_cast<double>(static_cast<int32_t>(value));
  case Dtype::i64: return static_cast<double>(static_cast<int64_t>(value));
  case Dtype::i1: return value != 0 ? 1.0 : 0.0;
  }
  return value;
}

Array randomArray(std::mt19937 &rng, Dtype dtype, std::vector<int64_t> shape,
                  double low, double high) {
  Array array{dtype, std::move(shape), {}};
  std::uniform_real_distribution<double> real(low, high);
  std::uniform_int_distribution<int64_t> integer(static_cast<int64_t>(low * 5),
                                                 static_cast<int64_t>(high * 5));
  std::bernoulli_distribution coin(0.5);
  for (int64_t i = 0; i < array.numel(); ++i) {
    double v;
    if (dtype == Dtype::i1)
      v = coin(rng);
    else if (isFloat(dtype))
      v = real(rng);
    else
      v = static_cast<double>(integer(rng));
    array.values.push_back(roundTo(dtype, v));
  }
  return array;
}

double tolerance(Dtype dtype) {
  switch (dtype) {
  case Dtype::f32: return 2e-5;
  case Dtype::f64: return 1e-12;
  case Dtype::f16: return 4e-3;
  case Dtype::bf16: return 3e-2;
  default: return 0;
  }
}

std::string tensorType(Dtype dtype, const std::vector<int64_t> &shape,
                       bool dynamic) {
  std::string text = "tensor<";
  for (int64_t d : shape)
    text += (dynamic ? std::string("?") : std::to_string(d)) + "x";
  return text + mlirName(dtype) + ">";
}

static std::vector<uint8_t> pack(const Array &array) {
  size_t width = byteWidth(array.dtype);
  std::vector<uint8_t> bytes(std::max<size_t>(1, array.numel() * width));
  for (int64_t i = 0; i < array.numel(); ++i) {
    double v = array.values[i];
    uint8_t *p = bytes.data() + i * width;
    switch (array.dtype) {
    case Dtype::f32: { float f = v; std::memcpy(p, &f, 4); break; }
    case Dtype::f64: std::memcpy(p, &v, 8); break;
    case Dtype::f16: { uint16_t h = toF16(v); std::memcpy(p, &h, 2); break; }
    case Dtype::bf16: { uint16_t h = toBf16(v); std::memcpy(p, &h, 2); break; }
    case Dtype::i32: { int32_t x = v; std::memcpy(p, &x, 4); break; }
    case Dtype::i64: { int64_t x = v; std::memcpy(p, &x, 8); break; }
    case Dtype::i1: *p = v != 0; break;
    }
  }
  return bytes;
}

static void unpack(const std::vector<uint8_t> &bytes, Array &array) {
  size_t width = byteWidth(array.dtype);
  array.values.resize(array.numel());
  for (int64_t i = 0; i < array.numel(); ++i) {
    const uint8_t *p = bytes.data() + i * width;
    double v = 0;
    switch (array.dtype) {
    case Dtype::f32: { float f; std::memcpy(&f, p, 4); v = f; break; }
    case Dtype::f64: std::memcpy(&v, p, 8); break;
    case Dtype::f16: { uint16_t h; std::memcpy(&h, p, 2); v = fromF16(h); break; }
    case Dtype::bf16: { uint16_t h; std::memcpy(&h, p, 2); v = fromBf16(h); break; }
    case Dtype::i32: { int32_t x; std::memcpy(&x, p, 4); v = x; break; }
    case Dtype::i64: { int64_t x; std::memcpy(&x, p, 8); v = x; break; }
    case Dtype::i1: v = *p; break;
    }
    array.values[i] = v;
  }
}

JitRunner::JitRunner() {
  mlir::DialectRegistry registry;
  registerCompilerDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
}

bool JitRunner::compile(const std::string &source, std::string *error) {
  std::string message;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  {
    // Keep parse diagnostics (with their locations) for the caller.
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      llvm::raw_string_ostream os(message);
      os << d.getLocation() << ": " << d << "\n";
      return mlir::success();
    });
    module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  }
  if (!module) {
    if (error)
      *error = message;
    else
      ADD_FAILURE() << "cannot parse:\n" << source;
    return false;
  }
  compiled = compileForCpu(*module, CpuCompileOptions{}, &message);
  if (!compiled) {
    if (error)
      *error = message;
    else
      ADD_FAILURE() << "compile failed: " << message << "\n" << source;
    return false;
  }
  return true;
}

std::vector<Array> JitRunner::run(const std::string &function,
                                  const std::vector<Array> &inputs,
                                  const std::vector<Array> &outputShapes) {
  std::vector<std::vector<uint8_t>> storage;
  for (const Array &input : inputs)
    storage.push_back(pack(input));
  std::vector<Array> outputs = outputShapes;
  for (Array &output : outputs) {
    output.values.assign(output.numel(), 0.0);
    storage.push_back(pack(output));
  }
  std::vector<BufferView> views;
  for (size_t i = 0; i < storage.size(); ++i) {
    const Array &array = i < inputs.size() ? inputs[i]
                                           : outputs[i - inputs.size()];
    views.push_back({storage[i].data(), array.shape.data(),
                     static_cast<int64_t>(array.shape.size())});
  }
  std::string error;
  if (!compiled || !compiled->invoke(function, views, &error)) {
    ADD_FAILURE() << "cannot call " << function << ": " << error;
    return outputs;
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    unpack(storage[inputs.size() + i], outputs[i]);
  return outputs;
}

void expectClose(const Array &actual, const Array &expected, double tol,
                 const std::string &what) {
  ASSERT_EQ(actual.shape, expected.shape) << what;
  ASSERT_EQ(actual.values.size(), expected.values.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < actual.values.size() && failures < 5; ++i) {
    double a = actual.values[i], e = expected.values[i];
    if (std::isnan(e) && std::isnan(a))
      continue;
    if (std::isinf(e) && a == e)
      continue;
    if (std::fabs(a - e) > tol * (1 + std::fabs(e))) {
      ADD_FAILURE() << what << ": element " << i << " is " << a
                    << ", expected " << e << " (tolerance " << tol << ")";
      ++failures;
    }
  }
}

} // namespace ember::test
