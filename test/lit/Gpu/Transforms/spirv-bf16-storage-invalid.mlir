// RUN: ember-opt %s --ember-spirv-bf16-storage --verify-diagnostics -o /dev/null

// A bf16 buffer used other than by loads and stores cannot be kept as i16.
gpu.module @kernels {
  gpu.func @dim(%in: memref<?xbf16>, %out: memref<?xindex>) kernel {
    %c0 = arith.constant 0 : index
    // expected-error @+1 {{uses a bfloat16 buffer in a way the SPIR-V lowering cannot keep as i16}}
    %n = memref.dim %in, %c0 : memref<?xbf16>
    memref.store %n, %out[%c0] : memref<?xindex>
    gpu.return
  }
}
