//===- CpuJitTest.cpp - JIT-compiled ember ops against C++ references ------===//
//
// Every test compiles real ember IR with the CPU pipeline, runs it on fresh
// random data and compares with a reference computed here in double
// precision, rounded to the dtype.
//
//===----------------------------------------------------------------------===//

#include "JitTestSupport.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>

using namespace ember::test;

namespace {

std::mt19937 &rng() {
  static std::mt19937 generator(std::random_device{}());
  return generator;
}

const std::vector<Dtype> kFloatTypes = {Dtype::f32, Dtype::f64, Dtype::f16,
                                        Dtype::bf16};
const std::vector<Dtype> kNumericTypes = {Dtype::f32,  Dtype::f64, Dtype::f16,
                                          Dtype::bf16, Dtype::i32, Dtype::i64};
const std::vector<Dtype> kAllTypes = {Dtype::f32, Dtype::f64, Dtype::f16,
                                      Dtype::bf16, Dtype::i32, Dtype::i64,
                                      Dtype::i1};

/// Maps each element through `fn` and rounds to `dtype`.
Array mapArray(const Array &in, Dtype dtype,
               const std::function<double(double)> &fn) {
  Array out{dtype, in.shape, {}};
  for (double v : in.values)
    out.values.push_back(roundTo(dtype, fn(v)));
  return out;
}

/// NumPy broadcasting of two shapes (the inputs are known to broadcast).
std::vector<int64_t> broadcastShape(const std::vector<int64_t> &a,
                                    const std::vector<int64_t> &b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    shape[i] = da == 1 ? db : da;
  }
  return shape;
}

/// The flat offset in a dense array of shape `in` that element `flat` of
/// the broadcast shape `out` reads (size-1 dims of `in` stretch).
int64_t broadcastOffset(int64_t flat, const std::vector<int64_t> &out,
                        const std::vector<int64_t> &in) {
  int64_t offset = 0, stride = 1;
  for (int64_t i = out.size() - 1, j = in.size() - 1; i >= 0; --i, --j) {
    int64_t index = flat % out[i];
    flat /= out[i];
    if (j < 0)
      continue;
    offset += (in[j] == 1 ? 0 : index) * stride;
    stride *= in[j];
  }
  return offset;
}

/// NumPy broadcasting of two arrays through `fn`.
Array broadcastArrays(const Array &a, const Array &b, Dtype dtype,
                      const std::function<double(double, double)> &fn) {
  Array out{dtype, broadcastShape(a.shape, b.shape), {}};
  for (int64_t flat = 0; flat < out.numel(); ++flat)
    out.values.push_back(roundTo(
        dtype, fn(a.values[broadcastOffset(flat, out.shape, a.shape)],
                  b.values[broadcastOffset(flat, out.shape, b.shape)])));
  return out;
}

/// MLIR text of a function `@name` whose arguments `%a, %b, ...` have
/// `argTypes` and which returns `%0 = ember.<body>` of type `resultType`.
std::string emberFunction(const std::string &name,
                          const std::vector<std::string> &argTypes,
                          const std::string &resultType,
                          const std::string &body) {
  std::string args;
  for (size_t i = 0; i < argTypes.size(); ++i)
    args += std::string(i ? ", " : "") + "%" + char('a' + i) + ": " +
            argTypes[i];
  return "func.func @" + name + "(" + args + ") -> " + resultType +
         " {\n  %0 = ember." + body + "\n  return %0 : " + resultType +
         "\n}\n";
}

