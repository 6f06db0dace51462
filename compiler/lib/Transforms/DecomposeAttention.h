//===- DecomposeAttention.h - attention as primitives -----------*- C++ -*-===//
//
// ember-decompose's rewrite rules for ember.attention and its backward, in
// a file of their own.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_LIB_TRANSFORMS_DECOMPOSEATTENTION_H
#define EMBER_COMPILER_LIB_TRANSFORMS_DECOMPOSEATTENTION_H

#include "mlir/IR/PatternMatch.h"

namespace ember {

/// Adds the rules that rewrite ember.attention (matmul, the softmax with
/// its row max and sum, the logsumexp) and ember.attention_backward (the
/// weights recomputed from the logsumexp, four matmuls) into primitives.
void populateAttentionDecompositionPatterns(mlir::RewritePatternSet &patterns);

} // namespace ember

#endif // EMBER_COMPILER_LIB_TRANSFORMS_DECOMPOSEATTENTION_H
