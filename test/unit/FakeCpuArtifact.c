//===- FakeCpuArtifact.c - a native artifact without a compiler ------------===//
//
// A real ELF shared object shaped like ember-compile's output, so that
// ModelRuntimeTest loads native code (memfd + dlopen, slots, entry symbols)
// in a binary that links no LLVM. It computes ModelRuntimeTest's model
// (y = x * w + b, z = 2*batch+1 copies of batch) and calls the runtime only
// through loader-filled `__ember_rt_<name>` slots, as compiled code does. Like
// ember-compile's objects it carries an ABI record and a shape function, and
// it is linked without start files (no initialisers) and with DT_HASH (see
// the linkopts in BUILD.bazel and run_asan.sh).
//
//===----------------------------------------------------------------------===//

#include <stddef.h>
#include <stdint.h>

/// Filled by the loader with the runtime's allocation functions.
void *__ember_rt__mlir_memref_to_llvm_alloc;
void *__ember_rt__mlir_memref_to_llvm_free;

/// A rank-2 (or rank-1, reading sizes[0] only) memref descriptor.
struct Descriptor {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
};

static struct Descriptor *descriptor(void **args, int i) {
  return *(struct Descriptor **)args[i];
}

/// What the loader checks against the manifest before dlopen: the entry's
/// symbols, its arguments (x, then the weights w and b) and outputs, the
/// runtime slots, and the XXH64 of ModelRuntimeTest's program section
/// ("not parsed by the runtime").
const char __ember_abi[] =
    "{\"abi_version\": 1, \"program\": \"2a344ecd89586142\","
    " \"runtime_slots\": [\"_mlir_memref_to_llvm_alloc\", \"_mlir_memref_to_llvm_free\"],"
    " \"entries\": [{\"name\": \"forward\","
    " \"symbol\": \"_mlir__mlir_ciface_ember_entry_forward\","
    " \"shape_symbol\": \"_mlir__mlir_ciface_ember_entry_forward.shapes\","
    " \"weights\": [\"w\", \"b\"],"
    " \"arguments\": [{\"dtype\": \"float32\", \"shape\": [-1, 4]},"
    " {\"dtype\": \"float32\", \"shape\": [4]}, {\"dtype\": \"float32\", \"shape\": [4]}],"
    " \"outputs\": [{\"dtype\": \"float32\", \"shape\": [-1, 4]},"
    " {\"dtype\": \"float32\", \"shape\": [-1]}]}]}";

/// The shape function: y is [batch, 4], z is [2*batch+1].
void fake_forward_shapes(void **args) __asm__("_mlir__mlir_ciface_ember_entry_forward.shapes");
void fake_forward_shapes(void **args) {
  int64_t batch = descriptor(args, 0)->sizes[0];
  int64_t *out = (int64_t *)descriptor(args, 3)->aligned;
  out[0] = batch;
  out[1] = 4;
  out[2] = 2 * batch + 1;
}

/// The packed entry: inputs x, weights w and b, outputs y and z.
void fake_forward(void **args) __asm__("_mlir__mlir_ciface_ember_entry_forward");
void fake_forward(void **args) {
  void *(*allocate)(size_t) = (void *(*)(size_t))__ember_rt__mlir_memref_to_llvm_alloc;
  void (*release)(void *) = (void (*)(void *))__ember_rt__mlir_memref_to_llvm_free;
  struct Descriptor *x = descriptor(args, 0), *w = descriptor(args, 1),
                    *b = descriptor(args, 2), *y = descriptor(args, 3),
                    *z = descriptor(args, 4);
  int64_t batch = x->sizes[0];
  // A temporary through the slots, as compiled code allocates its own.
  float *scale = (float *)allocate(4 * sizeof(float));
  for (int j = 0; j < 4; ++j)
    scale[j] = w->aligned[j];
  for (int64_t i = 0; i < batch; ++i)
    for (int j = 0; j < 4; ++j)
      y->aligned[i * 4 + j] = x->aligned[i * 4 + j] * scale[j] + b->aligned[j];
  release(scale);
  for (int64_t i = 0; i < z->sizes[0]; ++i)
    z->aligned[i] = (float)batch;
}
