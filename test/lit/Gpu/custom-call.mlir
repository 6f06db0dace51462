// A C++ custom op in a GPU program: the compiled kernels on either side
// (the op is a fusion barrier), and between them two launch plan
// instructions the runtime runs with the op's own kernel: custom_shapes
// (the shape function on the run-time sizes) and custom_call (the
// dispatch), around the output's allocation.
// RUN: rm -rf %t
// RUN: ember-compile %s --target vulkan --emit-kernels %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=PLAN < %t/plan.json

// CHECK: kernels for vulkan

// PLAN: "name": "ember_entry_forward"
// PLAN: {"op": "launch"
// PLAN: {"op": "custom_shapes", "results": [[[N:[0-9]+]]], "operands": [[[X:[0-9]+]]], "name": "demo::swish", "attr_names": ["beta"], "attr_raw": [4611686018427387904], "dtypes": [5, 5], "output_ranks": [1], "inputs": 1}
// PLAN: {"op": "alloc", "results": [[[Y:[0-9]+]]], "operands": [[[N]]]
// PLAN: {"op": "custom_call", "results": [], "operands": [[[X]], [[Y]]], "name": "demo::swish"
// PLAN: {"op": "launch"
func.func @forward(%x: tensor<?xf32>) -> tensor<?xf32> {
  %a = ember.add %x, %x : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %y = ember.custom_call "demo::swish"(%a) {op_attributes = {beta = 2.0 : f64}}
      : (tensor<?xf32>) -> tensor<?xf32>
  %z = ember.mul %y, %y : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %z : tensor<?xf32>
}
