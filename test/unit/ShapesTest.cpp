//===- ShapesTest.cpp - shape rules shared by verifiers and the tracer -----===//

#include "ember/Dialect/Shapes.h"
#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <gtest/gtest.h>

using ember::broadcastShapes;
using ember::computeSliceExtent;
using ember::isBroadcastableTo;
constexpr int64_t kDyn = mlir::ShapedType::kDynamic;

TEST(Shapes, BroadcastFollowsNumPy) {
  auto r = broadcastShapes({3, 1, 4}, {5, 1});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (llvm::SmallVector<int64_t>{3, 5, 4}));
  EXPECT_FALSE(broadcastShapes({3, 4}, {5, 4}));
  EXPECT_EQ(*broadcastShapes({}, {2, 3}), (llvm::SmallVector<int64_t>{2, 3}));
}

TEST(Shapes, DynamicDimsNeverStretch) {
  EXPECT_EQ(*broadcastShapes({kDyn, 4}, {1, 4}),
            (llvm::SmallVector<int64_t>{kDyn, 4}));
  EXPECT_EQ(*broadcastShapes({kDyn, 4}, {7, 4}),
            (llvm::SmallVector<int64_t>{7, 4}));
  EXPECT_TRUE(isBroadcastableTo({1, 4}, {kDyn, 4}));
  EXPECT_FALSE(isBroadcastableTo({2, 4}, {3, 4}));
  EXPECT_FALSE(isBroadcastableTo({2, 2, 4}, {2, 4}));
}

TEST(Shapes, SliceExtentIsPythonSlicing) {
  // Compare with Python's range(size)[start:stop:step] for many cases.
  for (int64_t size : {0, 1, 5, 10})
    for (int64_t start : {-12, -3, 0, 2, 11})
      for (int64_t stop : std::vector<int64_t>{-11, -1, 0, 4, 9, INT64_MAX})
        for (int64_t step : {1, 2, 3}) {
          std::vector<int64_t> expected;
          int64_t b = start < 0 ? std::max<int64_t>(start + size, 0)
                                : std::min(start, size);
          int64_t e = stop < 0 ? std::max<int64_t>(stop + size, 0)
                               : std::min(stop, size);
          for (int64_t i = b; i < e; i += step)
            expected.push_back(i);
          auto extent = computeSliceExtent(size, start, stop, step);
          EXPECT_EQ(extent.count, static_cast<int64_t>(expected.size()))
              << size << " " << start << ":" << stop << ":" << step;
          if (!expected.empty()) {
            EXPECT_EQ(extent.offset, expected.front());
          }
        }
}

TEST(Shapes, FormatShape) {
  EXPECT_EQ(ember::formatShape({3, kDyn, 4}), "3x?x4");
  EXPECT_EQ(ember::formatShape({}), "");
}

TEST(Shapes, GatherReplacesTheDimByTheIndexShape) {
  EXPECT_EQ(ember::gatherShape({kDyn, 8, 3}, {2, kDyn}, 1),
            (llvm::SmallVector<int64_t>{kDyn, 2, kDyn, 3}));
  EXPECT_EQ(ember::gatherShape({5, 4}, {}, 0),
            (llvm::SmallVector<int64_t>{4}));
  EXPECT_EQ(ember::gatherShape({5, 4}, {7}, 1),
            (llvm::SmallVector<int64_t>{5, 7}));
}
