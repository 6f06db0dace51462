#version 450
// demo::swish_backward on Vulkan: dx = grad * (s + beta x s (1 - s)),
// s = sigmoid(beta x); inputs x, y (unused), grad, any strided views.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) readonly buffer G { float g[]; };
layout(set = 0, binding = 3) writeonly buffer DX { float dx[]; };
layout(set = 0, binding = 4) readonly buffer Meta { int meta[]; };
layout(push_constant) uniform Scalars { uint count; float beta; };
#include "custom_op_meta.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    float v = x[elementOffset(0, i)];
    float s = 1.0 / (1.0 + exp(-beta * v));
    dx[i] = g[elementOffset(2, i)] * (s + beta * v * s * (1.0 - s));
  }
}
