// A portable model gains a cpu artifact; the manifest says so and the
// native code runs for several batch sizes, equal to the JIT's results.

// RUN: ember-pack %s -o %t.ember --entry forward --input x:float32:batch,8 \
// RUN:   --output y:float32:batch,4 --weight w:float32:8,4 --weight b:float32:4
// RUN: ember-run %t.ember --info | FileCheck %s --check-prefix=PORTABLE
// RUN: ember-compile %t.ember --target cpu -o %t.cpu.ember 2>&1 | FileCheck %s --check-prefix=PROGRESS
// RUN: ember-run %t.cpu.ember --info | FileCheck %s --check-prefix=INFO

// Compiling in place (input == output) and quietly.
// RUN: cp %t.ember %t.inplace.ember
// RUN: ember-compile %t.inplace.ember -o %t.inplace.ember --quiet 2>&1 | count 0
// RUN: ember-run %t.inplace.ember --info | FileCheck %s --check-prefix=INFO

// A named CPU older than this host's: recorded as such; it runs here.
// RUN: ember-compile %t.ember --target cpu --cpu x86-64-v3 -o %t.v3.ember --quiet
// RUN: ember-run %t.v3.ember --info | FileCheck %s --check-prefix=V3

// Native and JIT agree for batch 1, 3 and 17.
// RUN: %python %S/Inputs/model_tool.py npy %t.x1.npy float32 1,8
// RUN: %python %S/Inputs/model_tool.py npy %t.x3.npy float32 3,8
// RUN: %python %S/Inputs/model_tool.py npy %t.x17.npy float32 17,8
// RUN: ember-run %t.cpu.ember --input %t.x1.npy --output %t.n1.npy --trust-native | FileCheck %s --check-prefix=NATIVE
// RUN: ember-run %t.cpu.ember --input %t.x3.npy --output %t.n3.npy --no-jit --trust-native | FileCheck %s --check-prefix=NATIVE
// RUN: ember-run %t.cpu.ember --input %t.x17.npy --output %t.n17.npy --trust-native | FileCheck %s --check-prefix=NATIVE17
// RUN: ember-run %t.cpu.ember --input %t.x1.npy --output %t.j1.npy --no-native | FileCheck %s --check-prefix=JIT
// RUN: ember-run %t.ember --input %t.x3.npy --output %t.j3.npy | FileCheck %s --check-prefix=JIT
// RUN: ember-run %t.cpu.ember --input %t.x17.npy --output %t.j17.npy --no-native | FileCheck %s --check-prefix=JIT
// RUN: %python %S/Inputs/model_tool.py compare %t.n1.npy %t.j1.npy
// RUN: %python %S/Inputs/model_tool.py compare %t.n3.npy %t.j3.npy
// RUN: %python %S/Inputs/model_tool.py compare %t.n17.npy %t.j17.npy | FileCheck %s --check-prefix=SAME
// RUN: ember-run %t.v3.ember --input %t.x3.npy --output %t.v3.npy --no-jit --trust-native
// RUN: %python %S/Inputs/model_tool.py compare %t.v3.npy %t.j3.npy

// Unsigned native code runs only when the caller allows it; otherwise the
// portable program runs and a note says why and how to go on.
// RUN: ember-run %t.cpu.ember --input %t.x3.npy 2>&1 | FileCheck %s --check-prefix=UNSIGNED
// RUN: not ember-run %t.cpu.ember --input %t.x3.npy --no-jit 2>&1 | FileCheck %s --check-prefix=UNSIGNED-NOJIT

