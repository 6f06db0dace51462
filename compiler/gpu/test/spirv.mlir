// RUN: ember-gpu-opt %s --ember-gpu-lower-to-level_zero | FileCheck %s --check-prefix=CL
// RUN: ember-gpu-opt %s --ember-gpu-lower-to-vulkan | FileCheck %s --check-prefix=VK

// Level Zero: OpenCL-flavour SPIR-V (Physical64, Kernel); buffers are
// CrossWorkgroup pointers, sizes i64 parameters, workgroup memory a
// Workgroup variable.
// CL-LABEL: spirv.module @__spv__ember_entry_row_max_rowreduce1 Physical64 OpenCL requires #spirv.vce<v1.0, [Int64, Addresses, Kernel], []>
// CL:         spirv.GlobalVariable @__workgroup_mem__0 : !spirv.ptr<!spirv.array<256 x f32>, Workgroup>
// CL:         spirv.func @ember_entry_row_max_rowreduce1(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !spirv.ptr<f32, CrossWorkgroup>, %{{.*}}: i64, %{{.*}}: !spirv.ptr<f32, CrossWorkgroup>)
// CL:           spirv.ControlBarrier <Workgroup>, <Workgroup>, <AcquireRelease|WorkgroupMemory>
// CL:         spirv.EntryPoint "Kernel" @ember_entry_row_max_rowreduce1
// CL:         spirv.ExecutionMode @ember_entry_row_max_rowreduce1 "LocalSize", 256, 1, 1

// Vulkan: Shader; buffer i at (set 0, binding i); the three index scalars
// in one push-constant block of i32 words, with no binding.
// VK-LABEL: spirv.module @__spv__ember_entry_row_max_rowreduce1 Logical GLSL450
// VK-DAG:     spirv.GlobalVariable @__workgroup_mem__0 : !spirv.ptr<!spirv.struct<(!spirv.array<256 x f32>)>, Workgroup>
// VK-DAG:     spirv.GlobalVariable @{{.*}} bind(0, 0) : !spirv.ptr<!spirv.struct<(!spirv.rtarray<f32, stride=4> [0])>, StorageBuffer>
// VK-DAG:     spirv.GlobalVariable @{{.*}} bind(0, 1) : !spirv.ptr<!spirv.struct<(!spirv.rtarray<f32, stride=4> [0])>, StorageBuffer>
// VK-DAG:     spirv.GlobalVariable @{{[a-z0-9_]*}} : !spirv.ptr<!spirv.struct<(!spirv.array<3 x i32, stride=4> [0])>, PushConstant>
// VK:         spirv.func @ember_entry_row_max_rowreduce1() "None"
// VK:         spirv.EntryPoint "GLCompute" @ember_entry_row_max_rowreduce1
// VK:         spirv.ExecutionMode @ember_entry_row_max_rowreduce1 "LocalSize", 256, 1, 1
func.func @row_max(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %0 = ember.max %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
