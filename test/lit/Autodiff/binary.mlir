// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// VJP rules of the broadcasting binary ops and select. A broadcast operand's
// gradient sums the cotangent over the dims it was stretched along (missing
// leading dims and static 1s), then reshapes to the operand's exact type.

// lhs: stretched along dim 1 (a static 1). rhs: missing leading dim 0 and
// stretched along its static-1 dim 1 (result dim 2).
// CHECK-LABEL: func @add_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x1x3xf32>, %[[B:.*]]: tensor<4x1xf32>, %[[G:.*]]: tensor<?x4x3xf32>) -> (tensor<?x4x3xf32>, tensor<?x1x3xf32>, tensor<4x1xf32>)
// CHECK: %[[SA:.*]] = ember.sum %[[G]] dims = [1] : tensor<?x4x3xf32> -> tensor<?x3xf32>
// CHECK: %[[N:.*]] = tensor.dim %[[A]], %c0
// CHECK: %[[DA:.*]] = ember.reshape %[[SA]][%[[N]]] : tensor<?x3xf32> -> tensor<?x1x3xf32>
// CHECK: %[[SB:.*]] = ember.sum %[[G]] dims = [0, 2] : tensor<?x4x3xf32> -> tensor<4xf32>
// CHECK: %[[DB:.*]] = ember.reshape %[[SB]] : tensor<4xf32> -> tensor<4x1xf32>
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
func.func @add(%a: tensor<?x1x3xf32>, %b: tensor<4x1xf32>) -> tensor<?x4x3xf32> {
  %0 = ember.add %a, %b : tensor<?x1x3xf32>, tensor<4x1xf32> -> tensor<?x4x3xf32>
  return %0 : tensor<?x4x3xf32>
}

