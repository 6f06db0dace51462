//===- CustomOpDispatch.h - custom ops' GPU kernels in a launch plan -*- C++ -*-===//
//
// What gpu::Program runs for the plan's "custom_shapes" and "custom_call"
// instructions (an `ember.custom_call` in a GPU program): the op's shape
// function on the inputs' run-time sizes, and its kernel for the device's
// backend, dispatched under the contract of ember/Runtime/CustomOp.h
// (buffers from their allocation's start, a metadata buffer of offsets,
// sizes and strides, the count and the attributes as scalars).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_CUSTOMOPDISPATCH_H
#define EMBER_RUNTIME_GPU_CUSTOMOPDISPATCH_H

#include "ember/Runtime/Gpu/Device.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// One call's op: its name and the attributes the program gives (by name;
/// declared ones it does not give take their defaults).
struct CustomCallSite {
  std::string name;
  std::vector<std::string> attrNames;
  std::vector<double> attrValues;
  /// The dtype codes (EmberDType) of the inputs, then of the outputs, as
  /// the program was compiled.
  std::vector<int32_t> dtypes;
  /// The outputs' ranks, as compiled.
  std::vector<int32_t> outputRanks;
};

/// A tensor of a call: an allocation and a strided view of it.
struct CustomCallTensor {
  DeviceBuffer allocation;
  size_t elementBytes = 4;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

/// The outputs' sizes, concatenated, from the op's shape function on the
/// inputs' sizes. Throws DeviceError (of `backend`) naming the op.
std::vector<int64_t> customCallOutputSizes(Backend backend, const CustomCallSite &site,
                                           const std::vector<CustomCallTensor> &inputs);

/// Enqueues the op's kernel for `device`'s backend on `stream`. Buffers it
/// allocates (the metadata) are appended to `temporaries`, to be freed once
/// the stream's work is done. Throws DeviceError when the op has no kernel
/// for the backend, or its kernel fails.
void dispatchCustomCall(Device &device, Stream &stream, const CustomCallSite &site,
                        const std::vector<CustomCallTensor> &inputs,
                        const std::vector<CustomCallTensor> &outputs,
                        std::vector<DeviceBuffer> &temporaries);

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_CUSTOMOPDISPATCH_H
