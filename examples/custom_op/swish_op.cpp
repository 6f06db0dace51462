//===- swish_op.cpp - a fused activation as a C++ custom op ---------------===//
//
// demo::swish(x, beta) = x * sigmoid(beta * x), in one pass over memory,
// with its backward as another custom op, demo::swish_backward(x, y, grad,
// beta) = grad * (s + beta * x * s * (1 - s)), s = sigmoid(beta * x).
// demo::scaled_add(a, b, alpha) = a + alpha * b has no C++ backward (the
// tests give it one in Python). demo::swish and its backward also have
// Vulkan kernels (shaders/*.comp, compiled into swish_shaders.h by
// gen-shaders), so they run on Vulkan tensors too. demo::sincos and
// demo::frexp have two outputs each (sincos with a C++ backward, frexp's
// integer exponent with none: the tests give it one in Python). Built by
// ember.utils.cpp_extension.load
// (train.py) or Bazel's ember_custom_op_library (BUILD.bazel); only
// ember/Runtime/CustomOp.h is needed.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CustomOp.h"
#include "swish_shaders.h"

#include <cmath>

namespace {

using ember::custom::numel;
using ember::custom::offsetOf;

bool isFloat(int32_t dtype) {
  return dtype == EMBER_FLOAT32 || dtype == EMBER_FLOAT64;
}

/// Every input a float tensor of input 0's dtype and shape.
int sameFloatShapes(const EmberTensorType *inputs, int32_t numInputs,
                    const EmberAttrs *, EmberTensorType *outputs, int32_t,
                    EmberStatus *status) {
  for (int32_t i = 0; i < numInputs; ++i) {
    if (!isFloat(inputs[i].dtype))
      return ember::custom::fail(status, "expected float32 or float64 inputs, "
                                 "input %d has dtype code %d", i, inputs[i].dtype);
    bool same = inputs[i].dtype == inputs[0].dtype &&
                inputs[i].rank == inputs[0].rank;
    for (int32_t d = 0; same && d < inputs[0].rank; ++d)
      same = inputs[i].sizes[d] == inputs[0].sizes[d];
    if (!same)
      return ember::custom::fail(status, "input %d must have input 0's dtype "
                                 "and shape", i);
  }
  outputs[0] = inputs[0];
  return 0;
}

template <typename T> T sigmoid(T v) { return T(1) / (T(1) + std::exp(-v)); }

template <typename T>
void swish(const EmberBuffer &x, const EmberBuffer &y, double beta) {
  const T *in = static_cast<const T *>(x.data);
  T *out = static_cast<T *>(y.data); // dense
  int64_t n = numel(x);
  for (int64_t i = 0; i < n; ++i) {
    T v = in[offsetOf(x, i)];
    out[i] = v * sigmoid(T(beta) * v);
  }
}

int swishKernel(const EmberBuffer *inputs, int32_t, const EmberBuffer *outputs,
                int32_t, const EmberAttrs *attrs, EmberStatus *) {
  double beta = ember::custom::attr(attrs, "beta");
  if (inputs[0].dtype == EMBER_FLOAT32)
    swish<float>(inputs[0], outputs[0], beta);
  else
    swish<double>(inputs[0], outputs[0], beta);
  return 0;
}

template <typename T>
void swishBackward(const EmberBuffer *in, const EmberBuffer &dx, double beta) {
  T *out = static_cast<T *>(dx.data);
  int64_t n = numel(dx);
  for (int64_t i = 0; i < n; ++i) {
    T v = static_cast<const T *>(in[0].data)[offsetOf(in[0], i)];
    T g = static_cast<const T *>(in[2].data)[offsetOf(in[2], i)];
    T s = sigmoid(T(beta) * v);
    out[i] = g * (s + T(beta) * v * s * (T(1) - s));
  }
}

int swishBackwardKernel(const EmberBuffer *inputs, int32_t,
                        const EmberBuffer *outputs, int32_t,
                        const EmberAttrs *attrs, EmberStatus *) {
  double beta = ember::custom::attr(attrs, "beta");
  if (inputs[0].dtype == EMBER_FLOAT32)
    swishBackward<float>(inputs, outputs[0], beta);
  else
    swishBackward<double>(inputs, outputs[0], beta);
  return 0;
}

template <typename T>
void scaledAdd(const EmberBuffer *in, const EmberBuffer &out, double alpha) {
  T *o = static_cast<T *>(out.data);
  for (int64_t i = 0, n = numel(out); i < n; ++i)
    o[i] = static_cast<const T *>(in[0].data)[offsetOf(in[0], i)] +
           T(alpha) * static_cast<const T *>(in[1].data)[offsetOf(in[1], i)];
}

int scaledAddKernel(const EmberBuffer *inputs, int32_t,
                    const EmberBuffer *outputs, int32_t,
                    const EmberAttrs *attrs, EmberStatus *status) {
  double alpha = ember::custom::attr(attrs, "alpha");
  if (std::isnan(alpha))
    return ember::custom::fail(status, "alpha is NaN");
  if (inputs[0].dtype == EMBER_FLOAT32)
    scaledAdd<float>(inputs, outputs[0], alpha);
  else
    scaledAdd<double>(inputs, outputs[0], alpha);
  return 0;
}

/// sincos(x) = (sin x, cos x); frexp(x) = (mantissa, int32 exponent).
int twoOutputShapes(const EmberTensorType *inputs, int32_t numInputs,
                    const EmberAttrs *attrs, EmberTensorType *outputs,
                    int32_t numOutputs, EmberStatus *status) {
  if (sameFloatShapes(inputs, numInputs, attrs, outputs, numOutputs, status))
    return 1;
  outputs[1] = inputs[0];
  return 0;
}

int frexpShapes(const EmberTensorType *inputs, int32_t numInputs,
                const EmberAttrs *attrs, EmberTensorType *outputs,
                int32_t numOutputs, EmberStatus *status) {
  if (twoOutputShapes(inputs, numInputs, attrs, outputs, numOutputs, status))
    return 1;
  outputs[1].dtype = EMBER_INT32;
  return 0;
}

template <typename T>
void sincos(const EmberBuffer &x, const EmberBuffer *out) {
  for (int64_t i = 0, n = numel(x); i < n; ++i) {
    T v = static_cast<const T *>(x.data)[offsetOf(x, i)];
    static_cast<T *>(out[0].data)[i] = std::sin(v);
    static_cast<T *>(out[1].data)[i] = std::cos(v);
  }
}

int sincosKernel(const EmberBuffer *inputs, int32_t, const EmberBuffer *outputs,
                 int32_t, const EmberAttrs *, EmberStatus *) {
  if (inputs[0].dtype == EMBER_FLOAT32)
    sincos<float>(inputs[0], outputs);
  else
    sincos<double>(inputs[0], outputs);
  return 0;
}

/// Inputs x, sin x, cos x, d sin, d cos: dx = d sin * cos x - d cos * sin x.
template <typename T>
void sincosBackward(const EmberBuffer *in, const EmberBuffer &dx) {
  auto at = [&](int k, int64_t i) {
    return static_cast<const T *>(in[k].data)[offsetOf(in[k], i)];
  };
  for (int64_t i = 0, n = numel(dx); i < n; ++i)
    static_cast<T *>(dx.data)[i] = at(3, i) * at(2, i) - at(4, i) * at(1, i);
}

int sincosBackwardKernel(const EmberBuffer *inputs, int32_t,
                         const EmberBuffer *outputs, int32_t,
                         const EmberAttrs *, EmberStatus *) {
  if (inputs[0].dtype == EMBER_FLOAT32)
    sincosBackward<float>(inputs, outputs[0]);
  else
    sincosBackward<double>(inputs, outputs[0]);
  return 0;
}

template <typename T>
void frexpRows(const EmberBuffer &x, const EmberBuffer *out) {
  for (int64_t i = 0, n = numel(x); i < n; ++i) {
    int exponent = 0;
    static_cast<T *>(out[0].data)[i] =
        std::frexp(static_cast<const T *>(x.data)[offsetOf(x, i)], &exponent);
    static_cast<int32_t *>(out[1].data)[i] = exponent;
  }
}

int frexpKernel(const EmberBuffer *inputs, int32_t, const EmberBuffer *outputs,
                int32_t, const EmberAttrs *, EmberStatus *) {
  if (inputs[0].dtype == EMBER_FLOAT32)
    frexpRows<float>(inputs[0], outputs);
  else
    frexpRows<double>(inputs[0], outputs);
  return 0;
}

// The Vulkan kernels (float32; GPU contract in CustomOp.h).
const EmberSpirvKernel kSwishVulkan = {
    kSwishSpirv, sizeof(kSwishSpirv) / 4, "main", {64, 1, 1}};
const EmberSpirvKernel kSwishBackwardVulkan = {
    kSwishBackwardSpirv, sizeof(kSwishBackwardSpirv) / 4, "main", {64, 1, 1}};

} // namespace

