//===- AttentionOps.cpp - trace scaled dot-product attention ---------------===//
//
// F.scaled_dot_product_attention reaches the tracer as one ember.attention
// node: query, key and value with one set of batch dims (Python broadcasts
// them), an optional additive mask of the scores' shape, causal and the
// scale. The scale's bits and causal are part of the node (and so of the
// compile cache key).
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Error.h"
#include "ember/Frontend/Tensor.h"
#include "ember/Runtime/ElementType.h"

#include <algorithm>
#include <cstring>

namespace ember {

Tensor attention(const Tensor &query, const Tensor &key, const Tensor &value,
                 const Tensor *mask, bool causal, double scale) {
  const char *name = "scaled_dot_product_attention";
  if (!isFloating(query.dtype()))
    runtimeError(std::string("\"") + name + "\" not implemented for '" +
                 elementTypeTorchName(query.dtype()) + "'");
  for (const Tensor *operand : {&key, &value, mask})
    if (operand && operand->dtype() != query.dtype())
      runtimeError(std::string(name) + ": expected query, key, value and "
                   "mask of one dtype, got " +
                   elementTypeTorchName(query.dtype()) + " and " +
                   elementTypeTorchName(operand->dtype()));
  int64_t rank = query.dim();
  if (rank < 2 || key.dim() != rank || value.dim() != rank)
    runtimeError(std::string(name) + ": expected query (..., L, E), key "
                 "(..., S, E) and value (..., S, Ev) of one rank >= 2, got " +
                 shapeString(query.shape()) + ", " + shapeString(key.shape()) +
                 " and " + shapeString(value.shape()));
  Shape batch(query.shape().begin(), query.shape().end() - 2);
  int64_t l = query.shape()[rank - 2], e = query.shape()[rank - 1];
  int64_t s = key.shape()[rank - 2], ev = value.shape()[rank - 1];
  auto expect = [&](const Tensor &t, int64_t rows, int64_t cols,
                    const char *what) {
    Shape want = batch;
    want.push_back(rows);
    want.push_back(cols);
    if (Shape(t.shape().begin(), t.shape().end()) != want)
      runtimeError(std::string(name) + ": expected " + what + " of shape " +
                   shapeString(want) + ", got " + shapeString(t.shape()));
  };
  expect(key, s, e, "key");
  expect(value, s, ev, "value");
  // One mask for every batch item keeps its batch dims of 1 (the kernels
  // read it with stride 0) instead of being copied per item.
  if (mask && mask->dim() == rank &&
      std::all_of(mask->shape().begin(), mask->shape().end() - 2,
                  [](int64_t d) { return d == 1; }))
    batch.assign(batch.size(), 1);
  if (mask)
    expect(*mask, l, s, "attn_mask");
  batch.assign(query.shape().begin(), query.shape().end() - 2);
  if (mask && causal)
    runtimeError(std::string(name) +
                 ": Explicit attn_mask should not be set when is_causal=True");

  std::vector<NodeRef> inputs = {query.value(), key.value(), value.value()};
  if (mask)
    inputs.push_back(mask->value());
  Shape shape = batch;
  shape.push_back(l);
  shape.push_back(ev);
  NodeRef node = makeNode(OpCode::Attention, query.dtype(), shape, inputs);
  int64_t scaleBits;
  static_assert(sizeof(scaleBits) == sizeof(scale));
  memcpy(&scaleBits, &scale, sizeof(scale));
  node->ints = {scaleBits, causal, mask != nullptr};
  return fromNode(node);
}

} // namespace ember
