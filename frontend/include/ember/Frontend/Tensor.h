//===- Tensor.h - eager tensors ----------------------------------*- C++ -*-===//
//
// `ember::Tensor` is a view (shape, strides, storage offset) of a `Storage`,
// as in PyTorch. Ops trace nodes into the lazy graph and check shapes and
// dtypes at once; views are recorded as a chain of view steps from the
// storage, so that reads become ember shape ops in the graph and writes
// through a view become the inverse ops (an insert_slice, a transpose back).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_TENSOR_H
#define EMBER_FRONTEND_TENSOR_H

#include "ember/Frontend/Error.h"
#include "ember/Frontend/Graph.h"

#include <optional>
#include <vector>

namespace ember {

/// One step from a storage (or an earlier view) to a view.
struct ViewStep {
  enum class Kind : uint8_t { Reshape, Transpose, Slice, Expand };
  Kind kind;
  /// The shape after this step.
  Shape shape;
  /// Transpose: the permutation; Slice: start..., stop..., step...
  llvm::SmallVector<int64_t, 4> ints;
  /// Where the user took the view: its node is made later, when the view is
  /// read, and errors should point here rather than at the read.
  SourceLoc loc;
};

/// The node reading view `step` of `node`'s value.
NodeRef applyViewStep(const NodeRef &node, const ViewStep &step);

struct TensorImpl {
  StorageRef storage;
  DType dtype;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  /// From the storage's dense shape to this view; empty for the base itself.
  std::vector<ViewStep> steps;

  // Autograd (PyTorch semantics).
  bool requiresGrad = false;
  /// Non-leaf tensors: the node that computed this value from tensors that
  /// require grad. Ops read it instead of the storage so that gradients flow
  /// through it even after the value was computed (then it is recomputed in
  /// the gradient program).
  NodeRef history;
  /// Leaves: the accumulated gradient (`.grad`).
  std::shared_ptr<TensorImpl> grad;
  /// Leaves: the node that stands for the leaf in graphs, and the storage
  /// value it wraps (a new one after each in-place update).
  NodeRef leafMarker;
  NodeRef leafSource;
};

class Tensor {
public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl(std::move(impl)) {}

  DType dtype() const { return impl->dtype; }
  const Shape &shape() const { return impl->shape; }
  const Shape &strides() const { return impl->strides; }
  int64_t offset() const { return impl->offset; }
  int64_t dim() const { return impl->shape.size(); }
  int64_t numel() const { return shapeNumel(impl->shape); }
  bool isContiguous() const;
  /// Whether this tensor is its storage's whole dense array.
  bool isBase() const { return impl->steps.empty(); }
  Storage &storage() const { return *impl->storage; }

  /// The node that yields this tensor's value (view ops applied); under
  /// grad mode, for a tensor that requires grad, the node that carries its
  /// autograd history.
  NodeRef value() const;
  /// The storage's current value with the view ops applied (no history).
  NodeRef plainValue() const;
  /// The node carrying autograd history (the history, or the leaf's marker)
  /// whatever the grad mode.
  NodeRef gradValue() const;
  bool requiresGrad() const { return impl->requiresGrad; }
  bool isLeaf() const { return !impl->history; }
  /// Computes pending values and returns the address of element 0.
  void *data() const;

