//===- GpuF64Math.cpp - float64 transcendentals for GPU kernels -----------===//
//
// GPU targets have no float64 exp/log/tanh/pow/erf of their own that Ember
// can use: SPIR-V's GLSL set stops at 32 bits, and NVVM/ROCDL would call
// libdevice/ocml, which are not linked. The f32 versions are polynomials
// (ember-approximate-math); this pass gives f64 ones of full precision,
// built from arithmetic and integer bit operations only:
//
//   exp   k = round(x / ln 2), r = x - k ln 2 (two-part ln 2), a degree-13
//         Taylor polynomial of e^r (|r| <= 0.35), times 2^k in two steps
//   log   x = m 2^e with m in [sqrt(1/2), sqrt(2)), f = (m-1)/(m+1),
//         log m = 2 atanh f as an odd series to f^21, plus e ln 2
//   tanh  e = expm1(2|x|) (a Taylor series below 1, else exp - 1), e/(e+2)
//   pow   x^n by squaring for integral |n| < 128 (exact), else
//         exp(y log|x|) with the sign of integral powers of negative x
//   erf   2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1)/(2n+1)!!, 200 terms, |x| < 6
//
// From those, at both widths where the targets lack the op: exp2, trunc
// (floor/ceil by sign), erfc (1 - erf); and in f64 only: sinh, cosh,
// asinh, acosh, atanh, log2, log10, log1p, expm1, and sin, cos, tan (Cody-Waite
// reduction by pi/2, Taylor polynomials), atan (two folds, an odd series),
// atan2, asin and acos from atan (the GLSL set has these at 32 bits only).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

