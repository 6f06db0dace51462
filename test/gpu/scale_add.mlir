// out[i] = 2 * x[i] + y[i] over 4096 floats, 64 invocations per workgroup:
// a `gpu` kernel that MLIR 22 lowers to Vulkan SPIR-V (the genrule
// mlir_spirv_shader in BUILD.bazel; docs/devices.md has the pass sequence),
// the path Ember's compiler will take for Vulkan.
module attributes {
  gpu.container_module,
  spirv.target_env = #spirv.target_env<
      #spirv.vce<v1.3, [Shader], [SPV_KHR_storage_buffer_storage_class]>,
      #spirv.resource_limits<>>
} {
  gpu.module @kernels {
    gpu.func @scale_add(%x: memref<4096xf32>, %y: memref<4096xf32>,
                        %out: memref<4096xf32>) kernel
        attributes {spirv.entry_point_abi =
                        #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>} {
      %block = gpu.block_id x
      %thread = gpu.thread_id x
      %c64 = arith.constant 64 : index
      %base = arith.muli %block, %c64 : index
      %i = arith.addi %base, %thread : index
      %a = memref.load %x[%i] : memref<4096xf32>
      %b = memref.load %y[%i] : memref<4096xf32>
      %two = arith.constant 2.0 : f32
      %scaled = arith.mulf %a, %two : f32
      %sum = arith.addf %scaled, %b : f32
      memref.store %sum, %out[%i] : memref<4096xf32>
      gpu.return
    }
  }
}
