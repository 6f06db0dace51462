// RUN: ember-opt %s --ember-tile-parallel-loops | FileCheck %s

// A 2-D loop: 16x16 blocks of threads; the last (contiguous) dim maps to x
// for blocks and threads alike, so consecutive threads touch consecutive
// elements.
// CHECK-LABEL: func.func @two_dims(
// CHECK-DAG:     %[[S0:.*]] = arith.muli %c1, %c16
// CHECK-DAG:     %[[S1:.*]] = arith.muli %c1, %c16
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} step (%[[S0]], %[[S1]])
// CHECK:           scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} to (%[[S0]], %[[S1]])
// CHECK:             memref.store
// CHECK:           } {mapping = [#gpu.loop_dim_map<processor = thread_y, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]}
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = block_y, {{.*}}>, #gpu.loop_dim_map<processor = block_x, {{.*}}>]}
func.func @two_dims(%buf: memref<?x?xf32>, %m: index, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%m, %n) step (%c1, %c1) {
    memref.store %zero, %buf[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// Four dims: the first becomes a loop inside each thread.
// CHECK-LABEL: func.func @four_dims(
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = sequential, {{.*}}>, #gpu.loop_dim_map<processor = thread_z, {{.*}}>, #gpu.loop_dim_map<processor = thread_y, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]}
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = sequential, {{.*}}>, #gpu.loop_dim_map<processor = block_z, {{.*}}>, #gpu.loop_dim_map<processor = block_y, {{.*}}>, #gpu.loop_dim_map<processor = block_x, {{.*}}>]}
func.func @four_dims(%buf: memref<?x?x?x?xf32>, %a: index, %b: index, %c: index, %d: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i, %j, %k, %l) = (%c0, %c0, %c0, %c0) to (%a, %b, %c, %d) step (%c1, %c1, %c1, %c1) {
    memref.store %zero, %buf[%i, %j, %k, %l] : memref<?x?x?x?xf32>
    scf.reduce
  }
  return
}

// A host loop (ember.host_loop: a recurrent layer's steps) is not a
// sequential nest to run as one thread: it stays, and the nests in its body
// become kernels as at the top level.
// CHECK-LABEL: func.func @host_loop(
// CHECK:         scf.for
// CHECK:           scf.parallel
// CHECK:             scf.parallel
// CHECK:               memref.store
// CHECK:           scf.parallel
// CHECK:             scf.for
// CHECK:         } {ember.host_loop}
func.func @host_loop(%buf: memref<?x?xf32>, %m: index, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.for %t = %c0 to %m step %c1 {
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      memref.store %zero, %buf[%t, %j] : memref<?x?xf32>
      scf.reduce
    }
    scf.for %j = %c0 to %n step %c1 {
      memref.store %zero, %buf[%t, %j] : memref<?x?xf32>
    }
  } {ember.host_loop}
  return
}