// CHECK-LABEL: func @sub_vjp
// CHECK-SAME: (%{{.*}}: tensor<?x3xf32>, %{{.*}}: tensor<?x3xf32>, %[[G:.*]]: tensor<?x3xf32>)
// CHECK: %[[N:.*]] = ember.neg %[[G]]
// CHECK: return %{{.*}}, %[[G]], %[[N]]
func.func @sub(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.sub %a, %b : tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// A rank-0 operand sums over every dim.
// CHECK-LABEL: func @mul_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<f32>, %[[G:.*]]: tensor<?x3xf32>)
// CHECK-DAG: %[[GA:.*]] = ember.mul %[[G]], %[[A]]
// CHECK-DAG: %[[DA:.*]] = ember.mul %[[G]], %[[B]] : tensor<?x3xf32>, tensor<f32> -> tensor<?x3xf32>
// CHECK: %[[DB:.*]] = ember.sum %[[GA]] dims = [0, 1] : tensor<?x3xf32> -> tensor<f32>
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
func.func @mul(%a: tensor<?x3xf32>, %b: tensor<f32>) -> tensor<?x3xf32> {
  %0 = ember.mul %a, %b : tensor<?x3xf32>, tensor<f32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// d/da = g / b, d/db = -(g a) / b^2
// CHECK-LABEL: func @div_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<?x3xf32>, %[[G:.*]]: tensor<?x3xf32>)
// CHECK-DAG: %[[DA:.*]] = ember.div %[[G]], %[[B]]
// CHECK-DAG: %[[B2:.*]] = ember.mul %[[B]], %[[B]]
// CHECK-DAG: %[[GA:.*]] = ember.mul %[[G]], %[[A]]
// CHECK: %[[Q:.*]] = ember.div %[[GA]], %[[B2]]
// CHECK: %[[DB:.*]] = ember.neg %[[Q]]
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
func.func @div(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.div %a, %b : tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// d/da = b a^(b-1) (0 where b == 0); d/db = y log(a) (0 where a == 0, b >= 0).
// CHECK-LABEL: func @pow_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<?x3xf32>, %[[G:.*]]: tensor<?x3xf32>)
// CHECK-DAG: %[[ONE:.*]] = ember.constant dense<1.000000e+00> : tensor<f32>
// CHECK-DAG: %[[ZERO:.*]] = ember.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[Y:.*]] = ember.pow %[[A]], %[[B]]
// CHECK: %[[BM1:.*]] = ember.sub %[[B]], %[[ONE]]
// CHECK: %[[P:.*]] = ember.pow %[[A]], %[[BM1]]
// CHECK: %[[B0:.*]] = ember.compare eq, %[[B]], %[[ZERO]]
// CHECK: %[[DA:.*]] = ember.select %[[B0]], %[[ZERO]], %{{.*}}
// CHECK: %[[MASK:.*]] = ember.and
// CHECK: %[[LOG:.*]] = ember.log %[[A]]
// CHECK: %[[GY:.*]] = ember.mul %[[G]], %[[Y]]
// CHECK: %[[R:.*]] = ember.mul %[[GY]], %[[LOG]]
// CHECK: %[[DB:.*]] = ember.select %[[MASK]], %[[ZERO]], %[[R]]
// CHECK: return %[[Y]], %[[DA]], %[[DB]]
func.func @pow(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.pow %a, %b : tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// The winner gets g, a tie gives each side g / 2.
// CHECK-LABEL: func @maximum_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<?x3xf32>, %[[G:.*]]: tensor<?x3xf32>)
// CHECK-DAG: %[[HALF:.*]] = ember.constant dense<5.000000e-01> : tensor<f32>
// CHECK: %[[EQ:.*]] = ember.compare eq, %[[A]], %[[B]]
// CHECK: %[[EQF:.*]] = ember.cast %[[EQ]]
// CHECK: %[[TIE:.*]] = ember.mul %[[EQF]], %[[HALF]]
// CHECK: %[[AW:.*]] = ember.compare gt, %[[A]], %[[B]]
// CHECK: %[[AWF:.*]] = ember.cast %[[AW]]
// CHECK: %[[WA:.*]] = ember.add %[[AWF]], %[[TIE]]
// CHECK: %[[BW:.*]] = ember.compare gt, %[[B]], %[[A]]
// CHECK: %[[BWF:.*]] = ember.cast %[[BW]]
// CHECK: %[[WB:.*]] = ember.add %[[BWF]], %[[TIE]]
// CHECK: %[[DA:.*]] = ember.mul %[[G]], %[[WA]]
// CHECK: %[[DB:.*]] = ember.mul %[[G]], %[[WB]]
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
func.func @maximum(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.maximum %a, %b : tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// CHECK-LABEL: func @minimum_vjp
// CHECK: ember.compare eq
// CHECK: ember.compare lt, %[[A:.*]], %[[B:.*]] :
// CHECK: ember.compare lt, %[[B]], %[[A]] :
func.func @minimum(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.minimum %a, %b : tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// The condition gets no gradient; the broadcast false value sums over dim 0.
// CHECK-LABEL: func @select_vjp
// CHECK-SAME: (%[[C:.*]]: tensor<?x3xi1>, %{{.*}}: tensor<?x3xf32>, %{{.*}}: tensor<3xf32>, %[[G:.*]]: tensor<?x3xf32>) -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<3xf32>)
// CHECK: %[[DT:.*]] = ember.select %[[C]], %[[G]], %[[ZERO:.*]] :
// CHECK: %[[F:.*]] = ember.select %[[C]], %[[ZERO]], %[[G]] :
// CHECK: %[[DF:.*]] = ember.sum %[[F]] dims = [0] : tensor<?x3xf32> -> tensor<3xf32>
// CHECK: return %{{.*}}, %[[DT]], %[[DF]]
func.func @select(%c: tensor<?x3xi1>, %a: tensor<?x3xf32>, %b: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = ember.select %c, %a, %b : tensor<?x3xi1>, tensor<?x3xf32>, tensor<3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// Integer ops carry no cotangent; only the float argument is differentiated.
// CHECK-LABEL: func @int_add_vjp
// CHECK-SAME: (%{{.*}}: tensor<?x3xi32>, %{{.*}}: tensor<?x3xf32>, %{{.*}}: tensor<?x3xi32>, %[[GX:.*]]: tensor<?x3xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>, tensor<?x3xf32>)
// CHECK: return %{{.*}}, %{{.*}}, %[[GX]]
func.func @int_add(%a: tensor<?x3xi32>, %x: tensor<?x3xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>) {
  %0 = ember.add %a, %a : tensor<?x3xi32>, tensor<?x3xi32> -> tensor<?x3xi32>
  return %0, %x : tensor<?x3xi32>, tensor<?x3xf32>
}
