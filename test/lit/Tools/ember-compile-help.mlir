// RUN: ember-compile --help | FileCheck %s

// CHECK: ember-compile: add native code to a .ember model file
// CHECK: ember-compile model.ember --target cpu -o model.cpu.ember
// CHECK: --cpu=<name>
// CHECK-SAME: CPU to generate code for
// CHECK: -o <out.ember>
// CHECK: --quiet
// CHECK: --target=<list>
// CHECK-SAME: supports 'cpu'
