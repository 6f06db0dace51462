//===- JitTestSupport.h - run JIT-compiled ember functions in tests -*- C++ -*-//
//
// Host arrays hold values as doubles with a dtype; `JitRunner` packs them into
// typed buffers (f16/bf16 as 16-bit patterns, bool as bytes), compiles MLIR
// text for the CPU and calls a function in destination-passing style.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_TEST_UNIT_JITTESTSUPPORT_H
#define EMBER_TEST_UNIT_JITTESTSUPPORT_H

#include "ember/Compiler/CpuCompiler.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ember::test {

enum class Dtype { f32, f64, f16, bf16, i32, i64, i1 };

/// The MLIR element type name of a dtype ("f32", "i1", ...).
const char *mlirName(Dtype dtype);
bool isFloat(Dtype dtype);

struct Array {
  Dtype dtype;
  std::vector<int64_t> shape;
  std::vector<double> values;

  int64_t numel() const;
};

/// Rounds `value` as storing it in `dtype` would (f16/bf16/f32 rounding,
/// integer truncation toward zero, bool as != 0).
double roundTo(Dtype dtype, double value);

/// Uniform random values in [low, high), already rounded to the dtype
/// (integers uniform over the integer range).
Array randomArray(std::mt19937 &rng, Dtype dtype, std::vector<int64_t> shape,
                  double low = -2.0, double high = 2.0);

/// The tolerance a float dtype's results are compared with.
double tolerance(Dtype dtype);

/// Formats "tensor<AxBxT>" with every dim dynamic (`?`) or static.
std::string tensorType(Dtype dtype, const std::vector<int64_t> &shape,
                       bool dynamic = false);

class JitRunner {
public:
  JitRunner();

  /// Compiles `source` (a module of ember functions); fails the test on error.
  bool compile(const std::string &source, std::string *error = nullptr);

  /// Calls `function` with `inputs`; outputs have the given dtypes and shapes.
  std::vector<Array> run(const std::string &function,
                         const std::vector<Array> &inputs,
                         const std::vector<Array> &outputShapes);

  const CpuExecutable &executable() const { return *compiled; }

private:
  mlir::MLIRContext context;
  std::unique_ptr<CpuExecutable> compiled;
};

/// Expects two arrays to match element-wise within `tol` (absolute + relative).
void expectClose(const Array &actual, const Array &expected, double tol,
                 const std::string &what);

} // namespace ember::test

#endif // EMBER_TEST_UNIT_JITTESTSUPPORT_H
