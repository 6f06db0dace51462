//===- FrontendTest.cpp - the C++ eager API ---------------------------------===//
//
// Views and their strides, lazy evaluation, the structure-keyed compile
// cache, in-place updates through views, and errors at the op call.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

using namespace ember;

namespace {

// Compile counts must not depend on what an earlier run left in the disk
// cache (EMBER_CACHE_DIR is read at the first compile, after this).
const bool kDiskCacheOff = (setenv("EMBER_CACHE_DIR", "", 1), true);

Tensor randomMatrix(int64_t rows, int64_t cols, std::vector<float> &values,
                    unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  values.resize(rows * cols);
  for (float &v : values)
    v = dist(rng);
  return fromData(values.data(), {rows, cols}, DType::Float32);
}

/// Element (i, j) of a 2-D float32 tensor, through its strides.
float at(const Tensor &x, int64_t i, int64_t j) {
  const float *data = static_cast<const float *>(x.data());
  return data[i * x.strides()[0] + j * x.strides()[1]];
}

TEST(Frontend, ViewsShareStorageAndHaveTorchStrides) {
  std::vector<float> values;
  Tensor x = randomMatrix(4, 6, values, 1);
  Tensor t = transpose(x, 0, 1);
  EXPECT_EQ(t.shape(), Shape({6, 4}));
  EXPECT_EQ(t.strides(), Shape({1, 6}));
  EXPECT_FALSE(t.isContiguous());
  EXPECT_EQ(&t.storage(), &x.storage());

  Tensor s = slice(x, 1, 1, 6, 2); // x[:, 1::2]
  EXPECT_EQ(s.shape(), Shape({4, 3}));
  EXPECT_EQ(s.strides(), Shape({6, 2}));
  EXPECT_EQ(s.offset(), 1);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_EQ(at(s, i, j), values[i * 6 + 1 + 2 * j]);

  // A reshape that strides allow is a view; one they do not is a copy.
  EXPECT_EQ(&reshape(x, {2, 12}).storage(), &x.storage());
  EXPECT_NE(&reshape(t, {24}).storage(), &x.storage());
  EXPECT_THROW(view(t, {24}), Error);
}

TEST(Frontend, OpsAreLazyAndComputeOnRead) {
  std::vector<float> a, b;
  Tensor x = randomMatrix(3, 5, a, 2), y = randomMatrix(3, 5, b, 3);
  Tensor z = binary(OpCode::Mul, binary(OpCode::Add, x, y), Scalar::fromFloat(2));
  EXPECT_NE(z.storage().pending, nullptr);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j)
      EXPECT_FLOAT_EQ(at(z, i, j), (a[i * 5 + j] + b[i * 5 + j]) * 2);
  EXPECT_EQ(z.storage().pending, nullptr);
}

TEST(Frontend, NewSizesReuseTheCompiledGraph) {
  auto program = [](int64_t rows) {
    std::vector<float> values;
    Tensor x = randomMatrix(rows, 7, values, rows);
    Tensor r = reduce(OpCode::Sum, unary(OpCode::Exp, x), {1}, false);
    const float *data = static_cast<const float *>(r.data());
    for (int64_t i = 0; i < rows; ++i) {
      double expected = 0;
      for (int64_t j = 0; j < 7; ++j)
        expected += std::exp(double(values[i * 7 + j]));
      EXPECT_NEAR(data[i], expected, 1e-4 * std::abs(expected));
    }
  };
  program(5);
  uint64_t compiles = compileStats().compiles;
  uint64_t hits = compileStats().cacheHits;
  program(9);
  program(33);
  EXPECT_EQ(compileStats().compiles, compiles);
  EXPECT_EQ(compileStats().cacheHits, hits + 2);
  // A size of 1 is part of the structure (it broadcasts): new program.
  program(1);
  EXPECT_EQ(compileStats().compiles, compiles + 1);
}