  std::shared_ptr<TensorImpl> impl;
};

/// A binary op's operand: a tensor or a Python number.
struct Operand {
  Operand(const Tensor &t) : tensor(&t) {}
  Operand(Scalar s) : scalar(s) {}
  const Tensor *tensor = nullptr;
  Scalar scalar = Scalar::fromInt(0);
};

//===- Devices ------------------------------------------------------------===//

/// "cpu", "vulkan", "cuda", "rocm" or "xpu", optionally with ":0";
/// ValueError otherwise (index other than 0: RuntimeError, one device per
/// kind for now).
Backend parseDeviceKind(const std::string &name);
/// `x` on `device`: `x` itself when it is there already, else a copy (its
/// pending value is computed on its own device first).
Tensor toDevice(const Tensor &x, Backend device);
inline Backend deviceOf(const Tensor &x) { return x.storage().device; }

//===- Creation ---------------------------------------------------------===//

Tensor fromNode(const NodeRef &node);
Tensor empty(llvm::ArrayRef<int64_t> shape, DType dtype);
Tensor full(llvm::ArrayRef<int64_t> shape, Scalar value, DType dtype);
/// Copies dense row-major `data` (already in `dtype`'s representation).
Tensor fromData(const void *data, llvm::ArrayRef<int64_t> shape, DType dtype);
Tensor arange(double start, double end, double step, DType dtype);
Tensor linspace(double start, double end, int64_t steps, DType dtype);
Tensor rand(llvm::ArrayRef<int64_t> shape, DType dtype);
Tensor randn(llvm::ArrayRef<int64_t> shape, DType dtype);
Tensor randint(int64_t low, int64_t high, llvm::ArrayRef<int64_t> shape,
               DType dtype);
void manualSeed(uint64_t seed);

//===- Element-wise ----------------------------------------------------===//

/// The dtype torch computes `a op b` in (torch.result_type).
DType resultType(const Operand &a, const Operand &b);
Tensor unary(OpCode op, const Tensor &x);
Tensor binary(OpCode op, const Operand &a, const Operand &b);
Tensor compare(Comparison predicate, const Operand &a, const Operand &b);
Tensor where(const Tensor &condition, const Operand &a, const Operand &b);
Tensor clamp(const Tensor &x, std::optional<Scalar> min,
             std::optional<Scalar> max);
Tensor cast(const Tensor &x, DType dtype);

//===- Reductions ------------------------------------------------------===//

/// sum/mean/max/min over `dims` (all dims when empty).
Tensor reduce(OpCode op, const Tensor &x, llvm::ArrayRef<int64_t> dims,
              bool keepdim);
/// argmax/argmin over `dim`, or over the flattened tensor.
Tensor argReduce(OpCode op, const Tensor &x, std::optional<int64_t> dim,
                 bool keepdim);
Tensor softmax(OpCode op, const Tensor &x, int64_t dim);
/// layer_norm or rms_norm (`op`) over the innermost dim, with an optional
/// weight and bias of the row's length.
Tensor normalizeRows(OpCode op, const Tensor &x, const Tensor *weight,
                     const Tensor *bias, double eps);
/// Per-row cross-entropy of (N, C) float logits against (N,) int64 class
/// indices: logsumexp(row) - row[target], 0 where the target is
/// `ignoreIndex` or outside [0, C).
Tensor crossEntropyRows(const Tensor &logits, const Tensor &target,
                        int64_t ignoreIndex);
/// One direction of one recurrent layer over a sequence
/// (ember.recurrent_sequence; `cell` as ember::RecurrentCell): the input
/// projection [T, B, G*H], h0 [B, P], c0 [B, H] (LSTM), weight_hh
/// [G*H, P], bias_hh [G*H] (optional), weight_hr [P, H] (optional, LSTM)
/// and a [T, B] 0/1 mask (optional). Returns the workspace [T + 1, B, W]
/// (layout in ember/Dialect/Recurrent.h). CPU only.
Tensor recurrentSequence(int64_t cell, const Tensor &input, const Tensor &h0,
                         const Tensor *c0, const Tensor &weightHh,
                         const Tensor *biasHh, const Tensor *weightHr,
                         const Tensor *mask);
/// softmax(query @ key^T * scale + mask) @ value over the last two dims as
/// one ember.attention node: query (..., L, E), key (..., S, E), value
/// (..., S, Ev) with one set of batch dims, `mask` (..., L, S) additive,
/// `causal` masking key j > query i (not both).
Tensor attention(const Tensor &query, const Tensor &key, const Tensor &value,
                 const Tensor *mask, bool causal, double scale);
/// ember.distributed's all_reduce on a pending (lazy) CPU tensor as one
/// ember.all_reduce node: the collective becomes part of the compiled
/// program, which calls process group `group`'s engine (the runtime's group
/// table, ProcessGroups.h). `reduceOp` in ember::dist::ReduceOp order (0 sum,
/// 1 avg, 2 min, 3 max, 4 product). Differentiable for sum and avg.
Tensor allReduce(const Tensor &input, int64_t reduceOp, int64_t group);
/// A convolution as one ember.conv node: input (N, C, spatial...) with 1
/// to 3 spatial dims, weight (O, C/groups, kernel...); one entry per
/// spatial dim in `stride`, `padLow`, `padHigh` and `dilation`. No bias.
Tensor conv(const Tensor &input, const Tensor &weight,
            llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padLow,
            llvm::ArrayRef<int64_t> padHigh, llvm::ArrayRef<int64_t> dilation,
            int64_t groups);
/// A transposed convolution (a convolution's input gradient) as one
/// ember.conv_backward_data node: input (N, C_in, spatial...), weight
/// (C_in, C_out/groups, kernel...); `padding` crops both ends and
/// `outputPadding` extends the high end (torch's conv_transpose*d).
Tensor convTranspose(const Tensor &input, const Tensor &weight,
                     llvm::ArrayRef<int64_t> stride,
                     llvm::ArrayRef<int64_t> padding,
                     llvm::ArrayRef<int64_t> outputPadding,
                     llvm::ArrayRef<int64_t> dilation, int64_t groups);

//===- Linear algebra --------------------------------------------------===//

Tensor matmul(const Tensor &a, const Tensor &b);
Tensor mm(const Tensor &a, const Tensor &b);
Tensor bmm(const Tensor &a, const Tensor &b);

//===- Shapes and views --------------------------------------------------===//

/// `shape` may hold one -1. A view when the strides allow it, else a copy.
Tensor reshape(const Tensor &x, llvm::ArrayRef<int64_t> shape);
/// Like reshape but raises when no view is possible.
Tensor view(const Tensor &x, llvm::ArrayRef<int64_t> shape);
Tensor permute(const Tensor &x, llvm::ArrayRef<int64_t> perm);
Tensor transpose(const Tensor &x, int64_t dim0, int64_t dim1);
Tensor expand(const Tensor &x, llvm::ArrayRef<int64_t> sizes);
Tensor unsqueeze(const Tensor &x, int64_t dim);
Tensor squeeze(const Tensor &x, std::optional<int64_t> dim);
Tensor flatten(const Tensor &x, int64_t startDim, int64_t endDim);
Tensor slice(const Tensor &x, int64_t dim, int64_t start, int64_t stop,
             int64_t step);
Tensor select(const Tensor &x, int64_t dim, int64_t index);
Tensor contiguous(const Tensor &x);
Tensor clone(const Tensor &x);
Tensor cat(llvm::ArrayRef<Tensor> tensors, int64_t dim);
Tensor stack(llvm::ArrayRef<Tensor> tensors, int64_t dim);
/// index_select generalized to an index tensor of any rank.
Tensor gather(const Tensor &x, int64_t dim, const Tensor &indices);
/// `dest` with `updates` added at `indices` along `dim` (duplicates
/// accumulate); `updates` has the shape gather(dest, dim, indices) has.
Tensor scatterAdd(const Tensor &dest, int64_t dim, const Tensor &indices,
                  const Tensor &updates);
/// Raises IndexError unless every value of `indices` indexes dim `dim` of
/// `shape` (negative values count from the end where `allowNegative`, as in
/// x[index]; index_select refuses them, as torch does).
void checkIndexBounds(const Tensor &indices, int64_t dim,
                      llvm::ArrayRef<int64_t> shape, bool allowNegative = true);
/// x[mask]: the elements where `mask` (shaped like x's leading dims) is true.
Tensor maskedSelect(const Tensor &x, const Tensor &mask);

//===- In-place ----------------------------------------------------------===//

/// Writes `value` (broadcast and cast to x's dtype) into x's elements.
void assign(const Tensor &x, const Operand &value);
/// Writes the one value `value` (a number or a 0-d tensor) into x's
/// elements; unlike assign, x may be a broadcast view (torch's fill_).
void fill(const Tensor &x, const Operand &value);
/// Raises as torch does where `input` and the written-to `x` are dense views
/// of one storage that partly overlap.
void checkNoPartialOverlap(const Tensor &x, const Tensor &input);
/// x = x op value, in place (torch's add_, mul_, ...).
void inplaceBinary(OpCode op, const Tensor &x, const Operand &value);
/// x = op(x), in place (torch's exp_, sin_, ...).
void inplaceUnary(OpCode op, const Tensor &x);
/// x[mask] = value.
void maskedFill(const Tensor &x, const Tensor &mask, const Operand &value);

//===- Autograd ------------------------------------------------------------===//

/// x.requires_grad_(flag): only leaves, only floating dtypes.
void setRequiresGrad(const Tensor &x, bool requiresGrad);
/// A tensor sharing x's storage with no history.
Tensor detach(const Tensor &x);
/// Records d(output)/d(leaf) for every leaf that requires grad and adds it
/// to the leaf's `.grad`; computed with the next sync.
void backward(const Tensor &output, std::optional<Tensor> gradient,
              bool retainGraph, bool createGraph);
/// torch.autograd.grad: the gradients of `outputs` with respect to `inputs`
/// (none for an unused input when allowUnused).
std::vector<std::optional<Tensor>>
gradients(llvm::ArrayRef<Tensor> outputs, llvm::ArrayRef<Tensor> inputs,
          llvm::ArrayRef<std::optional<Tensor>> gradOutputs, bool retainGraph,
          bool createGraph, bool allowUnused);
/// The torch-style name of x's grad_fn ("AddBackward0"), empty for leaves.
std::string gradFnName(const Tensor &x);

} // namespace ember

#endif // EMBER_FRONTEND_TENSOR_H