namespace ember {
#define GEN_PASS_DEF_EMBERGPUF64MATH
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// f64 arithmetic, spelled short.
struct F64 {
  OpBuilder &b;
  Location loc;
  Type f64() { return b.getF64Type(); }
  Type i64() { return b.getI64Type(); }
  Value c(double v) { return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v)); }
  Value ci(int64_t v) { return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v)); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }
  Value abs(Value x) {
    Value bits = arith::BitcastOp::create(b, loc, i64(), x);
    Value cleared = arith::AndIOp::create(b, loc, bits, ci(INT64_MAX));
    return arith::BitcastOp::create(b, loc, f64(), cleared);
  }
  /// Horner: coefficients from the highest power down.
  Value poly(Value x, ArrayRef<double> coefficients) {
    Value acc = c(coefficients.front());
    for (double k : coefficients.drop_front())
      acc = add(mul(acc, x), c(k));
    return acc;
  }
  /// 2^k for an integral f64 k in [-1022, 1023].
  Value pow2(Value k) {
    Value ki = arith::FPToSIOp::create(b, loc, i64(), k);
    Value biased = arith::AddIOp::create(b, loc, ki, ci(1023));
    Value bits = arith::ShLIOp::create(b, loc, biased, ci(52));
    return arith::BitcastOp::create(b, loc, f64(), bits);
  }
  /// Round half away from zero, as an integral f64.
  Value round(Value x) {
    Value half = select(cmp(arith::CmpFPredicate::OLT, x, c(0)), c(-0.5), c(0.5));
    Value k = arith::FPToSIOp::create(b, loc, i64(), add(x, half));
    return arith::SIToFPOp::create(b, loc, f64(), k);
  }

  Value exp(Value x) {
    Value k = round(mul(x, c(1.4426950408889634)));
    Value r = sub(sub(x, mul(k, c(6.93147180369123816490e-01))),
                  mul(k, c(1.90821492927058770002e-10)));
    SmallVector<double> taylor;
    for (int n = 13; n >= 0; --n)
      taylor.push_back(1.0 / std::tgamma(n + 1.0));
    Value p = poly(r, taylor);
    // 2^k as 2^(k/2) 2^(k - k/2): both factors stay normal.
    Value clampedK = select(cmp(arith::CmpFPredicate::OGT, k, c(1024)), c(1024),
                            select(cmp(arith::CmpFPredicate::OLT, k, c(-1076)), c(-1076), k));
    Value k1 = arith::SIToFPOp::create(
        b, loc, f64(), arith::FPToSIOp::create(b, loc, i64(), mul(clampedK, c(0.5))));
    Value result = mul(mul(p, pow2(k1)), pow2(sub(clampedK, k1)));
    result = select(cmp(arith::CmpFPredicate::OGT, x, c(709.782712893384)), c(INFINITY), result);
    result = select(cmp(arith::CmpFPredicate::OLT, x, c(-745.2)), c(0), result);
    return select(cmp(arith::CmpFPredicate::UNO, x, x), x, result);
  }

  Value log(Value x) {
    // Subnormals: scaled into the normal range first.
    Value tiny = cmp(arith::CmpFPredicate::OLT, x, c(2.2250738585072014e-308));
    Value scaled = select(tiny, mul(x, c(18014398509481984.0)), x); // 2^54
    Value bits = arith::BitcastOp::create(b, loc, i64(), scaled);
    Value exponentBits = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, bits, ci(52)), ci(0x7ff));
    Value e = arith::SIToFPOp::create(b, loc, f64(),
                                      arith::SubIOp::create(b, loc, exponentBits, ci(1023)));
    e = sub(e, select(tiny, c(54), c(0)));
    Value mantissaBits = arith::OrIOp::create(
        b, loc, arith::AndIOp::create(b, loc, bits, ci(0x000fffffffffffffLL)),
        ci(0x3ff0000000000000LL));
    Value m = arith::BitcastOp::create(b, loc, f64(), mantissaBits);
    Value big = cmp(arith::CmpFPredicate::OGT, m, c(1.4142135623730951));
    m = select(big, mul(m, c(0.5)), m);
    e = add(e, select(big, c(1), c(0)));
    Value f = div(sub(m, c(1)), add(m, c(1)));
    Value s = mul(f, f);
    SmallVector<double> series;
    for (int n = 10; n >= 0; --n)
      series.push_back(1.0 / (2 * n + 1));
    Value logM = mul(mul(c(2), f), poly(s, series));
    Value result = add(mul(e, c(6.93147180369123816490e-01)),
                       add(mul(e, c(1.90821492927058770002e-10)), logM));
    result = select(cmp(arith::CmpFPredicate::OEQ, x, c(INFINITY)), x, result);
    result = select(cmp(arith::CmpFPredicate::OEQ, x, c(0)), c(-INFINITY), result);
    // Negative and NaN inputs give NaN.
    return select(cmp(arith::CmpFPredicate::UGE, x, c(0)), result, c(NAN));
  }

  Value expm1(Value y) {
    SmallVector<double> taylor;
    for (int n = 19; n >= 1; --n)
      taylor.push_back(1.0 / std::tgamma(n + 1.0));
    Value small = mul(y, poly(y, taylor));
    return select(cmp(arith::CmpFPredicate::OLT, abs(y), c(1)), small, sub(exp(y), c(1)));
  }

  Value tanh(Value x) {
    Value a = abs(x);
    Value e = expm1(mul(c(2), a));
    Value t = select(cmp(arith::CmpFPredicate::OGT, a, c(20)), c(1), div(e, add(e, c(2))));
    // Back to the sign of x (NaN stays NaN).
    Value signed_ = select(cmp(arith::CmpFPredicate::OLT, x, c(0)), neg(t), t);
    return select(cmp(arith::CmpFPredicate::UNO, x, x), x, signed_);
  }

  /// x^|n| for an integral |n| < 128, by squaring: exact where the result
  /// is representable (integer powers must not come out as 63.99999).
  Value powInteger(Value x, Value n) {
    Value bits = arith::FPToSIOp::create(b, loc, i64(), abs(n));
    Value result = c(1), base = x;
    for (int i = 0; i < 7; ++i) {
      Value bit = arith::TruncIOp::create(
          b, loc, b.getI1Type(),
          arith::AndIOp::create(b, loc, arith::ShRUIOp::create(b, loc, bits, ci(i)), ci(1)));
      result = select(bit, mul(result, base), result);
      base = mul(base, base);
    }
    return select(cmp(arith::CmpFPredicate::OLT, n, c(0)), div(c(1), result), result);
  }

  Value pow(Value x, Value y) {
    Value smallInteger = arith::AndIOp::create(
        b, loc, cmp(arith::CmpFPredicate::OEQ, round(y), y),
        cmp(arith::CmpFPredicate::OLT, abs(y), c(128)));
    Value magnitude = exp(mul(y, log(abs(x))));
    // Negative x: integral y keeps its parity's sign, others give NaN.
    Value yInt = cmp(arith::CmpFPredicate::OEQ, round(y), y);
    Value halfY = mul(y, c(0.5));
    Value odd = arith::AndIOp::create(b, loc, yInt,
                                      cmp(arith::CmpFPredicate::ONE, round(halfY), halfY));
    Value negative = cmp(arith::CmpFPredicate::OLT, x, c(0));
    Value forNegative = select(yInt, select(odd, neg(magnitude), magnitude), c(NAN));
    Value result = select(negative, forNegative, magnitude);
    result = select(smallInteger, powInteger(x, y), result);
    // x^0 = 1 and 1^y = 1, NaN included.
    Value one = arith::OrIOp::create(b, loc, cmp(arith::CmpFPredicate::OEQ, y, c(0)),
                                     cmp(arith::CmpFPredicate::OEQ, x, c(1)));
    return select(one, c(1), result);
  }

  /// sin or cos: x = k pi/2 + r (three-part pi/2, |r| <= pi/4), a Taylor
  /// polynomial of each on r, picked and signed by k mod 4. Inputs past
  /// 2^50 (where k loses its integer precision) and infinities give NaN.
  Value sinOrCos(Value x, bool cosine) {
    Value k = round(mul(x, c(0.63661977236758134308)));
    Value r = sub(sub(sub(x, mul(k, c(1.57079632673412561417e+00))),
                      mul(k, c(6.07710050630396597660e-11))),
                  mul(k, c(2.02226624879595063154e-21)));
    Value r2 = mul(r, r);
    SmallVector<double> sinTerms, cosTerms;
    for (int n = 10; n >= 0; --n) {
      sinTerms.push_back((n % 2 ? -1.0 : 1.0) / std::tgamma(2 * n + 2.0));
      cosTerms.push_back((n % 2 ? -1.0 : 1.0) / std::tgamma(2 * n + 1.0));
    }
    Value s = mul(r, poly(r2, sinTerms));
    Value co = poly(r2, cosTerms);
    Value ki = arith::FPToSIOp::create(b, loc, i64(), k);
    Value q = arith::AndIOp::create(b, loc, ki, ci(3));
    if (cosine)
      q = arith::AndIOp::create(b, loc, arith::AddIOp::create(b, loc, q, ci(1)), ci(3));
    auto is = [&](int64_t v) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, q, ci(v));
    };
    Value result = select(is(0), s, select(is(1), co, select(is(2), neg(s), neg(co))));
    Value tooBig = cmp(arith::CmpFPredicate::UGT, abs(x), c(1125899906842624.0));
    return select(tooBig, c(NAN), result);
  }

  /// atan: |x| > 1 folds to pi/2 - atan(1/|x|), above tan(pi/8) to
  /// pi/4 + atan((t-1)/(t+1)), then the odd series to t^49.
  Value atan(Value x) {
    Value a = abs(x);
    Value big = cmp(arith::CmpFPredicate::OGT, a, c(1));
    Value t = select(big, div(c(1), a), a);
    Value mid = cmp(arith::CmpFPredicate::OGT, t, c(0.41421356237309504880));
    Value u = select(mid, div(sub(t, c(1)), add(t, c(1))), t);
    SmallVector<double> terms;
    for (int n = 24; n >= 0; --n)
      terms.push_back((n % 2 ? -1.0 : 1.0) / (2 * n + 1.0));
    Value series = mul(u, poly(mul(u, u), terms));
    Value folded = select(mid, add(c(M_PI_4), series), series);
    Value result = select(big, sub(c(M_PI_2), folded), folded);
    Value signedResult = select(cmp(arith::CmpFPredicate::OLT, x, c(0)), neg(result), result);
    return select(cmp(arith::CmpFPredicate::UNO, x, x), x, signedResult);
  }

  /// atan2 for (y, x) not both zero (the scalar body selects that case).
  Value atan2(Value y, Value x) {
    Value base = atan(div(y, x));
    Value turn = select(cmp(arith::CmpFPredicate::OGE, y, c(0)), c(M_PI), c(-M_PI));
    Value shifted = select(cmp(arith::CmpFPredicate::OLT, x, c(0)), add(base, turn), base);
    Value anyNan = cmp(arith::CmpFPredicate::UNO, x, y);
    return select(anyNan, c(NAN), shifted);
  }

  Value erf(Value x) {
    Value a = abs(x);
    Value two = mul(c(2), mul(a, a));
    // sum_n 2^n a^(2n+1) / (2n+1)!!: term_{n+1} = term_n 2a^2 / (2n+3).
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value count = arith::ConstantIndexOp::create(b, loc, 200);
    Value step = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(
        b, loc, zero, count, step, ValueRange{a, a, c(3)},
        [&](OpBuilder &nested, Location loc, Value, ValueRange carried) {
          F64 m{nested, loc};
          Value term = m.div(m.mul(carried[0], two), carried[2]);
          scf::YieldOp::create(nested, loc,
                               ValueRange{term, m.add(carried[1], term), m.add(carried[2], m.c(2))});
        });
    Value sum = loop.getResult(1);
    Value value = mul(mul(c(1.1283791670955126), exp(neg(mul(a, a)))), sum);
    value = select(cmp(arith::CmpFPredicate::OGE, a, c(6)), c(1), value);
    Value signed_ = select(cmp(arith::CmpFPredicate::OLT, x, c(0)), neg(value), value);
    return select(cmp(arith::CmpFPredicate::UNO, x, x), x, signed_);
  }
};