TEST(Frontend, InPlaceThroughAViewUpdatesTheBase) {
  std::vector<float> values;
  Tensor x = randomMatrix(4, 4, values, 4);
  Tensor before = clone(x);
  Tensor column = select(transpose(x, 0, 1), 0, 2); // x[:, 2]
  inplaceBinary(OpCode::Add, column, Scalar::fromFloat(10));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      float expected = values[i * 4 + j] + (j == 2 ? 10.0f : 0.0f);
      EXPECT_FLOAT_EQ(at(x, i, j), expected);
      EXPECT_FLOAT_EQ(at(before, i, j), values[i * 4 + j]);
    }
}

TEST(Frontend, MismatchesRaiseAtTheCallNamingShapes) {
  Tensor a = full({2, 3}, Scalar::fromFloat(1), DType::Float32);
  Tensor b = full({4}, Scalar::fromFloat(1), DType::Float32);
  try {
    binary(OpCode::Add, a, b);
    FAIL() << "broadcast mismatch not reported";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind, Error::Kind::Runtime);
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[4]"), std::string::npos);
  }
  try {
    matmul(a, full({4, 5}, Scalar::fromFloat(1), DType::Float32));
    FAIL() << "matmul mismatch not reported";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("[4, 5]"), std::string::npos);
  }
  try {
    select(a, 0, 2);
    FAIL() << "index out of range not reported";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind, Error::Kind::Index);
  }
}

} // namespace

namespace {

SourceLoc fakeUserLine() {
  static const std::string file = "user_script.py";
  return {&file, 42};
}

TEST(Frontend, CompileErrorsCarryTheUsersFileAndLine) {
  // The op functions never build an invalid graph, so build one by hand: exp
  // of an integer tensor does not verify. Its diagnostic must name the
  // Python line that recorded the node.
  setLocationProvider(fakeUserLine);
  Tensor x = full({3}, Scalar::fromInt(2), DType::Int32);
  Tensor bad = fromNode(makeNode(OpCode::Exp, DType::Int32, {3}, {x.value()}));
  setLocationProvider(nullptr);
  try {
    bad.data();
    FAIL() << "an invalid graph compiled";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("user_script.py:42"), std::string::npos)
        << e.what();
  }
  // The failed value stays pending and reports again; other work goes on.
  EXPECT_THROW(bad.data(), Error);
  bad = Tensor();
  Tensor ok = binary(OpCode::Add, x, Scalar::fromInt(1));
  EXPECT_EQ(static_cast<const int32_t *>(ok.data())[0], 3);
}

} // namespace

