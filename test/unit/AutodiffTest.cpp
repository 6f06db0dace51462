//===- AutodiffTest.cpp - JIT-run VJP functions against finite differences -===//
//
// Each case is an ember function in f64. `buildVjpFunction` adds its VJP
// function, the CPU JIT compiles both, and every gradient element is compared
// with a central finite difference of `sum(cotangent * f(x))` on fresh random
// inputs. Cases cover every VJP rule, broadcasting and dynamic dims.
//
//===----------------------------------------------------------------------===//

#include "JitTestSupport.h"

#include "ember/Compiler/Autodiff.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <map>

using namespace ember::test;

namespace {

std::mt19937 &rng() {
  static std::mt19937 generator(std::random_device{}());
  return generator;
}

Dtype dtypeOf(mlir::Type type) {
  mlir::Type element = mlir::cast<mlir::RankedTensorType>(type).getElementType();
  if (element.isF64())
    return Dtype::f64;
  if (element.isF32())
    return Dtype::f32;
  if (element.isInteger(1))
    return Dtype::i1;
  if (element.isInteger(32))
    return Dtype::i32;
  return Dtype::i64;
}

struct GradCase {
  /// The function's name; `source` defines it.
  std::string name;
  std::string source;
  /// Concrete argument and result shapes for this run.
  std::vector<std::vector<int64_t>> args, results;
  /// Values for the arguments that are not differentiated (indices, masks).
  std::map<size_t, Array> fixed = {};
  /// The range random float inputs are drawn from.
  double low = -2, high = 2;
  double step = 1e-6, tol = 1e-6;
};

/// The VJP function of `c`'s function, compiled with it for the CPU.
struct CompiledVjp {
  JitRunner jit;
  std::vector<Dtype> argTypes, resultTypes;
  std::vector<size_t> wrt;
};

/// Parses `source`, adds the VJP function of `name` (and of its VJP
/// function when `order` is 2) and compiles the module.
bool compileVjp(const std::string &source, const std::string &name,
                CompiledVjp &out, int order = 1,
                const ember::VjpOptions &options = {}) {
  mlir::MLIRContext context;
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module) {
    ADD_FAILURE() << "cannot parse:\n" << source;
    return false;
  }
  auto func = module->lookupSymbol<mlir::func::FuncOp>(name);
  for (mlir::Type type : func.getArgumentTypes())
    out.argTypes.push_back(dtypeOf(type));
  for (mlir::Type type : func.getResultTypes())
    out.resultTypes.push_back(dtypeOf(type));
  for (int i = 0; i < order; ++i) {
    auto vjp = ember::buildVjpFunction(func, ember::floatTensorArguments(func),
                                       options);
    if (mlir::failed(vjp)) {
      ADD_FAILURE() << "no VJP function for @" << func.getName().str();
      return false;
    }
    func = *vjp;
  }
  for (unsigned index : ember::floatTensorArguments(
           module->lookupSymbol<mlir::func::FuncOp>(name)))
    out.wrt.push_back(index);
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return out.jit.compile(text);
}

Array zerosOf(Dtype dtype, const std::vector<int64_t> &shape) {
  Array array{dtype, shape, {}};
  array.values.assign(array.numel(), 0.0);
  return array;
}

/// sum_i <cotangents[i], outputs[i]>.
double dot(const std::vector<Array> &cotangents,
           const std::vector<Array> &outputs) {
  double total = 0;
  for (size_t i = 0; i < cotangents.size(); ++i)
    for (size_t e = 0; e < cotangents[i].values.size(); ++e)
      total += cotangents[i].values[e] * outputs[i].values[e];
  return total;
}