/// `emberFunction` for a broadcasting binary op `op` (or `compare <pred>,`).
std::string binaryFunction(const std::string &name, const std::string &op,
                           const std::string &lhs, const std::string &rhs,
                           const std::string &out) {
  return emberFunction(name, {lhs, rhs}, out,
                       op + " %a, %b : " + lhs + ", " + rhs + " -> " + out);
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

//===----------------------------------------------------------------------===//
// Element-wise
//===----------------------------------------------------------------------===//

struct UnaryCase {
  const char *op;
  std::function<double(double)> ref;
  bool positiveOnly;
  bool integersToo;
};

const std::vector<UnaryCase> kUnary = {
    {"neg", [](double x) { return -x; }, false, true},
    {"abs", [](double x) { return std::fabs(x); }, false, true},
    {"relu", [](double x) { return x > 0 ? x : 0; }, false, true},
    {"exp", [](double x) { return std::exp(x); }, false, false},
    {"log", [](double x) { return std::log(x); }, true, false},
    {"sqrt", [](double x) { return std::sqrt(x); }, true, false},
    {"rsqrt", [](double x) { return 1 / std::sqrt(x); }, true, false},
    {"tanh", [](double x) { return std::tanh(x); }, false, false},
    {"sigmoid", sigmoid, false, false},
    {"gelu", gelu, false, false},
};

TEST(CpuJit, UnaryOpsEveryDtype) {
  for (Dtype dtype : kNumericTypes) {
    std::string type = tensorType(dtype, {0, 0}, /*dynamic=*/true);
    std::string source;
    for (const UnaryCase &c : kUnary) {
      if (!isFloat(dtype) && !c.integersToo)
        continue;
      source += emberFunction(c.op, {type}, type,
                              std::string(c.op) + " %a : " + type);
    }
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    for (const UnaryCase &c : kUnary) {
      if (!isFloat(dtype) && !c.integersToo)
        continue;
      Array x = c.positiveOnly ? randomArray(rng(), dtype, {3, 17}, 0.05, 4.0)
                               : randomArray(rng(), dtype, {3, 17}, -4.0, 4.0);
      Array expected = mapArray(x, dtype, c.ref);
      Array actual = jit.run(c.op, {x}, {Array{dtype, {3, 17}, {}}})[0];
      expectClose(actual, expected, tolerance(dtype),
                  std::string(c.op) + " " + mlirName(dtype));
    }
  }
}

struct BinaryCase {
  const char *op;
  std::function<double(double, double)> ref;
  bool integersToo;
};

const std::vector<BinaryCase> kBinary = {
    {"add", [](double a, double b) { return a + b; }, true},
    {"sub", [](double a, double b) { return a - b; }, true},
    {"mul", [](double a, double b) { return a * b; }, true},
    {"div", [](double a, double b) { return a / b; }, true},
    {"pow", [](double a, double b) { return std::pow(a, b); }, false},
    {"maximum", [](double a, double b) { return std::max(a, b); }, true},
    {"minimum", [](double a, double b) { return std::min(a, b); }, true},
};

TEST(CpuJit, BinaryOpsBroadcastEveryDtype) {
  for (Dtype dtype : kNumericTypes) {
    // [?, 1, 4] op [3, 1] -> [?, 3, 4]: a static 1 on each side stretches.
    std::string lhs = std::string("tensor<?x1x4x") + mlirName(dtype) + ">";
    std::string rhs = std::string("tensor<3x1x") + mlirName(dtype) + ">";
    std::string out = std::string("tensor<?x3x4x") + mlirName(dtype) + ">";
    std::string source;
    for (const BinaryCase &c : kBinary) {
      if (!isFloat(dtype) && !c.integersToo)
        continue;
      source += binaryFunction(c.op, c.op, lhs, rhs, out);
    }
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    for (int64_t batch : {2, 5, 0}) {
      for (const BinaryCase &c : kBinary) {
        if (!isFloat(dtype) && !c.integersToo)
          continue;
        bool positive = std::string(c.op) == "pow";
        Array a = randomArray(rng(), dtype, {batch, 1, 4}, positive ? 0.1 : -3,
                              3);
        Array b = randomArray(rng(), dtype, {3, 1}, positive ? 0.1 : 0.5, 3);
        std::function<double(double, double)> ref = c.ref;
        if (!isFloat(dtype) && std::string(c.op) == "div")
          ref = [](double x, double y) { return std::trunc(x / y); };
        Array expected = broadcastArrays(a, b, dtype, ref);
        Array actual =
            jit.run(c.op, {a, b}, {Array{dtype, {batch, 3, 4}, {}}})[0];
        expectClose(actual, expected, tolerance(dtype),
                    std::string(c.op) + " " + mlirName(dtype) + " batch " +
                        std::to_string(batch));
      }
    }
  }
}

TEST(CpuJit, BitwiseOpsOnIntegersAndBools) {
  struct Case {
    const char *op;
    std::function<int64_t(int64_t, int64_t)> ref;
  };
  const std::vector<Case> cases = {
      {"and", [](int64_t a, int64_t b) { return a & b; }},
      {"or", [](int64_t a, int64_t b) { return a | b; }},
      {"xor", [](int64_t a, int64_t b) { return a ^ b; }}};
  for (Dtype dtype : {Dtype::i1, Dtype::i32, Dtype::i64}) {
    // [?, 1, 4] op [3, 1] -> [?, 3, 4], as for the arithmetic ops.
    std::string element = mlirName(dtype);
    std::string lhs = "tensor<?x1x4x" + element + ">";
    std::string rhs = "tensor<3x1x" + element + ">";
    std::string out = "tensor<?x3x4x" + element + ">";
    std::string any = tensorType(dtype, {0, 0}, true);
    std::string source = emberFunction("not", {any}, any, "not %a : " + any);
    for (const Case &c : cases)
      source += binaryFunction(c.op, c.op, lhs, rhs, out);
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    for (int64_t batch : {2, 5, 0}) {
      Array a = randomArray(rng(), dtype, {batch, 1, 4}, -200, 200);
      Array b = randomArray(rng(), dtype, {3, 1}, -200, 200);
      for (const Case &c : cases) {
        Array expected =
            broadcastArrays(a, b, dtype, [&](double x, double y) {
              return static_cast<double>(c.ref(static_cast<int64_t>(x),
                                               static_cast<int64_t>(y)));
            });
        Array actual = jit.run(c.op, {a, b}, {expected})[0];
        expectClose(actual, expected, 0,
                    std::string(c.op) + " " + element + " batch " +
                        std::to_string(batch));
      }
      // ~x on integers is logical not on bools.
      Array x = randomArray(rng(), dtype, {batch, 3}, -200, 200);
      Array expected = mapArray(x, dtype, [&](double v) {
        return dtype == Dtype::i1 ? double(v == 0)
                                  : double(~static_cast<int64_t>(v));
      });
      expectClose(jit.run("not", {x}, {expected})[0], expected, 0,
                  "not " + element + " batch " + std::to_string(batch));
    }
  }
}

TEST(CpuJit, CompareAndSelect) {
  const std::map<std::string, std::function<double(double, double)>> preds = {
      {"eq", [](double a, double b) { return a == b; }},
      {"ne", [](double a, double b) { return a != b; }},
      {"lt", [](double a, double b) { return a < b; }},
      {"le", [](double a, double b) { return a <= b; }},
      {"gt", [](double a, double b) { return a > b; }},
      {"ge", [](double a, double b) { return a >= b; }}};
  for (Dtype dtype : kAllTypes) {
    std::string t = tensorType(dtype, {0, 0}, true);
    std::string row = std::string("tensor<1x?x") + mlirName(dtype) + ">";
    std::string mask = "tensor<?x?xi1>";
    std::string source;
    for (const auto &[name, ref] : preds)
      source += binaryFunction(name, "compare " + name + ",", t, row, mask);
    source += emberFunction("where", {mask, t, row}, t,
                            "select %a, %b, %c : " + mask + ", " + t + ", " +
                                row + " -> " + t);
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    // Small integer-valued data so equality happens often.
    Array a = mapArray(randomArray(rng(), dtype, {4, 6}, -2, 2), dtype,
                       [](double v) { return std::round(v); });
    Array b = mapArray(randomArray(rng(), dtype, {1, 6}, -2, 2), dtype,
                       [](double v) { return std::round(v); });
    for (const auto &[name, ref] : preds) {
      Array expected = broadcastArrays(a, b, Dtype::i1, ref);
      Array actual = jit.run(name, {a, b}, {Array{Dtype::i1, {4, 6}, {}}})[0];
      expectClose(actual, expected, 0, name + " " + mlirName(dtype));
    }
    Array m = randomArray(rng(), Dtype::i1, {4, 6});
    Array selected = jit.run("where", {m, a, b}, {Array{dtype, {4, 6}, {}}})[0];
    Array bFull = broadcastArrays(a, b, dtype, [](double, double y) { return y; });
    for (size_t i = 0; i < m.values.size(); ++i)
      EXPECT_EQ(selected.values[i], m.values[i] ? a.values[i] : bFull.values[i]);
  }
}

TEST(CpuJit, CastBetweenEveryPairOfDtypes) {
  std::vector<std::pair<Dtype, Dtype>> pairs;
  for (Dtype from : kAllTypes)
    for (Dtype to : kAllTypes)
      pairs.emplace_back(from, to);
  std::string source;
  int index = 0;
  for (auto [from, to] : pairs) {
    std::string a = tensorType(from, {0}, true), b = tensorType(to, {0}, true);
    source += emberFunction("c" + std::to_string(index++), {a}, b,
                            "cast %a : " + a + " to " + b);
  }
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  index = 0;
  for (auto [from, to] : pairs) {
    Array x = randomArray(rng(), from, {33}, -5, 5);
    x.values[0] = roundTo(from, 0); // exercise the zero -> false case
    // Floats truncate toward zero; 2^24 + 1 rounds to 2^24 in f32 and bf16
    // and overflows f16 to inf, as in torch (which also goes through f32).
    x.values[1] = roundTo(from, isFloat(from) ? -2.75 : 16777217.0);
    Array expected = mapArray(x, to, [](double v) { return v; });
    Array actual =
        jit.run("c" + std::to_string(index++), {x}, {Array{to, {33}, {}}})[0];
    expectClose(actual, expected, isFloat(to) ? tolerance(to) : 0,
                std::string("cast ") + mlirName(from) + "->" + mlirName(to));
  }
}

TEST(CpuJit, BoolMasksEndToEnd) {
  // Bool tensors are one byte per element, as in NumPy, through compare,
  // logic, select and casts, fused into one loop.
  const std::string source = R"mlir(
func.func @masks(%a: tensor<?x?xf32>, %b: tensor<1x?xf32>, %c: tensor<?x?xi1>) -> (tensor<?x?xi1>, tensor<?x?xf32>, tensor<?x?xi64>) {
  %gt = ember.compare gt, %a, %b : tensor<?x?xf32>, tensor<1x?xf32> -> tensor<?x?xi1>
  %le = ember.not %gt : tensor<?x?xi1>
  %either = ember.or %le, %c : tensor<?x?xi1>, tensor<?x?xi1> -> tensor<?x?xi1>
  %both = ember.and %gt, %c : tensor<?x?xi1>, tensor<?x?xi1> -> tensor<?x?xi1>
  %one = ember.xor %either, %both : tensor<?x?xi1>, tensor<?x?xi1> -> tensor<?x?xi1>
  %picked = ember.select %one, %a, %b : tensor<?x?xi1>, tensor<?x?xf32>, tensor<1x?xf32> -> tensor<?x?xf32>
  %count = ember.cast %one : tensor<?x?xi1> to tensor<?x?xi64>
  %same = ember.compare eq, %one, %c : tensor<?x?xi1>, tensor<?x?xi1> -> tensor<?x?xi1>
  return %same, %picked, %count : tensor<?x?xi1>, tensor<?x?xf32>, tensor<?x?xi64>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  for (int64_t rows : {5, 1, 0}) {
    Array a = randomArray(rng(), Dtype::f32, {rows, 7});
    Array b = randomArray(rng(), Dtype::f32, {1, 7});
    Array c = randomArray(rng(), Dtype::i1, {rows, 7});
    Array same{Dtype::i1, {rows, 7}, {}}, picked{Dtype::f32, {rows, 7}, {}},
        count{Dtype::i64, {rows, 7}, {}};
    for (int64_t i = 0; i < rows * 7; ++i) {
      bool gt = a.values[i] > b.values[i % 7], ci = c.values[i] != 0;
      bool one = (!gt || ci) != (gt && ci);
      same.values.push_back(one == ci);
      picked.values.push_back(one ? a.values[i] : b.values[i % 7]);
      count.values.push_back(one);
    }
    auto outs = jit.run("masks", {a, b, c}, {same, picked, count});
    std::string what = " rows " + std::to_string(rows);
    expectClose(outs[0], same, 0, "same" + what);
    expectClose(outs[1], picked, 0, "picked" + what);
    expectClose(outs[2], count, 0, "count" + what);
  }
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// Reduces a [d0, d1, d2] array over `dims` with `combine` from `init`.
Array reduce3d(const Array &x, const std::vector<int64_t> &dims, bool keepdim,
               double init, const std::function<double(double, double)> &combine,
               bool mean) {
  std::vector<int64_t> outShape;
  std::vector<bool> reduced(3, false);
  for (int64_t d : dims)
    reduced[d] = true;
  for (int i = 0; i < 3; ++i)
    if (!reduced[i])
      outShape.push_back(x.shape[i]);
    else if (keepdim)
      outShape.push_back(1);
  Array out{x.dtype, outShape, {}};
  int64_t count = 1;
  for (int64_t d : dims)
    count *= x.shape[d];
  std::vector<double> acc(std::max<int64_t>(1, out.numel()), init);
  for (int64_t i = 0; i < x.shape[0]; ++i)
    for (int64_t j = 0; j < x.shape[1]; ++j)
      for (int64_t k = 0; k < x.shape[2]; ++k) {
        int64_t idx[3] = {i, j, k}, flat = 0;
        for (int d = 0; d < 3; ++d)
          if (!reduced[d])
            flat = flat * x.shape[d] + idx[d];
        double v = x.values[(i * x.shape[1] + j) * x.shape[2] + k];
        acc[flat] = combine(acc[flat], v);
      }
  for (int64_t i = 0; i < out.numel(); ++i)
    out.values.push_back(roundTo(x.dtype, mean ? acc[i] / count : acc[i]));
  return out;
}

TEST(CpuJit, ReductionsOverDimListsWithKeepdim) {
  struct Case {
    const char *op;
    double init;
    std::function<double(double, double)> combine;
  };
  const std::vector<Case> cases = {
      {"sum", 0, [](double a, double b) { return a + b; }},
      {"mean", 0, [](double a, double b) { return a + b; }},
      {"max", -INFINITY, [](double a, double b) { return std::max(a, b); }},
      {"min", INFINITY, [](double a, double b) { return std::min(a, b); }}};
  const std::vector<std::vector<int64_t>> dimLists = {{1}, {0, 2}, {0, 1, 2}};
  for (Dtype dtype : kNumericTypes) {
    std::string in = tensorType(dtype, {0, 0, 0}, true);
    std::string source;
    std::vector<std::tuple<std::string, Case, std::vector<int64_t>, bool>> fns;
    for (const Case &c : cases) {
      if (!isFloat(dtype) && std::string(c.op) == "mean")
        continue;
      for (const auto &dims : dimLists)
        for (bool keepdim : {false, true}) {
          std::string name = std::string(c.op) + std::to_string(fns.size());
          std::vector<int64_t> outShape;
          for (int i = 0; i < 3; ++i) {
            bool r = std::find(dims.begin(), dims.end(), i) != dims.end();
            if (!r)
              outShape.push_back(-1);
            else if (keepdim)
              outShape.push_back(1);
          }
          std::string out = "tensor<";
          for (int64_t d : outShape)
            out += (d < 0 ? "?" : "1") + std::string("x");
          out += std::string(mlirName(dtype)) + ">";
          std::string dimText;
          for (int64_t d : dims)
            dimText += (dimText.empty() ? "" : ", ") + std::to_string(d);
          source += emberFunction(name, {in}, out,
                                  std::string(c.op) + " %a dims = [" + dimText +
                                      "]" + (keepdim ? " keepdim" : "") +
                                      " : " + in + " -> " + out);
          fns.emplace_back(name, c, dims, keepdim);
        }
    }
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{3, 5, 7}, std::vector<int64_t>{2, 1, 9}}) {
      Array x = randomArray(rng(), dtype, shape, -3, 3);
      for (const auto &[name, c, dims, keepdim] : fns) {
        bool mean = std::string(c.op) == "mean";
        Array expected = reduce3d(x, dims, keepdim, c.init, c.combine, mean);
        Array actual = jit.run(name, {x}, {Array{dtype, expected.shape, {}}})[0];
        // Sums of f16 values accumulate in f32 here and in double in the
        // reference: allow the output rounding plus accumulation error.
        double tol = isFloat(dtype) ? tolerance(dtype) * 4 : 0;
        expectClose(actual, expected, tol, name + " " + mlirName(dtype));
      }
    }
  }
}

/// The index of the first maximum (or minimum) along `dim` of a 2-D array,
/// a NaN counting as the extreme (torch.argmax / torch.argmin).
Array argReduce2d(const Array &x, int dim, bool isMin, bool keepdim) {
  int64_t rows = x.shape[0], cols = x.shape[1];
  int64_t outer = dim == 0 ? cols : rows, length = x.shape[dim];
  auto at = [&](int64_t o, int64_t k) {
    return dim == 0 ? x.values[k * cols + o] : x.values[o * cols + k];
  };
  Array out{Dtype::i64, {}, {}};
  if (keepdim)
    out.shape = dim == 0 ? std::vector<int64_t>{1, cols}
                         : std::vector<int64_t>{rows, 1};
  else
    out.shape = {outer};
  for (int64_t o = 0; o < outer; ++o) {
    int64_t best = 0;
    for (int64_t k = 1; k < length; ++k) {
      double v = at(o, k), b = at(o, best);
      if (std::isnan(b))
        break;
      if (std::isnan(v) || (isMin ? v < b : v > b))
        best = k;
    }
    out.values.push_back(best);
  }
  return out;
}

TEST(CpuJit, ArgmaxAndArgminTakeTheFirstExtreme) {
  for (Dtype dtype : kNumericTypes) {
    std::string in = tensorType(dtype, {0, 0}, true);
    std::string source;
    for (const char *op : {"argmax", "argmin"}) {
      source += emberFunction(std::string(op) + "_rows", {in}, "tensor<?xi64>",
                              std::string(op) + " %a dim = 1 : " + in +
                                  " -> tensor<?xi64>");
      source += emberFunction(std::string(op) + "_cols", {in},
                              "tensor<1x?xi64>",
                              std::string(op) + " %a dim = 0 keepdim : " + in +
                                  " -> tensor<1x?xi64>");
    }
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{6, 9}, std::vector<int64_t>{3, 1}}) {
      // Few distinct values, so ties are common.
      Array x = mapArray(randomArray(rng(), dtype, shape, -3, 3), dtype,
                         [](double v) { return std::round(v); });
      if (shape[1] == 9) {
        x.values[2 * 9 + 3] = x.values[2 * 9 + 7] = 10; // tied maxima
        x.values[4 * 9 + 1] = x.values[4 * 9 + 8] = -10; // tied minima
        if (isFloat(dtype))
          x.values[1 * 9 + 5] = x.values[1 * 9 + 6] = NAN;
      }
      for (bool isMin : {false, true}) {
        std::string op = isMin ? "argmin" : "argmax";
        std::string what = op + " " + mlirName(dtype) + " " +
                           std::to_string(shape[0]) + "x" +
                           std::to_string(shape[1]);
        Array rows = argReduce2d(x, 1, isMin, false);
        expectClose(jit.run(op + "_rows", {x}, {rows})[0], rows, 0,
                    what + " dim 1");
        Array cols = argReduce2d(x, 0, isMin, true);
        expectClose(jit.run(op + "_cols", {x}, {cols})[0], cols, 0,
                    what + " dim 0 keepdim");
      }
    }
  }
}

