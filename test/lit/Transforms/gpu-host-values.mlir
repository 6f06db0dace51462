// Values the host cannot compute for a GPU program: constants (host
// globals), scalars loaded from device buffers, and 0-d ops.
// RUN: ember-opt %s --split-input-file --ember-gpu-fill-constants | FileCheck %s --check-prefix=FILL
// RUN: ember-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(ember-gpu-device-scalars))' | FileCheck %s --check-prefix=SCALAR
// RUN: ember-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(ember-gpu-kernelize))' | FileCheck %s --check-prefix=ZERO

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

// An op without loops runs as a one-thread kernel, not as host code.
// ZERO-LABEL: func.func @ratio(
// ZERO:         gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) module(@ratio_scalar0) function(@ratio_scalar0)
// ZERO:           memref.load
// ZERO:           memref.load
// ZERO:           arith.divf
// ZERO:           memref.store
// ZERO-NOT:     linalg.generic
func.func @ratio(%a: memref<f32>, %b: memref<f32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>],
                  iterator_types = []}
      ins(%a, %b : memref<f32>, memref<f32>) outs(%out : memref<f32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %q = arith.divf %x, %y : f32
    linalg.yield %q : f32
  }
  return
}
