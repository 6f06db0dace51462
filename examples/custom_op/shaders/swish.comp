#version 450
// demo::swish on Vulkan: y = x * sigmoid(beta * x), x any strided view,
// y dense. Compiled into swish_shaders.h by examples/custom_op/gen-shaders.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 2) readonly buffer Meta { int meta[]; };
layout(push_constant) uniform Scalars { uint count; float beta; };
#include "custom_op_meta.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    float v = x[elementOffset(0, i)];
    y[i] = v / (1.0 + exp(-beta * v));
  }
}
