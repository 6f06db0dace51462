// Every op family for every target, through the target's own checker:
// PTX through ptxas -arch=sm_90 (and a cubin when ptxas is found), HSACO
// with kernel descriptors and no undefined (device-library) symbols,
// SPIR-V through spirv-val for OpenCL 2.0 and Vulkan 1.1.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: ember-gpu-cc %S/Inputs/ops.mlir --target cuda:sm_90 -o %t/cuda | FileCheck %s --check-prefix=CUDA
// RUN: %python %S/Inputs/validate.py %t/cuda cuda | FileCheck %s --check-prefix=OK
// RUN: ember-gpu-cc %S/Inputs/ops.mlir --target rocm:gfx942 -o %t/rocm | FileCheck %s --check-prefix=ROCM
// RUN: %python %S/Inputs/validate.py %t/rocm rocm | FileCheck %s --check-prefix=OK
// RUN: ember-gpu-cc %S/Inputs/ops.mlir --target level-zero -o %t/l0 | FileCheck %s --check-prefix=L0
// RUN: %python %S/Inputs/validate.py %t/l0 level-zero | FileCheck %s --check-prefix=OK
// RUN: ember-gpu-cc %S/Inputs/ops.mlir --target vulkan -o %t/vk | FileCheck %s --check-prefix=VK
// RUN: %python %S/Inputs/validate.py %t/vk vulkan | FileCheck %s --check-prefix=OK
// RUN: FileCheck %s --check-prefix=JSON < %t/vk/kernels.json
// RUN: FileCheck %s --check-prefix=HOST < %t/cuda/host.mlir

// CUDA: ember_entry_matmul_matmul1: matmul, block 16x16x1, {{.*}} bytes of ptx
// CUDA: 17 kernels for cuda:sm_90
// ROCM: ember_entry_softmax_rowreduce4: rowreduce, block 256x1x1, {{.*}} bytes of hsaco
// ROCM: 17 kernels for rocm:gfx942
// L0:   17 kernels for level-zero
// VK:   17 kernels for vulkan
// OK:   {{(17 ok|ptxas not found)}}

// The launch metadata, in the runtime's KernelLayout terms: the row
// reduction's grid is min(arg 0, 65535) blocks; Vulkan scalars are
// push-constant words, buffers bindings in order.
// JSON:      "target": "vulkan", 
// JSON:      {"name": "ember_entry_row_max_rowreduce1", "module": "ember_entry_row_max_rowreduce1", "kind": "rowreduce",
// JSON-NEXT:  "block": [256, 1, 1], "shared_memory_bytes": 1024, "push_constant_bytes": 12,
// JSON-NEXT:  "grid": [{"arg": 0, "divisor": 1, "max": 65535}, {"constant": 1}, {"constant": 1}],
// JSON-NEXT:  "params": [{"kind": "i32", "offset": 0}, {"kind": "i32", "offset": 4}, {"kind": "buffer", "element": "f32", "set": 0, "binding": 0}, {"kind": "i32", "offset": 8}, {"kind": "buffer", "element": "f32", "set": 0, "binding": 1}],
// JSON:      {"name": "ember_entry_bmm_matmul1", {{.*}} "kind": "matmul",
// JSON-NEXT:  "block": [16, 16, 1], "shared_memory_bytes": 2048,
// JSON-NEXT:  "grid": [{"arg": {{[0-9]+}}, "divisor": 16, "max": 65535}, {"arg": {{[0-9]+}}, "divisor": 16, "max": 65535}, {"arg": {{[0-9]+}}, "divisor": 1, "max": 65535}],
// JSON:      {"name": "ember_entry_half_pointwise0",
// JSON:       "params": [{"kind": "i32", "offset": 0}, {"kind": "buffer", "element": "f16", "set": 0, "binding": 0},

// The host side keeps the launches in order.
// HOST-LABEL: func.func @ember_entry_softmax(
// HOST-COUNT-6: gpu.launch_func
