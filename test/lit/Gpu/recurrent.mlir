// A recurrent layer on a GPU: the time loop stays host code, a "for" of the
// launch plan whose body launches the step's kernels (the GEMM h W_hh^T, the
// fused gate kernel, the workspace row's writes) with the step index as a
// run-time value. The kernels are compiled once, for every sequence length
// (T is only the loop's bound), and only the body launches the GEMM.
// RUN: rm -rf %t
// RUN: ember-compile %S/Inputs/lstm.mlir --target vulkan --emit-kernels %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=PLAN < %t/plan.json

// CHECK: ember_entry_forward_matmul0:
// CHECK-NOT: ember_entry_forward_matmul1
// CHECK: ember_entry_backward_matmul0:
// CHECK-NOT: ember_entry_backward_matmul1
// CHECK: kernels for vulkan

// Before the loop: the workspace's fill, h0 and c0 into row 0, and W_hh^T
// (a transpose kernel on a GPU), made once rather than per step.
// PLAN: "name": "ember_entry_forward"
// PLAN-COUNT-4: {"op": "launch"
// PLAN-NOT: {"op": "launch"
// PLAN: {"op": "for", "results": [], "operands": [{{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}], "arguments": [{{[0-9]+}}], "yield": [], "body": [
// PLAN-NOT: }]}
// PLAN: "module": "ember_entry_forward_matmul0", "kernel": "{{ember_gpu_kernel_[0-9a-f]+}}"}
// PLAN-NOT: }]}
// PLAN: "kernel": "{{ember_gpu_kernel_[0-9a-f]+}}"}]}]},
// PLAN: "name": "ember_entry_backward"
// PLAN-NOT: matmul0
// PLAN: {"op": "for", "results": [], "operands": [{{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}], "arguments": [{{[0-9]+}}], "yield": [], "body": [
// PLAN-NOT: }]}
// PLAN: "module": "ember_entry_backward_matmul0", "kernel": "{{ember_gpu_kernel_[0-9a-f]+}}"}
// PLAN: "kernel": "{{ember_gpu_kernel_[0-9a-f]+}}"}]},