void checkGradients(const GradCase &c,
                    const ember::VjpOptions &options = {}) {
  SCOPED_TRACE(c.name);
  CompiledVjp compiled;
  ASSERT_TRUE(compileVjp(c.source, c.name, compiled, 1, options));
  std::vector<Array> inputs;
  for (size_t i = 0; i < c.args.size(); ++i) {
    auto it = c.fixed.find(i);
    inputs.push_back(it != c.fixed.end()
                         ? it->second
                         : randomArray(rng(), compiled.argTypes[i], c.args[i],
                                       c.low, c.high));
  }
  std::vector<Array> resultShapes, cotangents;
  for (size_t i = 0; i < c.results.size(); ++i) {
    resultShapes.push_back(zerosOf(compiled.resultTypes[i], c.results[i]));
    cotangents.push_back(
        randomArray(rng(), compiled.resultTypes[i], c.results[i]));
  }
  // The VJP function: (inputs..., cotangents...) -> (results..., grads...).
  std::vector<Array> vjpInputs = inputs;
  vjpInputs.insert(vjpInputs.end(), cotangents.begin(), cotangents.end());
  std::vector<Array> vjpOutputs = resultShapes;
  for (size_t index : compiled.wrt)
    vjpOutputs.push_back(zerosOf(compiled.argTypes[index], c.args[index]));
  std::vector<Array> outputs =
      compiled.jit.run(c.name + "_vjp", vjpInputs, vjpOutputs);
  std::vector<Array> forward = compiled.jit.run(c.name, inputs, resultShapes);
  for (size_t i = 0; i < resultShapes.size(); ++i)
    expectClose(outputs[i], forward[i], 1e-12, c.name + " result");

  for (size_t k = 0; k < compiled.wrt.size(); ++k) {
    size_t index = compiled.wrt[k];
    const Array &gradient = outputs[resultShapes.size() + k];
    Array numeric = gradient;
    for (int64_t e = 0; e < inputs[index].numel(); ++e) {
      std::vector<Array> shifted = inputs;
      shifted[index].values[e] = inputs[index].values[e] + c.step;
      double up = dot(cotangents, compiled.jit.run(c.name, shifted, resultShapes));
      shifted[index].values[e] = inputs[index].values[e] - c.step;
      double down =
          dot(cotangents, compiled.jit.run(c.name, shifted, resultShapes));
      numeric.values[e] = (up - down) / (2 * c.step);
    }
    expectClose(gradient, numeric, c.tol,
                c.name + " d/d(arg " + std::to_string(index) + ")");
  }
}

/// A one-op function `@name(%a, %b, ...) -> result { %0 = ember.<body> }`.
std::string oneOp(const std::string &name,
                  const std::vector<std::string> &argTypes,
                  const std::string &resultType, const std::string &body) {
  std::string args;
  for (size_t i = 0; i < argTypes.size(); ++i)
    args += std::string(i ? ", " : "") + "%" + char('a' + i) + ": " +
            argTypes[i];
  return "func.func @" + name + "(" + args + ") -> " + resultType +
         " {\n  %c0 = arith.constant 0 : index\n  %0 = ember." + body +
         "\n  return %0 : " + resultType + "\n}\n";
}

//===----------------------------------------------------------------------===//
// Element-wise
//===----------------------------------------------------------------------===//

TEST(Autodiff, UnaryOps) {
  const char *type = "tensor<?x3xf64>";
  for (const char *op : {"neg", "abs", "relu", "exp", "tanh", "sigmoid",
                         "gelu", "erf"})
    checkGradients({op, oneOp(op, {type}, type, std::string(op) + " %a : " + type),
                    {{2, 3}}, {{2, 3}}});
  for (const char *op : {"log", "sqrt", "rsqrt"}) {
    GradCase c{op, oneOp(op, {type}, type, std::string(op) + " %a : " + type),
               {{2, 3}}, {{2, 3}}};
    c.low = 0.5;
    checkGradients(c);
  }
}

TEST(Autodiff, CastBetweenFloatTypes) {
  // f64 -> f32 -> f64: the f32 rounding needs a coarser step.
  GradCase c{"cast", R"(
func.func @cast(%a: tensor<?x3xf64>) -> tensor<?x3xf64> {
  %0 = ember.cast %a : tensor<?x3xf64> to tensor<?x3xf32>
  %1 = ember.exp %0 : tensor<?x3xf32>
  %2 = ember.cast %1 : tensor<?x3xf32> to tensor<?x3xf64>
  return %2 : tensor<?x3xf64>
})",
             {{2, 3}}, {{2, 3}}};
  c.step = 1e-3;
  c.tol = 1e-3;
  checkGradients(c);
}

TEST(Autodiff, BinaryOpsWithBroadcasting) {
  // Both operands broadcast: lhs along dim 1, rhs along dims 0 and 2.
  const std::string lhs = "tensor<?x1x3xf64>", rhs = "tensor<4x1xf64>",
                    out = "tensor<?x4x3xf64>";
  for (const char *op : {"add", "sub", "mul", "div", "pow", "maximum",
                         "minimum"}) {
    GradCase c{op,
               oneOp(op, {lhs, rhs}, out,
                     std::string(op) + " %a, %b : " + lhs + ", " + rhs +
                         " -> " + out),
               {{2, 1, 3}, {4, 1}},
               {{2, 4, 3}}};
    // div and pow stay away from 0 (and pow from negative bases).
    if (std::string(op) == "div" || std::string(op) == "pow")
      c.low = 0.5;
    checkGradients(c);
  }
}

