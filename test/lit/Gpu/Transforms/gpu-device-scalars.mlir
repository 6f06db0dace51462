// Scalars the host would load from device buffers are read in the kernels.
// RUN: ember-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(ember-gpu-device-scalars))' | FileCheck %s --check-prefix=SCALAR

// A scalar loaded on the host and used only as a linalg input is read in
// the kernel instead: the op takes the buffer itself (or a 0-d view of the
// element) with a () map. A load feeding size arithmetic stays.
// SCALAR-DAG:  #[[SCALAR:.*]] = affine_map<(d0) -> ()>
// SCALAR-LABEL: func.func @scalar_operand(
// SCALAR-SAME:   %[[S:[a-z0-9]+]]: memref<f32>, %[[V:[a-z0-9]+]]: memref<3xf32>, %[[SIZES:[a-z0-9]+]]: memref<2xi64>
// SCALAR:         %[[N:.*]] = memref.load %[[SIZES]]
// SCALAR-NOT:     memref.load
// SCALAR:         %[[ELEM:.*]] = memref.subview %[[V]][%c1] [1] [1] : memref<3xf32> to memref<f32, strided<[], offset: ?>>
// SCALAR:         linalg.generic {indexing_maps = [#[[SCALAR]], #{{[a-z0-9]+}}]
// SCALAR-SAME:      ins(%[[S]] : memref<f32>)
// SCALAR:         linalg.generic {indexing_maps = [#[[SCALAR]], #{{[a-z0-9]+}}]
// SCALAR-SAME:      ins(%[[ELEM]] : memref<f32, strided<[], offset: ?>>)
#id = affine_map<(d0) -> (d0)>
func.func @scalar_operand(%s: memref<f32>, %v: memref<3xf32>, %sizes: memref<2xi64>,
                          %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %x = memref.load %s[] : memref<f32>
  %n = memref.load %sizes[%c0] : memref<2xi64>
  %ni = arith.index_cast %n : i64 to index
  %y = memref.load %v[%c1] : memref<3xf32>
  %view = memref.subview %out[0] [%ni] [1] : memref<?xf32> to memref<?xf32, strided<[1]>>
  linalg.fill ins(%x : f32) outs(%view : memref<?xf32, strided<[1]>>)
  linalg.generic {indexing_maps = [affine_map<(d0) -> ()>, #id], iterator_types = ["parallel"]}
      ins(%y : f32) outs(%out : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %sum = arith.addf %in, %o : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

// A 0-d buffer the host fills with one scalar and linalg ops only read:
// the ops take the scalar itself (a kernel argument, not a buffer), and the
// buffer goes.
// SCALAR-LABEL: func.func @host_scalar(
// SCALAR-SAME:    %[[X:[a-z0-9]+]]: f32
// SCALAR-NOT:     memref.alloc
// SCALAR-NOT:     memref.store
// SCALAR:         linalg.generic
// SCALAR-SAME:      ins(%[[X]] : f32)
// SCALAR-NOT:     memref.dealloc
// SCALAR:         return
func.func @host_scalar(%x: f32, %out: memref<4xf32>) {
  %buf = memref.alloc() : memref<f32>
  memref.store %x, %buf[] : memref<f32>
  linalg.generic {indexing_maps = [affine_map<(d0) -> ()>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%buf : memref<f32>) outs(%out : memref<4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  memref.dealloc %buf : memref<f32>
  return
}
