// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// VJP rules of the element-wise unary ops and cast. Each function @f gets
// @f_vjp(x, g) -> (f(x), dx).

// CHECK-LABEL: func @neg_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK: %[[Y:.*]] = ember.neg %[[X]]
// CHECK: %[[D:.*]] = ember.neg %[[G]]
// CHECK: return %[[Y]], %[[D]]
func.func @neg(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.neg %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// sign(x) as (x > 0) - (x < 0), so sign(0) = 0 like torch.
// CHECK-LABEL: func @abs_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK-DAG: %[[ZERO:.*]] = ember.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[GT:.*]] = ember.compare gt, %[[X]], %[[ZERO]]
// CHECK: %[[P:.*]] = ember.cast %[[GT]] : tensor<?x4xi1> to tensor<?x4xf32>
// CHECK: %[[LT:.*]] = ember.compare lt, %[[X]], %[[ZERO]]
// CHECK: %[[N:.*]] = ember.cast %[[LT]] : tensor<?x4xi1> to tensor<?x4xf32>
// CHECK: %[[S:.*]] = ember.sub %[[P]], %[[N]]
// CHECK: %[[D:.*]] = ember.mul %[[G]], %[[S]]
// CHECK: return %{{.*}}, %[[D]]
func.func @abs(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.abs %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK-LABEL: func @relu_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK: %[[GT:.*]] = ember.compare gt, %[[X]], %[[ZERO:.*]] :
// CHECK: %[[D:.*]] = ember.select %[[GT]], %[[G]], %[[ZERO]] : tensor<?x4xi1>, tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @relu(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.relu %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// The backward reuses the forward's exp (the default keeps forward values).
// CHECK-LABEL: func @exp_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK: %[[Y:.*]] = ember.exp %[[X]]
// CHECK: %[[D:.*]] = ember.mul %[[G]], %[[Y]]
// CHECK: return %[[Y]], %[[D]]
func.func @exp(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.exp %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK-LABEL: func @log_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK: %[[D:.*]] = ember.div %[[G]], %[[X]]
// CHECK: return %{{.*}}, %[[D]]
func.func @log(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.log %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// g / (2 sqrt(x))
// CHECK-LABEL: func @sqrt_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK-DAG: %[[TWO:.*]] = ember.constant dense<2.000000e+00> : tensor<f32>
// CHECK: %[[Y:.*]] = ember.sqrt %[[X]]
// CHECK: %[[D2:.*]] = ember.mul %[[Y]], %[[TWO]]
// CHECK: %[[D:.*]] = ember.div %[[G]], %[[D2]]
// CHECK: return %[[Y]], %[[D]]
func.func @sqrt(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.sqrt %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -1/2 y^3
// CHECK-LABEL: func @rsqrt_vjp
// CHECK-DAG: %[[HALF:.*]] = ember.constant dense<-5.000000e-01> : tensor<f32>
// CHECK: %[[Y:.*]] = ember.rsqrt
// CHECK: %[[Y2:.*]] = ember.mul %[[Y]], %[[Y]]
// CHECK: %[[Y3:.*]] = ember.mul %[[Y2]], %[[Y]]
// CHECK: ember.mul %[[Y3]], %[[HALF]]
func.func @rsqrt(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.rsqrt %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// g (1 - y^2)
// CHECK-LABEL: func @tanh_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK-DAG: %[[ONE:.*]] = ember.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[Y:.*]] = ember.tanh %[[X]]
// CHECK: %[[Y2:.*]] = ember.mul %[[Y]], %[[Y]]
// CHECK: %[[S:.*]] = ember.sub %[[ONE]], %[[Y2]] : tensor<f32>, tensor<?x4xf32> -> tensor<?x4xf32>
// CHECK: ember.mul %[[G]], %[[S]]
func.func @tanh(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.tanh %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// g y (1 - y)
// CHECK-LABEL: func @sigmoid_vjp
// CHECK: %[[Y:.*]] = ember.sigmoid
// CHECK: %[[S:.*]] = ember.sub %{{.*}}, %[[Y]]
// CHECK: %[[P:.*]] = ember.mul %[[Y]], %[[S]]
// CHECK: ember.mul %{{.*}}, %[[P]]
func.func @sigmoid(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.sigmoid %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// Phi(x) + x phi(x), with the forward's erf form of Phi.
// CHECK-LABEL: func @gelu_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[G:.*]]: tensor<?x4xf32>)
// CHECK-DAG: %[[PDF_SCALE:.*]] = ember.constant dense<0.398942292> : tensor<f32>
// CHECK-DAG: %[[SQRT1_2:.*]] = ember.constant dense<0.707106769> : tensor<f32>
// CHECK: %[[SCALED:.*]] = ember.mul %[[X]], %[[SQRT1_2]]
// CHECK: %[[ERF:.*]] = ember.erf %[[SCALED]]
// CHECK: %[[CDF:.*]] = ember.mul
// CHECK: %[[E:.*]] = ember.exp
// CHECK: %[[PDF:.*]] = ember.mul %[[E]], %[[PDF_SCALE]]
// CHECK: %[[XPDF:.*]] = ember.mul %[[X]], %[[PDF]]
// CHECK: %[[DERIV:.*]] = ember.add %[[CDF]], %[[XPDF]]
// CHECK: ember.mul %[[G]], %[[DERIV]]
func.func @gelu(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.gelu %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// 2/sqrt(pi) exp(-x^2)
// CHECK-LABEL: func @erf_vjp
// CHECK-DAG: ember.constant dense<1.12837923> : tensor<f32>
// CHECK: ember.neg
// CHECK: ember.exp
func.func @erf(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ember.erf %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// A float cast casts the cotangent back.
// CHECK-LABEL: func @cast_vjp
// CHECK-SAME: -> (tensor<?x4xf32>, tensor<?x4xf16>)
// CHECK: ember.cast %{{.*}} : tensor<?x4xf32> to tensor<?x4xf16>
func.func @cast(%x: tensor<?x4xf16>) -> tensor<?x4xf32> {
  %0 = ember.cast %x : tensor<?x4xf16> to tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// An integer argument is not differentiated and its cast needs no rule.
// CHECK-LABEL: func @cast_from_int_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[I:.*]]: tensor<?x4xi32>, %[[G:.*]]: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
// CHECK: %[[C:.*]] = ember.cast %[[I]]
// CHECK: %[[D:.*]] = ember.mul %[[G]], %[[C]]
// CHECK-NOT: ember.cast
// CHECK: return %{{.*}}, %[[D]]
func.func @cast_from_int(%x: tensor<?x4xf32>, %i: tensor<?x4xi32>) -> tensor<?x4xf32> {
  %0 = ember.cast %i : tensor<?x4xi32> to tensor<?x4xf32>
  %1 = ember.mul %0, %x : tensor<?x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}