TEST(Autodiff, SelectIgnoresTheCondition) {
  GradCase c{"select",
             oneOp("select",
                   {"tensor<?x3xi1>", "tensor<?x3xf64>", "tensor<3xf64>"},
                   "tensor<?x3xf64>",
                   "select %a, %b, %c : tensor<?x3xi1>, tensor<?x3xf64>, "
                   "tensor<3xf64> -> tensor<?x3xf64>"),
             {{4, 3}, {4, 3}, {3}},
             {{4, 3}}};
  c.fixed[0] = randomArray(rng(), Dtype::i1, {4, 3});
  checkGradients(c);
}

//===----------------------------------------------------------------------===//
// Reductions, matmul
//===----------------------------------------------------------------------===//

TEST(Autodiff, Reductions) {
  checkGradients({"sum",
                  oneOp("sum", {"tensor<?x3x?xf64>"}, "tensor<1x3x?xf64>",
                        "sum %a dims = [0] keepdim : tensor<?x3x?xf64> -> "
                        "tensor<1x3x?xf64>"),
                  {{2, 3, 4}},
                  {{1, 3, 4}}});
  checkGradients({"mean",
                  oneOp("mean", {"tensor<?x3x?xf64>"}, "tensor<3xf64>",
                        "mean %a dims = [0, 2] : tensor<?x3x?xf64> -> "
                        "tensor<3xf64>"),
                  {{2, 3, 4}},
                  {{3}}});
  checkGradients({"max",
                  oneOp("max", {"tensor<?x5xf64>"}, "tensor<?xf64>",
                        "max %a dims = [1] : tensor<?x5xf64> -> tensor<?xf64>"),
                  {{3, 5}},
                  {{3}}});
  checkGradients({"min",
                  oneOp("min", {"tensor<?x?xf64>"}, "tensor<1x1xf64>",
                        "min %a dims = [0, 1] keepdim : tensor<?x?xf64> -> "
                        "tensor<1x1xf64>"),
                  {{3, 4}},
                  {{1, 1}}});
}

TEST(Autodiff, MaxSplitsTiesEvenly) {
  CompiledVjp compiled;
  ASSERT_TRUE(compileVjp(oneOp("max", {"tensor<?xf64>"}, "tensor<f64>",
                               "max %a dims = [0] : tensor<?xf64> -> tensor<f64>"),
                         "max", compiled));
  Array x{Dtype::f64, {4}, {1, 3, 3, 2}};
  Array g{Dtype::f64, {}, {1}};
  auto outputs = compiled.jit.run("max_vjp", {x, g},
                                  {zerosOf(Dtype::f64, {}), zerosOf(Dtype::f64, {4})});
  expectClose(outputs[1], Array{Dtype::f64, {4}, {0, 0.5, 0.5, 0}}, 1e-15,
              "max ties");
}

TEST(Autodiff, Matmul) {
  checkGradients({"mm",
                  oneOp("mm", {"tensor<?x4xf64>", "tensor<4x?xf64>"},
                        "tensor<?x?xf64>",
                        "matmul %a, %b : tensor<?x4xf64>, tensor<4x?xf64> -> "
                        "tensor<?x?xf64>"),
                  {{3, 4}, {4, 2}},
                  {{3, 2}}});
  // A batched left side against a plain matrix (the batch sums into rhs).
  checkGradients({"bmm",
                  oneOp("bmm", {"tensor<2x?x4xf64>", "tensor<4x5xf64>"},
                        "tensor<2x?x5xf64>",
                        "matmul %a, %b : tensor<2x?x4xf64>, tensor<4x5xf64> -> "
                        "tensor<2x?x5xf64>"),
                  {{2, 3, 4}, {4, 5}},
                  {{2, 3, 5}}});
  // A broadcast batch dim of size 1 on the left.
  checkGradients({"bcast",
                  oneOp("bcast", {"tensor<1x3x4xf64>", "tensor<2x4x?xf64>"},
                        "tensor<2x3x?xf64>",
                        "matmul %a, %b : tensor<1x3x4xf64>, tensor<2x4x?xf64> "
                        "-> tensor<2x3x?xf64>"),
                  {{1, 3, 4}, {2, 4, 2}},
                  {{2, 3, 2}}});
}

//===----------------------------------------------------------------------===//
// Shape and indexing ops
//===----------------------------------------------------------------------===//