// Over the last dim argmax/argmin are two passes (the extreme, then the first
// index equal to it); rows long enough for vector bodies and tails, with
// infinities, NaN before and after the extreme, all-NaN and all -inf rows.
TEST(CpuJit, ArgReduceOverTheLastDimSpecialValues) {
  const int64_t cols = 37;
  for (Dtype dtype : kFloatTypes) {
    std::string in = tensorType(dtype, {0, 0}, true);
    std::string source;
    for (const char *op : {"argmax", "argmin"})
      source += emberFunction(std::string(op) + "_rows", {in}, "tensor<?xi64>",
                              std::string(op) + " %a dim = 1 : " + in +
                                  " -> tensor<?xi64>");
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    Array x = mapArray(randomArray(rng(), dtype, {7, cols}, -3, 3), dtype,
                       [](double v) { return std::round(v); });
    auto at = [&](int64_t r, int64_t c) -> double & {
      return x.values[r * cols + c];
    };
    for (int64_t c = 0; c < cols; ++c) {
      at(0, c) = -INFINITY; // all -inf: index 0 for both
      at(1, c) = NAN;       // all NaN: index 0 for both
    }
    at(2, 20) = at(2, 33) = INFINITY; // tied +inf late in the row
    at(2, 30) = at(2, 31) = -INFINITY;
    at(3, 36) = NAN; // NaN only in the tail
    at(4, 0) = NAN;  // NaN first
    at(5, 17) = 100;
    at(5, 25) = NAN; // NaN after the maximum still wins
    at(6, 9) = at(6, 35) = -100;
    for (bool isMin : {false, true}) {
      std::string op = isMin ? "argmin" : "argmax";
      Array expected = argReduce2d(x, 1, isMin, false);
      expectClose(jit.run(op + "_rows", {x}, {expected})[0], expected, 0,
                  op + " " + mlirName(dtype) + " special values");
    }
  }
}

