// RUN: ember-opt %s --allow-unregistered-dialect --ember-runtime-slots="symbols=memrefCopy" -verify-diagnostics -o /dev/null

// Only calls and address-ofs can load the function from its slot; any other
// reference to a runtime function is refused, not left dangling.
llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)
llvm.func @f() {
  // expected-error @+1 {{'test.use' op refers to runtime function 'memrefCopy' in a way ember-runtime-slots cannot rewrite into a slot load}}
  "test.use"() {callee = @memrefCopy} : () -> ()
  llvm.return
}
