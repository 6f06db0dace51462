// Constants, which bufferization leaves as host globals a GPU kernel cannot
// read, become device buffers.
// RUN: ember-opt %s --split-input-file --ember-gpu-fill-constants | FileCheck %s --check-prefix=FILL

// A large splat global becomes a device allocation filled by linalg.fill,
// freed at the return; a small global (a shape vector) is stored element by
// element from the host; the globals go.
// FILL-NOT:    memref.global
// FILL-LABEL: func.func @splat(
// FILL:         %[[BUF:.*]] = memref.alloc() : memref<64xf32>
// FILL:         %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// FILL:         linalg.fill ins(%[[HALF]] : f32) outs(%[[BUF]] : memref<64xf32>)
// FILL:         %[[SHAPE:.*]] = memref.alloc() : memref<2xindex>
// FILL:         memref.store %{{.*}}, %[[SHAPE]][%c0{{.*}}]
// FILL:         memref.store %{{.*}}, %[[SHAPE]][%c1{{.*}}]
// FILL:         linalg.copy ins(%[[BUF]] : memref<64xf32>)
// FILL:         memref.reshape %[[BUF]](%[[SHAPE]])
// FILL:         linalg.copy
// FILL-DAG:     memref.dealloc %[[BUF]]
// FILL-DAG:     memref.dealloc %[[SHAPE]]
// FILL:         return
memref.global "private" constant @half : memref<64xf32> = dense<5.000000e-01>
memref.global "private" constant @shape : memref<2xindex> = dense<[8, 8]>
func.func @splat(%out: memref<64xf32>, %square: memref<8x8xf32>) {
  %g = memref.get_global @half : memref<64xf32>
  %s = memref.get_global @shape : memref<2xindex>
  linalg.copy ins(%g : memref<64xf32>) outs(%out : memref<64xf32>)
  %r = memref.reshape %g(%s) : (memref<64xf32>, memref<2xindex>) -> memref<8x8xf32>
  linalg.copy ins(%r : memref<8x8xf32>) outs(%square : memref<8x8xf32>)
  return
}

// -----

// A global that is neither a splat nor small enough to store from the host
// is left for the launcher to reject, and so is its global.
// FILL:       memref.global "private" constant @table : memref<40xf32>
// FILL-LABEL: func.func @large_table(
// FILL:         memref.get_global @table : memref<40xf32>
// FILL-NOT:     memref.alloc
memref.global "private" constant @table : memref<40xf32> = dense<[
  0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0,
  14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0,
  27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0]>
func.func @large_table(%out: memref<40xf32>) {
  %g = memref.get_global @table : memref<40xf32>
  linalg.copy ins(%g : memref<40xf32>) outs(%out : memref<40xf32>)
  return
}
