//===- CpuRuntime.cpp - the table of runtime symbols for compiled code -----===//

#include "ember/Runtime/CpuRuntime.h"
#include "ember/Runtime/CpuAttention.h"
#include "ember/Runtime/CpuCollectives.h"
#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/CustomOpRegistry.h"
#include "ember/Runtime/HostAllocator.h"
#include "ember/Runtime/ThreadPool.h"

namespace ember {

#define EMBER_SYMBOL(name) {#name, reinterpret_cast<void *>(&name)}

const RuntimeSymbol *cpuRuntimeSymbols(int *count) {
  static const RuntimeSymbol symbols[] = {
      EMBER_SYMBOL(ember_cpu_sgemm),
      EMBER_SYMBOL(ember_cpu_dgemm),
      EMBER_SYMBOL(ember_cpu_sgemm_batched),
      EMBER_SYMBOL(ember_cpu_dgemm_batched),
      EMBER_SYMBOL(ember_cpu_sgemm_into),
      EMBER_SYMBOL(ember_cpu_dgemm_into),
      EMBER_SYMBOL(ember_cpu_sgemm_batched_into),
      EMBER_SYMBOL(ember_cpu_dgemm_batched_into),
      EMBER_SYMBOL(ember_cpu_sgemm_fused),
      EMBER_SYMBOL(ember_cpu_sgemm_batched_fused),
      EMBER_SYMBOL(ember_cpu_sgemm_pack_b),
      EMBER_SYMBOL(ember_cpu_sgemm_release_b),
      EMBER_SYMBOL(ember_cpu_sgemm_packed),
      EMBER_SYMBOL(ember_cpu_sgemm_packed_into),
      EMBER_SYMBOL(ember_cpu_sgemm_packed_fused),
      EMBER_SYMBOL(memrefCopy),
      EMBER_SYMBOL(_mlir_memref_to_llvm_alloc),
      EMBER_SYMBOL(_mlir_memref_to_llvm_aligned_alloc),
      EMBER_SYMBOL(_mlir_memref_to_llvm_free),
      EMBER_SYMBOL(ember_parallel_for),
      EMBER_SYMBOL(ember_cpu_attention_f32),
      EMBER_SYMBOL(ember_cpu_attention_f64),
      EMBER_SYMBOL(ember_cpu_attention_backward_f32),
      EMBER_SYMBOL(ember_cpu_attention_backward_f64),
      EMBER_SYMBOL(ember_cpu_attention_heads_f32),
      EMBER_SYMBOL(ember_cpu_attention_heads_f64),
      EMBER_SYMBOL(ember_cpu_conv_f32),
      EMBER_SYMBOL(ember_cpu_conv_fused_f32),
      EMBER_SYMBOL(ember_cpu_conv_fused_mean_f32),
      EMBER_SYMBOL(ember_cpu_conv_fused_then_f32),
      EMBER_SYMBOL(ember_cpu_conv_fused_scaled_f32),
      EMBER_SYMBOL(ember_collective_all_reduce_f32),
      EMBER_SYMBOL(ember_collective_all_reduce_f64),
      EMBER_SYMBOL(ember_collective_all_reduce_f16),
      EMBER_SYMBOL(ember_collective_all_reduce_bf16),
      EMBER_SYMBOL(ember_collective_all_reduce_i32),
      EMBER_SYMBOL(ember_collective_all_reduce_i64),
      EMBER_SYMBOL(ember_cpu_conv_backward_data_f32),
      EMBER_SYMBOL(ember_cpu_conv_backward_weight_f32),
      EMBER_SYMBOL(ember_cpu_max_pool_f32),
      EMBER_SYMBOL(ember_custom_call_shapes),
      EMBER_SYMBOL(ember_custom_call),
  };
  *count = sizeof(symbols) / sizeof(symbols[0]);
  return symbols;
}

#undef EMBER_SYMBOL

} // namespace ember