EMBER_CUSTOM_OP_LIBRARY(m) {
  m.def(ember::custom::Op("demo::swish")
            .inputs(1)
            .attr("beta", 1.0)
            .shape(sameFloatShapes)
            .cpu(swishKernel)
            .vulkan(&kSwishVulkan)
            .backward("demo::swish_backward"));
  m.def(ember::custom::Op("demo::swish_backward")
            .inputs(3)
            .attr("beta", 1.0)
            .shape(sameFloatShapes)
            .cpu(swishBackwardKernel)
            .vulkan(&kSwishBackwardVulkan));
  m.def(ember::custom::Op("demo::scaled_add")
            .inputs(2)
            .attr("alpha", 1.0)
            .shape(sameFloatShapes)
            .cpu(scaledAddKernel));
  m.def(ember::custom::Op("demo::sincos")
            .outputs(2)
            .shape(twoOutputShapes)
            .cpu(sincosKernel)
            .backward("demo::sincos_backward"));
  m.def(ember::custom::Op("demo::sincos_backward")
            .inputs(5)
            .shape(sameFloatShapes)
            .cpu(sincosBackwardKernel));
  m.def(ember::custom::Op("demo::frexp")
            .outputs(2)
            .shape(frexpShapes)
            .cpu(frexpKernel));
}