namespace {

TEST(FrontendAutograd, RequiresGradFlowsToResultsAndViews) {
  Tensor w = full({3, 4}, Scalar::fromFloat(0.5), DType::Float32);
  Tensor x = full({2, 3}, Scalar::fromFloat(1), DType::Float32);
  setRequiresGrad(w, true);
  EXPECT_TRUE(w.isLeaf());
  Tensor y = matmul(x, w);
  EXPECT_TRUE(y.requiresGrad());
  EXPECT_FALSE(y.isLeaf());
  EXPECT_EQ(gradFnName(y), "MatmulBackward0");
  Tensor column = select(w, 1, 0);
  EXPECT_TRUE(column.requiresGrad());
  EXPECT_FALSE(column.isLeaf());
  // Values are unaffected by the bookkeeping.
  EXPECT_FLOAT_EQ(static_cast<const float *>(y.data())[0], 1.5f);

  Tensor frozen = detach(w);
  EXPECT_FALSE(binary(OpCode::Mul, frozen, Scalar::fromInt(2)).requiresGrad());
  setGradEnabled(false);
  EXPECT_FALSE(binary(OpCode::Mul, w, Scalar::fromInt(2)).requiresGrad());
  inplaceBinary(OpCode::Sub, w, Scalar::fromFloat(0.25)); // as optimizers do
  setGradEnabled(true);
  EXPECT_FLOAT_EQ(static_cast<const float *>(w.data())[0], 0.25f);
  EXPECT_FLOAT_EQ(static_cast<const float *>(matmul(x, w).data())[0], 0.75f);
}

TEST(FrontendAutograd, TorchErrors) {
  Tensor w = full({3}, Scalar::fromFloat(1), DType::Float32);
  Tensor n = full({3}, Scalar::fromInt(1), DType::Int64);
  EXPECT_THROW(setRequiresGrad(n, true), Error);
  setRequiresGrad(w, true);
  // In-place on a leaf that requires grad, under grad mode.
  EXPECT_THROW(inplaceBinary(OpCode::Add, w, Scalar::fromInt(1)), Error);
  Tensor y = binary(OpCode::Mul, w, Scalar::fromInt(2));
  EXPECT_THROW(setRequiresGrad(y, false), Error);
  // backward of a non-scalar needs a gradient; of a constant, a grad_fn.
  EXPECT_THROW(backward(y, std::nullopt, false, false), Error);
  EXPECT_THROW(backward(n, std::nullopt, false, false), Error);
  // A second backward through the same graph needs retain_graph.
  Tensor loss = reduce(OpCode::Sum, y, {}, false);
  backward(loss, std::nullopt, /*retainGraph=*/false, false);
  EXPECT_TRUE(w.impl->grad != nullptr);
  EXPECT_THROW(backward(loss, std::nullopt, false, false), Error);
  // d(sum(2w))/dw = 2.
  const float *grad = static_cast<const float *>(Tensor(w.impl->grad).data());
  for (int i = 0; i < 3; ++i)
    EXPECT_FLOAT_EQ(grad[i], 2.0f);
}

/// A new Python float is a run-time scalar: the forward program and the
/// gradient program (whose sub-functions clone the constant) are reused.
TEST(FrontendAutograd, NewFloatScalarsReuseTheCompiledGraph) {
  auto program = [](double s) {
    std::vector<float> xv, wv;
    Tensor x = randomMatrix(2, 3, xv, 21), w = randomMatrix(3, 2, wv, 22);
    setRequiresGrad(w, true);
    Tensor y = binary(OpCode::Mul, unary(OpCode::Tanh, matmul(x, w)),
                      Scalar::fromFloat(s));
    backward(reduce(OpCode::Sum, y, {}, false), std::nullopt, false, false);
    Tensor grad(w.impl->grad);
    for (int k = 0; k < 3; ++k)
      for (int j = 0; j < 2; ++j) {
        double expected = 0;
        for (int i = 0; i < 2; ++i) {
          double z = 0;
          for (int m = 0; m < 3; ++m)
            z += double(xv[i * 3 + m]) * wv[m * 2 + j];
          expected += s * xv[i * 3 + k] * (1 - std::tanh(z) * std::tanh(z));
        }
        EXPECT_NEAR(at(grad, k, j), expected, 1e-4);
      }
  };
  program(0.3);
  uint64_t compiles = compileStats().compiles;
  program(0.7);
  program(-1.25);
  EXPECT_EQ(compileStats().compiles, compiles);
}

TEST(FrontendAutograd, BackwardMatchesTheAnalyticGradient) {
  std::vector<float> xv, wv;
  Tensor x = randomMatrix(5, 3, xv, 11), w = randomMatrix(3, 4, wv, 12);
  setRequiresGrad(w, true);
  Tensor loss = reduce(OpCode::Sum, unary(OpCode::Tanh, matmul(x, w)), {}, false);
  backward(loss, std::nullopt, false, false);
  // dL/dw = x^T (1 - tanh(xw)^2).
  std::vector<double> expected(12, 0.0);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) {
      double z = 0;
      for (int k = 0; k < 3; ++k)
        z += double(xv[i * 3 + k]) * wv[k * 4 + j];
      double t = std::tanh(z);
      for (int k = 0; k < 3; ++k)
        expected[k * 4 + j] += xv[i * 3 + k] * (1 - t * t);
    }
  Tensor grad(w.impl->grad);
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 4; ++j)
      EXPECT_NEAR(at(grad, k, j), expected[k * 4 + j], 1e-4);
  // A second backward accumulates into .grad.
  Tensor again = reduce(OpCode::Sum, unary(OpCode::Tanh, matmul(x, w)), {}, false);
  backward(again, std::nullopt, false, false);
  Tensor twice(w.impl->grad);
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 4; ++j)
      EXPECT_NEAR(at(twice, k, j), 2 * expected[k * 4 + j], 2e-4);
}

} // namespace