// Two reductions whose identical `linalg.fill` inits CSE merges must still
// write their own results (the destination ABI gives each op its own init;
// before that, eliminate-empty-tensors made both outputs the first result).
TEST(CpuJit, ReductionsSharingAnInit) {
  const std::string source = R"mlir(
func.func @pair(%x: tensor<?x?xf32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<?xi64>, tensor<?xi64>) {
  %twice = ember.add %x, %x : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %0 = ember.sum %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  %1 = ember.sum %twice dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  %2 = ember.argmax %x dim = 1 : tensor<?x?xf32> -> tensor<?xi64>
  %3 = ember.argmin %x dim = 1 : tensor<?x?xf32> -> tensor<?xi64>
  return %0, %1, %2, %3 : tensor<?xf32>, tensor<?xf32>, tensor<?xi64>, tensor<?xi64>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  Array x = randomArray(rng(), Dtype::f32, {4, 9});
  Array sum = reduce3d(Array{Dtype::f32, {4, 9, 1}, x.values}, {1, 2}, false,
                       0, [](double a, double b) { return a + b; }, false);
  Array twice = mapArray(sum, Dtype::f32, [](double v) { return 2 * v; });
  Array argmax = argReduce2d(x, 1, false, false);
  Array argmin = argReduce2d(x, 1, true, false);
  auto outs = jit.run("pair", {x}, {sum, twice, argmax, argmin});
  expectClose(outs[0], sum, 2e-5, "sum");
  expectClose(outs[1], twice, 2e-5, "sum of 2x");
  expectClose(outs[2], argmax, 0, "argmax");
  expectClose(outs[3], argmin, 0, "argmin");
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// Reference batched matmul with NumPy batch broadcasting.
Array matmulRef(const Array &a, const Array &b) {
  size_t ra = a.shape.size(), rb = b.shape.size();
  int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
  std::vector<int64_t> batchA(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> batchB(b.shape.begin(), b.shape.end() - 2);
  std::vector<int64_t> batch = broadcastShape(batchA, batchB);
  std::vector<int64_t> shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  Array out{a.dtype, shape, {}};
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  for (int64_t flat = 0; flat < batches; ++flat) {
    int64_t oa = broadcastOffset(flat, batch, batchA);
    int64_t ob = broadcastOffset(flat, batch, batchB);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += a.values[oa * m * k + i * k + p] *
                 b.values[ob * k * n + p * n + j];
        out.values.push_back(roundTo(a.dtype, acc));
      }
  }
  return out;
}

TEST(CpuJit, MatmulShapesAndDtypes) {
  struct Case {
    std::vector<int64_t> a, b;
  };
  const std::vector<Case> cases = {
      {{7, 5}, {5, 3}},              // plain 2-D
      {{0, 5}, {5, 3}},              // empty M
      {{4, 0}, {0, 3}},              // empty K: all zeros
      {{2, 3, 4}, {4, 6}},           // batch folded into M
      {{2, 1, 3, 4}, {5, 4, 6}},     // broadcast batch dims
      {{3, 2, 8}, {3, 8, 2}},        // batch_matmul
      {{64, 130}, {130, 33}},        // larger than a BLAS block
  };
  for (Dtype dtype : {Dtype::f32, Dtype::f64, Dtype::f16, Dtype::i32}) {
    std::string source;
    for (size_t i = 0; i < cases.size(); ++i) {
      // `a` is dynamic except its size-1 dims (which broadcast), `b` static.
      std::vector<int64_t> aDims, bDims = cases[i].b;
      for (int64_t d : cases[i].a)
        aDims.push_back(d == 1 ? 1 : -1);
      size_t rank = std::max(aDims.size(), bDims.size());
      std::vector<int64_t> outDims;
      for (size_t d = 0; d + 2 < rank; ++d) {
        int64_t x = d < rank - aDims.size() ? 1 : aDims[d - (rank - aDims.size())];
        int64_t y = d < rank - bDims.size() ? 1 : bDims[d - (rank - bDims.size())];
        outDims.push_back(x == 1 ? y : (y == 1 ? x : y));
      }
      outDims.push_back(aDims[aDims.size() - 2]);
      outDims.push_back(bDims.back());
      auto typeOf = [&](const std::vector<int64_t> &dims) {
        std::string text = "tensor<";
        for (int64_t d : dims)
          text += (d < 0 ? std::string("?") : std::to_string(d)) + "x";
        return text + mlirName(dtype) + ">";
      };
      std::string a = typeOf(aDims), b = typeOf(bDims), out = typeOf(outDims);
      source += binaryFunction("mm" + std::to_string(i), "matmul", a, b, out);
    }
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    for (size_t i = 0; i < cases.size(); ++i) {
      Array a = randomArray(rng(), dtype, cases[i].a, -1, 1);
      Array b = randomArray(rng(), dtype, cases[i].b, -1, 1);
      Array expected = matmulRef(a, b);
      Array actual = jit.run("mm" + std::to_string(i), {a, b},
                             {Array{dtype, expected.shape, {}}})[0];
      double tol = isFloat(dtype) ? tolerance(dtype) * 8 : 0;
      expectClose(actual, expected, tol,
                  "matmul case " + std::to_string(i) + " " + mlirName(dtype));
    }
  }
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

TEST(CpuJit, ShapeOps) {
  const std::string source = R"mlir(
func.func @reshape(%x: tensor<?x6xf32>) -> tensor<?x3xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %n = tensor.dim %x, %c0 : tensor<?x6xf32>
  %m = arith.muli %n, %c2 : index
  %0 = ember.reshape %x [%m] : tensor<?x6xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
func.func @transpose(%x: tensor<?x?x4xi64>) -> tensor<4x?x?xi64> {
  %0 = ember.transpose %x perm = [2, 0, 1] : tensor<?x?x4xi64> -> tensor<4x?x?xi64>
  return %0 : tensor<4x?x?xi64>
}
func.func @slice(%x: tensor<?x10xf32>) -> tensor<?x3xf32> {
  %0 = ember.slice %x start = [-3, 1] stop = [9223372036854775807, 8] step = [2, 3] : tensor<?x10xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
func.func @concat(%a: tensor<?x3xi32>, %b: tensor<2x3xi32>) -> tensor<?x3xi32> {
  %0 = ember.concat %a, %b dim = 0 : tensor<?x3xi32>, tensor<2x3xi32> -> tensor<?x3xi32>
  return %0 : tensor<?x3xi32>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));

  Array x = randomArray(rng(), Dtype::f32, {4, 6});
  Array r = jit.run("reshape", {x}, {Array{Dtype::f32, {8, 3}, {}}})[0];
  expectClose(r, Array{Dtype::f32, {8, 3}, x.values}, 0, "reshape");

  Array t = randomArray(rng(), Dtype::i64, {2, 3, 4});
  Array tExpected{Dtype::i64, {4, 2, 3}, {}};
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        tExpected.values.push_back(t.values[(i * 3 + j) * 4 + k]);
  expectClose(jit.run("transpose", {t}, {tExpected})[0], tExpected, 0,
              "transpose");

  Array s = randomArray(rng(), Dtype::f32, {7, 10});
  Array sExpected{Dtype::f32, {2, 3}, {}};
  for (int i : {4, 6})
    for (int j : {1, 4, 7})
      sExpected.values.push_back(s.values[i * 10 + j]);
  expectClose(jit.run("slice", {s}, {sExpected})[0], sExpected, 0, "slice");

  Array a = randomArray(rng(), Dtype::i32, {3, 3});
  Array b = randomArray(rng(), Dtype::i32, {2, 3});
  Array cExpected{Dtype::i32, {5, 3}, a.values};
  cExpected.values.insert(cExpected.values.end(), b.values.begin(),
                          b.values.end());
  expectClose(jit.run("concat", {a, b}, {cExpected})[0], cExpected, 0, "concat");
}

/// Random Python-style indices into a dim of `size`: half of them negative.
Array randomIndices(Dtype dtype, std::vector<int64_t> shape, int64_t size) {
  Array indices{dtype, std::move(shape), {}};
  std::uniform_int_distribution<int64_t> pick(-size, size - 1);
  for (int64_t i = 0; i < indices.numel(); ++i)
    indices.values.push_back(pick(rng()));
  return indices;
}

/// x.take(indices, axis=dim) in NumPy, with negative indices from the end.
Array gatherRef(const Array &x, const Array &indices, size_t dim) {
  int64_t outer = 1, inner = 1, size = x.shape[dim];
  for (size_t i = 0; i < dim; ++i)
    outer *= x.shape[i];
  for (size_t i = dim + 1; i < x.shape.size(); ++i)
    inner *= x.shape[i];
  Array out{x.dtype, {x.shape.begin(), x.shape.begin() + dim}, {}};
  out.shape.insert(out.shape.end(), indices.shape.begin(), indices.shape.end());
  out.shape.insert(out.shape.end(), x.shape.begin() + dim + 1, x.shape.end());
  for (int64_t o = 0; o < outer; ++o)
    for (double index : indices.values) {
      int64_t k = static_cast<int64_t>(index);
      k = k < 0 ? k + size : k;
      for (int64_t i = 0; i < inner; ++i)
        out.values.push_back(x.values[(o * size + k) * inner + i]);
    }
  return out;
}

TEST(CpuJit, GatherWithNegativeIndices) {
  const std::string source = R"mlir(
func.func @rows(%x: tensor<?x?xf32>, %i: tensor<?xi64>) -> tensor<?x?xf32> {
  %0 = ember.gather %x, %i dim = 0 : tensor<?x?xf32>, tensor<?xi64> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
func.func @middle(%x: tensor<?x?x3xbf16>, %i: tensor<2x?xi32>) -> tensor<?x2x?x3xbf16> {
  %0 = ember.gather %x, %i dim = 1 : tensor<?x?x3xbf16>, tensor<2x?xi32> -> tensor<?x2x?x3xbf16>
  return %0 : tensor<?x2x?x3xbf16>
}
func.func @scalar(%x: tensor<?x6xi64>, %i: tensor<i32>) -> tensor<?xi64> {
  %0 = ember.gather %x, %i dim = 1 : tensor<?x6xi64>, tensor<i32> -> tensor<?xi64>
  return %0 : tensor<?xi64>
}
func.func @last(%x: tensor<4x?xi1>, %i: tensor<?x?xi64>) -> tensor<4x?x?xi1> {
  %0 = ember.gather %x, %i dim = 1 : tensor<4x?xi1>, tensor<?x?xi64> -> tensor<4x?x?xi1>
  return %0 : tensor<4x?x?xi1>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  for (int64_t n : {9, 1, 0}) {
    Array x = randomArray(rng(), Dtype::f32, {5, 7});
    Array i = randomIndices(Dtype::i64, {n}, 5);
    Array expected = gatherRef(x, i, 0);
    expectClose(jit.run("rows", {x, i}, {expected})[0], expected, 0,
                "gather rows n=" + std::to_string(n));
  }
  Array y = randomArray(rng(), Dtype::bf16, {4, 6, 3});
  Array j = randomIndices(Dtype::i32, {2, 5}, 6);
  Array yExpected = gatherRef(y, j, 1);
  expectClose(jit.run("middle", {y, j}, {yExpected})[0], yExpected, 0,
              "gather middle");
  Array z = randomArray(rng(), Dtype::i64, {3, 6});
  for (int64_t k = -6; k < 6; ++k) {
    Array index{Dtype::i32, {}, {double(k)}};
    Array expected = gatherRef(z, index, 1);
    expectClose(jit.run("scalar", {z, index}, {expected})[0], expected, 0,
                "gather 0-d index " + std::to_string(k));
  }
  Array m = randomArray(rng(), Dtype::i1, {4, 5});
  Array mi = randomIndices(Dtype::i64, {2, 3}, 5);
  Array mExpected = gatherRef(m, mi, 1);
  expectClose(jit.run("last", {m, mi}, {mExpected})[0], mExpected, 0,
              "gather last dim");
}

/// dest with updates[o, j..., i] added at dest[o, indices[j...], i]: the
/// adjoint of gatherRef, repeated indices accumulating.
Array scatterAddRef(const Array &dest, const Array &indices,
                    const Array &updates, size_t dim) {
  int64_t outer = 1, inner = 1, size = dest.shape[dim];
  for (size_t i = 0; i < dim; ++i)
    outer *= dest.shape[i];
  for (size_t i = dim + 1; i < dest.shape.size(); ++i)
    inner *= dest.shape[i];
  Array out = dest;
  int64_t u = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (double index : indices.values) {
      int64_t k = static_cast<int64_t>(index);
      k = k < 0 ? k + size : k;
      for (int64_t i = 0; i < inner; ++i) {
        double &slot = out.values[(o * size + k) * inner + i];
        slot = roundTo(dest.dtype, slot + updates.values[u++]);
      }
    }
  return out;
}

TEST(CpuJit, ScatterAddAccumulatesRepeatedIndices) {
  const std::string source = R"mlir(
func.func @middle(%d: tensor<?x?x3xf32>, %i: tensor<2x?xi64>, %u: tensor<?x2x?x3xf32>) -> tensor<?x?x3xf32> {
  %0 = ember.scatter_add %d, %i, %u dim = 1 : tensor<?x?x3xf32>, tensor<2x?xi64>, tensor<?x2x?x3xf32>
  return %0 : tensor<?x?x3xf32>
}
func.func @rows(%d: tensor<?x4xi32>, %i: tensor<?xi32>, %u: tensor<?x4xi32>) -> tensor<?x4xi32> {
  %0 = ember.scatter_add %d, %i, %u dim = 0 : tensor<?x4xi32>, tensor<?xi32>, tensor<?x4xi32>
  return %0 : tensor<?x4xi32>
}
func.func @scalar(%d: tensor<5xbf16>, %i: tensor<i64>, %u: tensor<bf16>) -> tensor<5xbf16> {
  %0 = ember.scatter_add %d, %i, %u dim = 0 : tensor<5xbf16>, tensor<i64>, tensor<bf16>
  return %0 : tensor<5xbf16>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  Array d = randomArray(rng(), Dtype::f32, {2, 4, 3});
  // Few distinct positions, so that indices repeat.
  Array i = randomIndices(Dtype::i64, {2, 5}, 4);
  Array u = randomArray(rng(), Dtype::f32, {2, 2, 5, 3});
  Array expected = scatterAddRef(d, i, u, 1);
  expectClose(jit.run("middle", {d, i, u}, {expected})[0], expected,
              tolerance(Dtype::f32), "scatter_add middle");
  Array rd = randomArray(rng(), Dtype::i32, {3, 4});
  Array ri{Dtype::i32, {4}, {0, -1, 0, 0}};
  Array ru = randomArray(rng(), Dtype::i32, {4, 4});
  Array rExpected = scatterAddRef(rd, ri, ru, 0);
  expectClose(jit.run("rows", {rd, ri, ru}, {rExpected})[0], rExpected, 0,
              "scatter_add rows");
  Array sd = randomArray(rng(), Dtype::bf16, {5});
  Array si{Dtype::i64, {}, {-2}};
  Array su = randomArray(rng(), Dtype::bf16, {});
  Array sExpected = scatterAddRef(sd, si, su, 0);
  expectClose(jit.run("scalar", {sd, si, su}, {sExpected})[0], sExpected,
              tolerance(Dtype::bf16), "scatter_add 0-d");
}

/// The indices range(size)[start:stop:step] selects in Python.
std::vector<int64_t> pythonSlice(int64_t size, int64_t start, int64_t stop,
                                 int64_t step) {
  auto clamp = [size](int64_t i) {
    if (i < 0)
      i += size;
    return std::min(std::max<int64_t>(i, 0), size);
  };
  std::vector<int64_t> picked;
  for (int64_t i = clamp(start); i < clamp(stop); i += step)
    picked.push_back(i);
  return picked;
}

TEST(CpuJit, InsertSliceWithStepsAndNegativeStarts) {
  struct Case {
    const char *function;
    Dtype dtype;
    std::vector<int64_t> start, stop, step;
  };
  const std::vector<Case> cases = {
      {"dynamic", Dtype::f32, {-5, 1}, {INT64_MAX, 8}, {2, 3}},
      {"fixed", Dtype::i64, {-2, -5}, {INT64_MAX, -1}, {1, 3}},
      {"temporary", Dtype::i1, {1, -100}, {-1, 100}, {1, 2}}};
  // `temporary` inserts into an op's result rather than into an input.
  const std::string source = R"mlir(
func.func @dynamic(%s: tensor<?x3xf32>, %d: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %0 = ember.insert_slice %s into %d start = [-5, 1] stop = [9223372036854775807, 8] step = [2, 3] : tensor<?x3xf32> into tensor<?x10xf32>
  return %0 : tensor<?x10xf32>
}
func.func @fixed(%s: tensor<2x2xi64>, %d: tensor<6x5xi64>) -> tensor<6x5xi64> {
  %0 = ember.insert_slice %s into %d start = [-2, -5] stop = [9223372036854775807, -1] step = [1, 3] : tensor<2x2xi64> into tensor<6x5xi64>
  return %0 : tensor<6x5xi64>
}
func.func @temporary(%s: tensor<?x?xi1>, %d: tensor<?x?xi1>) -> tensor<?x?xi1> {
  %t = ember.not %d : tensor<?x?xi1>
  %0 = ember.insert_slice %s into %t start = [1, -100] stop = [-1, 100] step = [1, 2] : tensor<?x?xi1> into tensor<?x?xi1>
  return %0 : tensor<?x?xi1>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  const std::vector<std::vector<int64_t>> destShapes = {
      {7, 10}, {3, 10}, {0, 10}, {6, 5}, {5, 7}, {2, 1}};
  for (const Case &c : cases) {
    std::string name = c.function;
    for (const std::vector<int64_t> &shape : destShapes) {
      // `fixed` has static shapes and `dynamic` a static second dim.
      if ((name == "fixed") != (shape == std::vector<int64_t>{6, 5}) ||
          (name == "dynamic" && shape[1] != 10))
        continue;
      std::vector<int64_t> rows =
          pythonSlice(shape[0], c.start[0], c.stop[0], c.step[0]);
      std::vector<int64_t> cols =
          pythonSlice(shape[1], c.start[1], c.stop[1], c.step[1]);
      Array dest = randomArray(rng(), c.dtype, shape, -5, 5);
      Array src = randomArray(rng(), c.dtype,
                              {int64_t(rows.size()), int64_t(cols.size())},
                              -5, 5);
      Array expected = dest;
      if (name == "temporary")
        expected = mapArray(dest, c.dtype, [](double v) { return v == 0; });
      for (size_t i = 0; i < rows.size(); ++i)
        for (size_t j = 0; j < cols.size(); ++j)
          expected.values[rows[i] * shape[1] + cols[j]] =
              src.values[i * cols.size() + j];
      expectClose(jit.run(name, {src, dest}, {expected})[0], expected, 0,
                  "insert_slice " + name + " into " +
                      std::to_string(shape[0]) + "x" +
                      std::to_string(shape[1]));
    }
  }
}

TEST(CpuJit, BroadcastToFromTensorDims) {
  const std::string source = R"mlir(
func.func @expand(%row: tensor<1x5xf64>, %like: tensor<?x5xf64>) -> tensor<?x5xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %like, %c0 : tensor<?x5xf64>
  %0 = ember.broadcast_to %row [%n] : tensor<1x5xf64> -> tensor<?x5xf64>
  %1 = ember.add %0, %like : tensor<?x5xf64>, tensor<?x5xf64> -> tensor<?x5xf64>
  return %1 : tensor<?x5xf64>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  Array row = randomArray(rng(), Dtype::f64, {1, 5});
  Array like = randomArray(rng(), Dtype::f64, {4, 5});
  Array expected = broadcastArrays(row, like, Dtype::f64,
                                   [](double a, double b) { return a + b; });
  expectClose(jit.run("expand", {row, like}, {expected})[0], expected, 1e-12,
              "broadcast_to");
}

//===----------------------------------------------------------------------===//
// Composites, dynamic sizes, artifacts, errors
//===----------------------------------------------------------------------===//

TEST(CpuJit, SoftmaxAndLogSoftmax) {
  const std::string source = R"mlir(
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
func.func @log_softmax(%x: tensor<?x?xf64>) -> tensor<?x?xf64> {
  %0 = ember.log_softmax %x dim = 0 : tensor<?x?xf64>
  return %0 : tensor<?x?xf64>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  Array x = randomArray(rng(), Dtype::f32, {5, 11}, -30, 30);
  Array expected{Dtype::f32, {5, 11}, {}};
  for (int i = 0; i < 5; ++i) {
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < 11; ++j)
      mx = std::max(mx, x.values[i * 11 + j]);
    for (int j = 0; j < 11; ++j)
      sum += std::exp(x.values[i * 11 + j] - mx);
    for (int j = 0; j < 11; ++j)
      expected.values.push_back(std::exp(x.values[i * 11 + j] - mx) / sum);
  }
  expectClose(jit.run("softmax", {x}, {expected})[0], expected, 2e-5,
              "softmax");

  Array y = randomArray(rng(), Dtype::f64, {6, 3}, -5, 5);
  Array yExpected{Dtype::f64, {6, 3}, std::vector<double>(18)};
  for (int j = 0; j < 3; ++j) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < 6; ++i)
      mx = std::max(mx, y.values[i * 3 + j]);
    for (int i = 0; i < 6; ++i)
      sum += std::exp(y.values[i * 3 + j] - mx);
    for (int i = 0; i < 6; ++i)
      yExpected.values[i * 3 + j] = y.values[i * 3 + j] - mx - std::log(sum);
  }
  expectClose(jit.run("log_softmax", {y}, {yExpected})[0], yExpected, 1e-12,
              "log_softmax");
}

/// Softmax (or log_softmax) of a 3-D array along `dim`, in double precision
/// and rounded to the dtype.
Array softmax3d(const Array &x, int dim, bool log) {
  const std::vector<int64_t> &shape = x.shape;
  int64_t strides[3] = {shape[1] * shape[2], shape[2], 1};
  Array out{x.dtype, shape, std::vector<double>(x.values.size())};
  for (int64_t start = 0; start < x.numel(); ++start) {
    // Visit each line along `dim` once, from its first element.
    if ((start / strides[dim]) % shape[dim] != 0)
      continue;
    auto at = [&](int64_t k) { return start + k * strides[dim]; };
    double mx = -INFINITY, sum = 0;
    for (int64_t k = 0; k < shape[dim]; ++k)
      mx = std::max(mx, x.values[at(k)]);
    for (int64_t k = 0; k < shape[dim]; ++k)
      sum += std::exp(x.values[at(k)] - mx);
    for (int64_t k = 0; k < shape[dim]; ++k) {
      double v = x.values[at(k)] - mx;
      out.values[at(k)] =
          roundTo(x.dtype, log ? v - std::log(sum) : std::exp(v) / sum);
    }
  }
  return out;
}

/// Softmax over the last dim lowers row by row (ember-softmax-rows), over
/// other dims through ember-decompose: both, static and dynamic dims, every
/// float dtype, rows longer than a vector and with a remainder.
TEST(CpuJit, SoftmaxRowsAndOtherDims) {
  for (Dtype dtype : kFloatTypes) {
    std::string source, dynamicLastDim;
    std::vector<std::tuple<std::string, int, bool>> fns;
    for (bool dynamic : {false, true})
      for (int dim : {2, 1, 0})
        for (bool log : {false, true}) {
          std::string name = std::string(log ? "log_softmax" : "softmax") +
                             std::to_string(fns.size());
          std::string type = tensorType(dtype, {3, 4, 37}, dynamic);
          source += emberFunction(name, {type}, type,
                                  std::string(log ? "log_softmax" : "softmax") +
                                      " %a dim = " + std::to_string(dim) +
                                      " : " + type);
          fns.emplace_back(name, dim, dynamic);
          if (dynamic && dim == 2 && !log)
            dynamicLastDim = name;
        }
    JitRunner jit;
    ASSERT_TRUE(jit.compile(source));
    // Wide inputs: without the max shift exp would overflow.
    Array x = randomArray(rng(), dtype, {3, 4, 37}, -40, 40);
    for (const auto &[name, dim, dynamic] : fns) {
      bool log = name.rfind("log", 0) == 0;
      Array expected = softmax3d(x, dim, log);
      Array actual = jit.run(name, {x}, {Array{dtype, x.shape, {}}})[0];
      expectClose(actual, expected, tolerance(dtype) * 2,
                  name + " dim " + std::to_string(dim) + " " + mlirName(dtype));
    }
    // One compile of the dynamic last-dim softmax serves other sizes,
    // including empty rows and no rows.
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{1, 2, 1000}, std::vector<int64_t>{2, 3, 1},
          std::vector<int64_t>{2, 3, 0}, std::vector<int64_t>{0, 3, 5}}) {
      Array y = randomArray(rng(), dtype, shape, -5, 5);
      Array expected = softmax3d(y, 2, /*log=*/false);
      expectClose(jit.run(dynamicLastDim, {y}, {Array{dtype, shape, {}}})[0],
                  expected, tolerance(dtype) * 2,
                  dynamicLastDim + " " + mlirName(dtype));
    }
  }
}

TEST(CpuJit, SoftmaxNanAndInfinityFollowTorch) {
  JitRunner jit;
  ASSERT_TRUE(jit.compile(R"mlir(
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
)mlir"));
  // A NaN makes its row NaN; -inf gets 0; a row of -inf is NaN (0 / 0).
  const double nan = NAN, inf = INFINITY;
  Array x{Dtype::f32, {3, 3}, {1, nan, 2, 0, -inf, 0, -inf, -inf, -inf}};
  Array expected{Dtype::f32, {3, 3}, {nan, nan, nan, 0.5, 0, 0.5, nan, nan, nan}};
  Array actual = jit.run("softmax", {x}, {Array{Dtype::f32, {3, 3}, {}}})[0];
  for (size_t i = 0; i < expected.values.size(); ++i) {
    if (std::isnan(expected.values[i]))
      EXPECT_TRUE(std::isnan(actual.values[i])) << "element " << i;
    else
      EXPECT_DOUBLE_EQ(actual.values[i], expected.values[i]) << "element " << i;
  }
}

TEST(CpuJit, OneCompileServesEverySize) {
  const std::string source = R"mlir(
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>, %c: tensor<?xf32>, %d: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.add %0, %c : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.sigmoid %1 : tensor<?xf32>
  %3 = ember.mul %2, %d : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %4 = ember.sub %3, %a : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %4 : tensor<?xf32>
}
)mlir";
  JitRunner jit;
  ASSERT_TRUE(jit.compile(source));
  for (int64_t n : {0, 1, 7, 64, 1000, 4099}) {
    std::vector<Array> in;
    for (int i = 0; i < 4; ++i)
      in.push_back(randomArray(rng(), Dtype::f32, {n}));
    Array expected{Dtype::f32, {n}, {}};
    for (int64_t i = 0; i < n; ++i) {
      double a = in[0].values[i], b = in[1].values[i], c = in[2].values[i],
             d = in[3].values[i];
      expected.values.push_back(roundTo(Dtype::f32, sigmoid(a * b + c) * d - a));
    }
    expectClose(jit.run("chain", in, {Array{Dtype::f32, {n}, {}}})[0], expected,
                2e-5, "chain n=" + std::to_string(n));
  }
}

TEST(CpuJit, WritesAnObjectFile) {
  mlir::MLIRContext context;
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  context.appendDialectRegistry(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(R"mlir(
func.func @double(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.add %x, %x : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
)mlir", &context);
  ASSERT_TRUE(module);
  ember::CpuCompileOptions options;
  options.keepObject = true;
  std::string error;
  auto compiled = ember::compileForCpu(*module, options, &error);
  ASSERT_TRUE(compiled) << error;
  std::string path = ::testing::TempDir() + "/ember_double.o";
  ASSERT_TRUE(compiled->writeObjectFile(path, &error)) << error;
  std::ifstream file(path, std::ios::binary);
  char magic[4] = {};
  file.read(magic, 4);
  EXPECT_EQ(std::string(magic, 4), std::string("\x7f" "ELF", 4));

  // An unwritable path, and a module compiled without keepObject, fail with
  // a message instead of pretending.
  EXPECT_FALSE(compiled->writeObjectFile("/nonexistent-dir/x.o", &error));
  EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
  JitRunner jit;
  ASSERT_TRUE(jit.compile(R"mlir(
func.func @id(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
)mlir"));
  EXPECT_FALSE(jit.executable().writeObjectFile(path, &error));
  EXPECT_NE(error.find("keepObject"), std::string::npos) << error;
}

TEST(CpuJit, ErrorsCarryTheSourceLocation) {
  JitRunner jit;
  std::string error;
  // Static shapes that cannot broadcast: rejected when the module is
  // verified, with the op's line:column.
  EXPECT_FALSE(jit.compile(R"mlir(
func.func @bad(%a: tensor<3xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = ember.add %a, %b : tensor<3xf32>, tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
)mlir", &error));
  EXPECT_NE(error.find(":3:8"), std::string::npos) << error;
  EXPECT_NE(error.find("tensor<3xf32> and tensor<4xf32>"), std::string::npos)
      << error;
  // A function name that does not exist fails at lookup.
  ASSERT_TRUE(jit.compile(R"mlir(
func.func @ok(%a: tensor<?xf32>) -> tensor<?xf32> {
  return %a : tensor<?xf32>
}
)mlir"));
  EXPECT_FALSE(jit.executable().invoke("missing", {}, &error));
  EXPECT_NE(error.find("no public function named 'missing'"), std::string::npos)
      << error;
}

TEST(CpuJit, ReturningAnInputCopiesIt) {
  JitRunner jit;
  ASSERT_TRUE(jit.compile(R"mlir(
func.func @identity(%a: tensor<?x2xi1>) -> (tensor<?x2xi1>, tensor<?x2xi1>) {
  return %a, %a : tensor<?x2xi1>, tensor<?x2xi1>
}
)mlir"));
  Array a = randomArray(rng(), Dtype::i1, {3, 2});
  auto outs = jit.run("identity", {a},
                      {Array{Dtype::i1, {3, 2}, {}}, Array{Dtype::i1, {3, 2}, {}}});
  expectClose(outs[0], a, 0, "first copy");
  expectClose(outs[1], a, 0, "second copy");
}

} // namespace
