//===- CustomFunction.h - autograd.Function's traced backward ---*- C++ -*-===//
//
// A custom autograd.Function runs its forward without history, then its
// backward once, on placeholder cotangents, while this trace is open: the
// ops the backward makes become the region of an `ember.custom_vjp` op
// whose results carry the forward outputs. When a gradient program is
// built, ember-autodiff inlines that region with the real cotangents, so
// the user's backward runs inside the same compiled program as the rest.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_CUSTOMFUNCTION_H
#define EMBER_FRONTEND_CUSTOMFUNCTION_H

#include "ember/Frontend/Tensor.h"

#include <optional>
#include <string>
#include <vector>

namespace ember {

class CustomFunctionTrace {
public:
  /// Opens the trace of the backward of a function whose inputs `primals`
  /// require grad and whose forward returned `outputs`.
  CustomFunctionTrace(std::vector<Tensor> primals, std::vector<Tensor> outputs);
  ~CustomFunctionTrace();
  CustomFunctionTrace(const CustomFunctionTrace &) = delete;
  CustomFunctionTrace &operator=(const CustomFunctionTrace &) = delete;

  /// The cotangents the backward receives, one per output (symbolic: they
  /// have no values).
  const std::vector<Tensor> &cotangents() const { return cotangentTensors; }

  /// Closes the trace with the backward's gradient for each primal (none
  /// where it returned None; same shape and dtype as the primal otherwise)
  /// and gives each output marked in `differentiable` its history, whose
  /// grad_fn is called `name`.
  void finish(llvm::ArrayRef<std::optional<Tensor>> gradients,
              llvm::ArrayRef<bool> differentiable, std::string name);
  /// Closes the trace without a result (the backward raised).
  void abandon();

private:
  std::vector<Tensor> primals, outputs, cotangentTensors;
  std::vector<NodeRef> primalNodes, outputNodes;
  uint64_t firstSerial;
  bool open = true;
};

} // namespace ember

#endif // EMBER_FRONTEND_CUSTOMFUNCTION_H
