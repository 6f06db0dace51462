// NVVM: one PTX module per kernel for sm_90, with launch metadata.
// RUN: rm -rf %t && ember-compile %S/Inputs/mlp.mlir --target cuda:sm_90 --emit-kernels %t | FileCheck %s
// RUN: cat %t/ember_entry_forward_kernel_0.ptx | FileCheck %s --check-prefix=PTX
// RUN: cat %t/ember_entry_forward_matmul0.ptx | FileCheck %s --check-prefix=MATMUL
// RUN: cat %t/ember_entry_forward_rowreduce1.ptx | FileCheck %s --check-prefix=ROWS
// RUN: FileCheck %s --check-prefix=META < %t/kernels.json
// RUN: FileCheck %s --check-prefix=HOST < %t/host.mlir

// CHECK: ember_entry_forward_kernel: {{ember_gpu_kernel_[0-9a-f]+}}, block 16x16x1
// CHECK: ember_entry_forward_matmul0: {{ember_gpu_kernel_[0-9a-f]+}}, block 16x16x1
// CHECK: ember_entry_forward_kernel_0: {{ember_gpu_kernel_[0-9a-f]+}}, block 16x16x1, {{[0-9]+}} args, {{[0-9]+}} bytes of ptx
// CHECK: kernels for cuda:sm_90 in

// PTX: .version 8.0
// PTX: .target sm_90
// PTX: .address_size 64
// PTX: .visible .entry {{ember_gpu_kernel_[0-9a-f]+}}(

// The matmul stages a 64x16 tile of A and a 16x64 tile of B in shared
// memory between barriers; the row reduction (softmax's max) folds 256
// partial values in shared memory.
// MATMUL: .visible .entry {{ember_gpu_kernel_[0-9a-f]+}}(
// MATMUL: .shared .align 4 .b8 {{.*}}[4096];
// MATMUL: .shared .align 4 .b8 {{.*}}[4096];
// MATMUL: st.shared
// MATMUL: bar.sync 0;
// MATMUL: ld.shared
// ROWS: .visible .entry {{ember_gpu_kernel_[0-9a-f]+}}(
// ROWS: .shared .align 4 .b8 {{.*}}[1024];
// ROWS: bar.sync 0;
// ROWS: max.NaN.f32

// The kernels take 1-D buffers and scalar sizes: no multi-dim descriptors.
// Each kernel is the runtime's kernel description (as in a model file's
// manifest); CUDA takes the arguments in order, so nothing is placed.
// META: "target": "cuda:sm_90",
// META: "binary_format": "ptx",
// META: {"module":"ember_entry_forward_kernel_0","name":"{{ember_gpu_kernel_[0-9a-f]+}}","block":[16,16,1]
// META-SAME: {"kind":"buffer","bits":64,"rank":1,"type":"f32"}
// META-NOT: "rank":2
// META-NOT: "binding"

// HOST: func.func @ember_entry_forward
// HOST: gpu.launch_func @ember_entry_forward_kernel_0::@{{ember_gpu_kernel_[0-9a-f]+}} blocks in ({{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}})
