// RUN: ember-opt %s -convert-ember-to-linalg -ember-fuse-elementwise --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s
// MLIR's IR printing works through ember-opt (docs/profiling.md): the IR
// after each pass, in pipeline order, each headed by the pass's name.

// CHECK: // -----// IR Dump After ConvertEmberToLinalg (convert-ember-to-linalg)
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: // -----// IR Dump After EmberFuseElementwise (ember-fuse-elementwise)
// CHECK: linalg.generic
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.exp %0 : tensor<?xf32>
  return %1 : tensor<?xf32>
}