TEST(Autodiff, ShapeOps) {
  checkGradients({"reshape", R"(
func.func @reshape(%a: tensor<?x6xf64>) -> tensor<?x2x3xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x6xf64>
  %0 = ember.reshape %a[%n] : tensor<?x6xf64> -> tensor<?x2x3xf64>
  %1 = ember.mul %0, %0 : tensor<?x2x3xf64>, tensor<?x2x3xf64> -> tensor<?x2x3xf64>
  return %1 : tensor<?x2x3xf64>
})",
                  {{2, 6}},
                  {{2, 2, 3}}});
  checkGradients({"broadcast",
                  oneOp("broadcast", {"tensor<3x1xf64>"}, "tensor<2x3x4xf64>",
                        "broadcast_to %a : tensor<3x1xf64> -> tensor<2x3x4xf64>"),
                  {{3, 1}},
                  {{2, 3, 4}}});
  checkGradients({"transpose",
                  oneOp("transpose", {"tensor<?x3x4xf64>"}, "tensor<4x?x3xf64>",
                        "transpose %a perm = [2, 0, 1] : tensor<?x3x4xf64> -> "
                        "tensor<4x?x3xf64>"),
                  {{2, 3, 4}},
                  {{4, 2, 3}}});
  checkGradients({"slice",
                  oneOp("slice", {"tensor<?x5xf64>"}, "tensor<?x2xf64>",
                        "slice %a start = [1, 1] stop = [9223372036854775807, "
                        "5] step = [1, 2] : tensor<?x5xf64> -> tensor<?x2xf64>"),
                  {{3, 5}},
                  {{2, 2}}});
  checkGradients({"insert",
                  oneOp("insert", {"tensor<2x2xf64>", "tensor<?x5xf64>"},
                        "tensor<?x5xf64>",
                        "insert_slice %a into %b start = [-2, 0] stop = "
                        "[9223372036854775807, 4] step = [1, 2] : "
                        "tensor<2x2xf64> into tensor<?x5xf64>"),
                  {{2, 2}, {3, 5}},
                  {{3, 5}}});
  checkGradients({"concat",
                  oneOp("concat", {"tensor<2x3xf64>", "tensor<?x3xf64>"},
                        "tensor<?x3xf64>",
                        "concat %a, %b dim = 0 : tensor<2x3xf64>, "
                        "tensor<?x3xf64> -> tensor<?x3xf64>"),
                  {{2, 3}, {4, 3}},
                  {{6, 3}}});
}

TEST(Autodiff, GatherAndScatterAdd) {
  // Repeated and negative indices: their cotangents accumulate.
  GradCase gather{"gather",
                  oneOp("gather", {"tensor<?x4xf64>", "tensor<6xi64>"},
                        "tensor<6x4xf64>",
                        "gather %a, %b dim = 0 : tensor<?x4xf64>, "
                        "tensor<6xi64> -> tensor<6x4xf64>"),
                  {{5, 4}, {6}},
                  {{6, 4}}};
  gather.fixed[1] = Array{Dtype::i64, {6}, {0, 2, 2, -1, 4, 0}};
  checkGradients(gather);
  GradCase scatter{"scatter",
                   oneOp("scatter",
                         {"tensor<3x?xf64>", "tensor<2x2xi32>",
                          "tensor<3x2x2xf64>"},
                         "tensor<3x?xf64>",
                         "scatter_add %a, %b, %c dim = 1 : tensor<3x?xf64>, "
                         "tensor<2x2xi32>, tensor<3x2x2xf64>"),
                   {{3, 4}, {2, 2}, {3, 2, 2}},
                   {{3, 4}}};
  scatter.fixed[1] = Array{Dtype::i32, {2, 2}, {1, 3, 1, -4}};
  checkGradients(scatter);
}

TEST(Autodiff, SoftmaxAndLogSoftmax) {
  checkGradients({"softmax",
                  oneOp("softmax", {"tensor<?x5xf64>"}, "tensor<?x5xf64>",
                        "softmax %a dim = 1 : tensor<?x5xf64>"),
                  {{3, 5}},
                  {{3, 5}}});
  checkGradients({"log_softmax",
                  oneOp("log_softmax", {"tensor<4x?xf64>"}, "tensor<4x?xf64>",
                        "log_softmax %a dim = 0 : tensor<4x?xf64>"),
                  {{4, 3}},
                  {{4, 3}}});
}

//===----------------------------------------------------------------------===//
// Whole functions
//===----------------------------------------------------------------------===//