// Signed by a key: native code runs where the key is trusted, and any change
// after signing is refused.
// RUN: rm -f %t.key %t.pub %t.other.key %t.other.pub
// RUN: ember-compile --generate-key %t 2>&1 | FileCheck %s --check-prefix=KEYGEN
// RUN: ember-compile --generate-key %t.other --quiet
// RUN: not ember-compile --generate-key %t 2>&1 | FileCheck %s --check-prefix=KEYAGAIN
// RUN: ember-compile %t.ember --sign %t.key -o %t.signed.ember --quiet
// RUN: ember-run %t.signed.ember --info --trusted-key %t.pub | FileCheck %s --check-prefix=SIGINFO
// RUN: ember-run %t.signed.ember --input %t.x3.npy --no-jit --trusted-key %t.pub | FileCheck %s --check-prefix=NATIVE
// RUN: env EMBER_TRUSTED_KEYS=%t.other.pub:%t.pub ember-run %t.signed.ember --input %t.x3.npy --no-jit | FileCheck %s --check-prefix=NATIVE
// RUN: ember-run %t.signed.ember --input %t.x3.npy --trusted-key %t.other.pub 2>&1 | FileCheck %s --check-prefix=OTHERKEY
// Re-signing a compiled file without recompiling it (--target none).
// RUN: ember-compile %t.cpu.ember --target none --sign %t.other.key -o %t.resigned.ember --quiet
// RUN: ember-run %t.resigned.ember --input %t.x3.npy --no-jit --trusted-key %t.other.pub | FileCheck %s --check-prefix=NATIVE
// A signed file rewritten without --sign loses its (now stale) signature.
// RUN: ember-compile %t.signed.ember -o %t.unsigned.ember 2>&1 | FileCheck %s --check-prefix=DROPPED
// RUN: ember-run %t.unsigned.ember --info | FileCheck %s --check-prefix=NOSIG
// Tampering after signing (checksums recomputed) is refused.
// RUN: %python %S/Inputs/model_tool.py tamper %t.signed.ember %t.tampered.ember weights
// RUN: not ember-run %t.tampered.ember --input %t.x3.npy --trusted-key %t.pub 2>&1 | FileCheck %s --check-prefix=TAMPERED
// RUN: not ember-compile %t.ember --sign %t.pub -o %t.bad.ember 2>&1 | FileCheck %s --check-prefix=BADKEY

// UNSIGNED: ember-run: note: running the portable program: the native code is not signed, and unsigned native code was not allowed (sign the file with `ember-compile FILE --sign KEY.key`
// UNSIGNED: running forward (jit)
// UNSIGNED-NOJIT: cannot run this model: the native code is not signed{{.*}}and JIT compilation was not allowed
// KEYGEN: wrote {{.*}}.key (secret: keep it private) and {{.*}}.pub (key {{[0-9a-f]+}}: trust it with EMBER_TRUSTED_KEYS=
// KEYAGAIN: ember-compile: error: cannot create {{.*}}: File exists (keys are never overwritten)
// SIGINFO: signature: valid, by key {{[0-9a-f]+}} (trusted)
// OTHERKEY: note: running the portable program: the native code is signed by key {{[0-9a-f]+}}, which is not trusted
// OTHERKEY: running forward (jit)
// DROPPED: note: the input was signed; the output is not (add --sign KEY.key)
// NOSIG: signature: none
// TAMPERED: ember-run: error: {{.*}}tampered.ember: signature: does not match the contents (the file was changed after it was signed by key
// BADKEY: ember-compile: error: {{.*}}.pub' is not an ember key file

// PORTABLE: entry forward
// PORTABLE-NEXT: input  x: [batch, 8] float32
// PORTABLE-NEXT: output y: [batch, 4] float32
// PORTABLE-NEXT: weights: 2 (144 B)
// PORTABLE: artifacts: none

// PROGRESS: [1/4] read {{.*}}.ember: 1 entry, 2 weights (144 B)
// PROGRESS-NEXT: [2/4] parsed the program and checked it against the manifest in {{[0-9.]+}} s
// PROGRESS-NEXT: [3/4] compiled for cpu ({{.*}}): {{[0-9.]+}} KB in {{[0-9.]+}} s
// PROGRESS-NEXT: [4/4] wrote {{.*}}.cpu.ember ({{[0-9.]+}} KB) in {{[0-9.]+}} s

// INFO: entry forward
// INFO: artifact cpu: elf-shared-object in section artifact.cpu ({{.*}}), checksum {{[0-9a-f]+$}}
// INFO-NEXT: triple x86_64-{{.*}}linux-gnu, cpu {{.+}}
// INFO-NEXT: features: {{.*}}avx2
// INFO-NEXT: entry forward -> _mlir__mlir_ciface_ember_entry_forward
// INFO-NEXT: runtime slots: {{.*}}ember_cpu_sgemm

// V3: cpu x86-64-v3
// V3-NEXT: features: sse4.2 avx avx2 fma f16c bmi bmi2{{$}}

// NATIVE: running forward (cpu-native)
// NATIVE-NEXT: y: [{{[13]}}, 4] float32
// NATIVE-NEXT: min {{.*}} max {{.*}} mean
// NATIVE-NEXT: first:
// NATIVE17: running forward (cpu-native)
// NATIVE17-NEXT: y: [17, 4] float32
// JIT: running forward (jit)
// SAME: match float32 (17, 4)

func.func @forward(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %0 = ember.matmul %x, %w : tensor<?x8xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  %1 = ember.add %0, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %2 = ember.gelu %1 : tensor<?x4xf32>
  %3 = ember.softmax %2 dim = 1 : tensor<?x4xf32>
  return %3 : tensor<?x4xf32>
}