/// Ops that GPU targets lack at any width (SPIR-V's GLSL set has no exp2
/// of f64, trunc or erfc): computed from the f64 routines above.
bool lackedEverywhere(Operation *op) {
  return isa<math::Exp2Op, math::TruncOp, math::ErfcOp>(op);
}

/// f64 ops that GPU targets lack but that follow from exp and log.
bool lackedInF64(Operation *op) {
  return isa<math::SinhOp, math::CoshOp, math::AsinhOp, math::AcoshOp,
             math::AtanhOp, math::Log2Op, math::Log10Op, math::Log1pOp,
             math::ExpM1Op, math::SinOp, math::CosOp, math::TanOp, math::AsinOp,
             math::AcosOp, math::AtanOp, math::Atan2Op>(op);
}

struct EmberGpuF64MathPass : ember::impl::EmberGpuF64MathBase<EmberGpuF64MathPass> {
  void runOnOperation() override {
    // f64 ones, and f32 ones the polynomial approximations left (pow,
    // and any in kernels built after them): computed in f64, rounded.
    SmallVector<Operation *> ops;
    getOperation().walk([&](gpu::GPUModuleOp module) {
      module.walk([&](Operation *op) {
        bool wanted = isa<math::ExpOp, math::LogOp, math::TanhOp, math::PowFOp,
                          math::ErfOp>(op) ||
                      lackedEverywhere(op);
        Type type = op->getNumResults() == 1 ? op->getResult(0).getType() : Type();
        if (type && (type.isF64() || type.isF32()) &&
            (wanted || (lackedInF64(op) && type.isF64())))
          ops.push_back(op);
      });
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      F64 m{b, loc};
      Type type = op->getResult(0).getType();
      auto wide = [&](Value v) -> Value {
        return type.isF64() ? v : Value(arith::ExtFOp::create(b, loc, m.f64(), v));
      };
      Value x = wide(op->getOperand(0));
      auto fadd = [&](Value l, Value r) { return arith::AddFOp::create(b, loc, l, r); };
      auto fsub = [&](Value l, Value r) { return arith::SubFOp::create(b, loc, l, r); };
      auto fmul = [&](Value l, Value r) { return arith::MulFOp::create(b, loc, l, r); };
      auto fdiv = [&](Value l, Value r) { return arith::DivFOp::create(b, loc, l, r); };
      Value one = m.c(1);
      Value result;
      if (isa<math::ExpOp>(op))
        result = m.exp(x);
      else if (isa<math::LogOp>(op))
        result = m.log(x);
      else if (isa<math::TanhOp>(op))
        result = m.tanh(x);
      else if (isa<math::ErfOp>(op))
        result = m.erf(x);
      else if (isa<math::PowFOp>(op))
        result = m.pow(x, wide(op->getOperand(1)));
      else if (isa<math::Exp2Op>(op))
        result = m.exp(fmul(x, m.c(M_LN2)));
      else if (isa<math::TruncOp>(op))
        result = m.select(m.cmp(arith::CmpFPredicate::OLT, x, m.c(0)),
                          math::CeilOp::create(b, loc, x),
                          math::FloorOp::create(b, loc, x));
      else if (isa<math::ErfcOp>(op))
        // Loses relative precision where erfc is tiny (x > ~5).
        result = fsub(one, m.erf(x));
      else if (isa<math::SinhOp>(op))
        result = fmul(m.c(0.5), fsub(m.exp(x), m.exp(m.neg(x))));
      else if (isa<math::CoshOp>(op))
        result = fmul(m.c(0.5), fadd(m.exp(x), m.exp(m.neg(x))));
      else if (isa<math::AsinhOp>(op))
        result = m.log(fadd(x, math::SqrtOp::create(b, loc, fadd(fmul(x, x), one))));
      else if (isa<math::AcoshOp>(op))
        result = m.log(fadd(x, math::SqrtOp::create(b, loc, fsub(fmul(x, x), one))));
      else if (isa<math::AtanhOp>(op))
        result = fmul(m.c(0.5), m.log(fdiv(fadd(one, x), fsub(one, x))));
      else if (isa<math::Log2Op>(op))
        result = fmul(m.log(x), m.c(1 / M_LN2));
      else if (isa<math::Log10Op>(op))
        result = fmul(m.log(x), m.c(1 / M_LN10));
      else if (isa<math::Log1pOp>(op))
        result = m.log(fadd(one, x));
      else if (isa<math::SinOp>(op))
        result = m.sinOrCos(x, /*cosine=*/false);
      else if (isa<math::CosOp>(op))
        result = m.sinOrCos(x, /*cosine=*/true);
      else if (isa<math::TanOp>(op))
        result = fdiv(m.sinOrCos(x, false), m.sinOrCos(x, true));
      else if (isa<math::AtanOp>(op))
        result = m.atan(x);
      else if (isa<math::Atan2Op>(op))
        result = m.atan2(x, wide(op->getOperand(1)));
      else if (isa<math::AsinOp>(op))
        // asin x = atan(x / sqrt(1 - x^2)): +-pi/2 at +-1, NaN past it.
        result = m.atan(fdiv(x, math::SqrtOp::create(b, loc, fsub(one, fmul(x, x)))));
      else if (isa<math::AcosOp>(op))
        // acos x = 2 atan(sqrt((1 - x) / (1 + x))), accurate near 1.
        result = fmul(m.c(2), m.atan(math::SqrtOp::create(
                                   b, loc, fdiv(fsub(one, x), fadd(one, x)))));
      else
        result = fsub(m.exp(x), one); // expm1
      if (!type.isF64())
        result = arith::TruncFOp::create(b, loc, type, result);
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }
};

} // namespace