const char *kMlp = R"(
func.func @mlp(%x: tensor<?x4xf64>, %w1: tensor<4x8xf64>, %b1: tensor<8xf64>,
               %w2: tensor<8x3xf64>, %labels: tensor<?xi64>) -> tensor<f64> {
  %h = ember.matmul %x, %w1 : tensor<?x4xf64>, tensor<4x8xf64> -> tensor<?x8xf64>
  %hb = ember.add %h, %b1 : tensor<?x8xf64>, tensor<8xf64> -> tensor<?x8xf64>
  %a = ember.gelu %hb : tensor<?x8xf64>
  %t = ember.tanh %hb : tensor<?x8xf64>
  %s = ember.add %a, %t : tensor<?x8xf64>, tensor<?x8xf64> -> tensor<?x8xf64>
  %o = ember.matmul %s, %w2 : tensor<?x8xf64>, tensor<8x3xf64> -> tensor<?x3xf64>
  %l = ember.log_softmax %o dim = 1 : tensor<?x3xf64>
  %p = ember.gather %l, %labels dim = 1 : tensor<?x3xf64>, tensor<?xi64> -> tensor<?x?xf64>
  %m = ember.mean %p dims = [0, 1] : tensor<?x?xf64> -> tensor<f64>
  %n = ember.neg %m : tensor<f64>
  return %n : tensor<f64>
}
)";

TEST(Autodiff, MlpLossWithFanOut) {
  GradCase c{"mlp", kMlp, {{5, 4}, {4, 8}, {8}, {8, 3}, {5}}, {{}}};
  c.fixed[4] = Array{Dtype::i64, {5}, {0, 2, 1, 1, 0}};
  checkGradients(c);
}

TEST(Autodiff, RecomputeGivesTheSameGradients) {
  GradCase c{"mlp", kMlp, {{3, 4}, {4, 8}, {8}, {8, 3}, {3}}, {{}}};
  c.fixed[4] = Array{Dtype::i64, {3}, {2, 0, 1}};
  ember::VjpOptions options;
  options.recompute = true;
  checkGradients(c, options);
}

TEST(Autodiff, SecondOrder) {
  // f(x) = x^2 tanh(x); the VJP of f_vjp with cotangent v on its gradient
  // output is d/dx <v, f_vjp(x, g)>, checked against finite differences of
  // f_vjp itself.
  const char *source = R"(
func.func @f(%x: tensor<?x3xf64>) -> tensor<?x3xf64> {
  %t = ember.tanh %x : tensor<?x3xf64>
  %s = ember.mul %x, %x : tensor<?x3xf64>, tensor<?x3xf64> -> tensor<?x3xf64>
  %y = ember.mul %s, %t : tensor<?x3xf64>, tensor<?x3xf64> -> tensor<?x3xf64>
  return %y : tensor<?x3xf64>
}
)";
  CompiledVjp compiled;
  ASSERT_TRUE(compileVjp(source, "f", compiled, /*order=*/2));
  std::vector<int64_t> shape = {2, 3};
  Array x = randomArray(rng(), Dtype::f64, shape);
  Array g = randomArray(rng(), Dtype::f64, shape);
  Array v = randomArray(rng(), Dtype::f64, shape);
  Array zeros = zerosOf(Dtype::f64, shape);
  // f_vjp_vjp(x, g, dy, dgx) -> (y, gx, d/dx, d/dg).
  auto second = compiled.jit.run("f_vjp_vjp", {x, g, zeros, v},
                                 {zeros, zeros, zeros, zeros});
  const double step = 1e-6;
  Array numeric = zeros;
  for (int64_t e = 0; e < x.numel(); ++e) {
    Array shifted = x;
    shifted.values[e] = x.values[e] + step;
    auto up = compiled.jit.run("f_vjp", {shifted, g}, {zeros, zeros});
    shifted.values[e] = x.values[e] - step;
    auto down = compiled.jit.run("f_vjp", {shifted, g}, {zeros, zeros});
    numeric.values[e] = (dot({v}, {up[1]}) - dot({v}, {down[1]})) / (2 * step);
  }
  expectClose(second[2], numeric, 1e-6, "d2f");
  // d/dg <v, gx(x, g)> = v * f'(x): the first-order gradient with g = v.
  auto first = compiled.jit.run("f_vjp", {x, v}, {zeros, zeros});
  expectClose(second[3], first[1], 1e-12, "d/dg");
}

TEST(Autodiff, UnusedArgumentsGetZeros) {
  GradCase c{"unused", R"(
func.func @unused(%a: tensor<?xf64>, %b: tensor<3xf64>) -> tensor<?xf64> {
  %0 = ember.exp %a : tensor<?xf64>
  return %0 : tensor<?xf64>
})",
             {{4}, {3}},
             {{4}}};
  checkGradients(c);
}

} // namespace
