//===- CpuAttentionTest.cpp - the runtime's blocked attention kernels -----===//
//
// ember_cpu_attention[_backward]_{f32,f64} against attention computed
// naively in double: sizes that cross the 64-row and 128-key blocks with
// remainders, L != S, causal, a mask shared by every batch item (stride 0),
// and a batch of several items. f32 runs twice: the AVX-512 kernels (where
// the CPU has them) and the portable blocked ones.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuAttention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

// Defined in CpuAttention.cpp and declared here only: a declaration in the
// runtime's public header would make every target that depends on it
// rebuild for a switch that only this test and A/B runs use.
namespace ember {
bool setFastAttention(bool enabled);
} // namespace ember

namespace {

#define DENSE3(v, B, R, C)                                                     \
  v.data(), v.data(), 0, int64_t(B), int64_t(R), int64_t(C),                   \
      int64_t((R) * (C)), int64_t(C), int64_t(1)
#define DENSE2(v, B, R)                                                        \
  v.data(), v.data(), 0, int64_t(B), int64_t(R), int64_t(R), int64_t(1)

struct Case {
  int b, l, s, e, ev;
  bool causal, mask;
};

template <typename T>
void check(const Case &c, double tol) {
  SCOPED_TRACE(::testing::Message() << "b " << c.b << " l " << c.l << " s "
                                    << c.s << " e " << c.e << " ev " << c.ev
                                    << " causal " << c.causal << " mask "
                                    << c.mask);
  std::mt19937 gen(c.l * 31 + c.s);
  std::normal_distribution<double> normal;
  auto random = [&](size_t n) {
    std::vector<T> x(n);
    for (T &v : x)
      v = static_cast<T>(normal(gen));
    return x;
  };
  int ml = c.mask ? c.l : 1, ms = c.mask ? c.s : 1;
  auto q = random(c.b * c.l * c.e), k = random(c.b * c.s * c.e),
       v = random(c.b * c.s * c.ev), mask = random(ml * ms),
       g = random(c.b * c.l * c.ev);
  std::vector<T> out(c.b * c.l * c.ev), lse(c.b * c.l), dq(q.size()),
      dk(k.size()), dv(v.size());
  double scale = 0.3;
  int64_t flags = (c.causal ? 1 : 0) | (c.mask ? 2 : 0);
  auto forward = [&] {
    if constexpr (std::is_same_v<T, float>)
      ember_cpu_attention_f32(DENSE3(q, c.b, c.l, c.e), DENSE3(k, c.b, c.s, c.e),
                              DENSE3(v, c.b, c.s, c.ev), DENSE3(mask, 1, ml, ms),
                              DENSE3(out, c.b, c.l, c.ev), DENSE2(lse, c.b, c.l),
                              scale, flags);
    else
      ember_cpu_attention_f64(DENSE3(q, c.b, c.l, c.e), DENSE3(k, c.b, c.s, c.e),
                              DENSE3(v, c.b, c.s, c.ev), DENSE3(mask, 1, ml, ms),
                              DENSE3(out, c.b, c.l, c.ev), DENSE2(lse, c.b, c.l),
                              scale, flags);
  };
  auto backward = [&] {
    if constexpr (std::is_same_v<T, float>)
      ember_cpu_attention_backward_f32(
          DENSE3(g, c.b, c.l, c.ev), DENSE3(q, c.b, c.l, c.e),
          DENSE3(k, c.b, c.s, c.e), DENSE3(v, c.b, c.s, c.ev),
          DENSE3(out, c.b, c.l, c.ev), DENSE2(lse, c.b, c.l),
          DENSE3(mask, 1, ml, ms), DENSE3(dq, c.b, c.l, c.e),
          DENSE3(dk, c.b, c.s, c.e), DENSE3(dv, c.b, c.s, c.ev), scale, flags);
    else
      ember_cpu_attention_backward_f64(
          DENSE3(g, c.b, c.l, c.ev), DENSE3(q, c.b, c.l, c.e),
          DENSE3(k, c.b, c.s, c.e), DENSE3(v, c.b, c.s, c.ev),
          DENSE3(out, c.b, c.l, c.ev), DENSE2(lse, c.b, c.l),
          DENSE3(mask, 1, ml, ms), DENSE3(dq, c.b, c.l, c.e),
          DENSE3(dk, c.b, c.s, c.e), DENSE3(dv, c.b, c.s, c.ev), scale, flags);
  };
  forward();
  backward();

  std::vector<double> wantDq(dq.size()), wantDk(dk.size()), wantDv(dv.size());
  for (int b = 0; b < c.b; ++b)
    for (int i = 0; i < c.l; ++i) {
      std::vector<double> p(c.s);
      double max = -INFINITY, sum = 0;
      for (int j = 0; j < c.s; ++j) {
        double dot = 0;
        for (int x = 0; x < c.e; ++x)
          dot += double(q[(b * c.l + i) * c.e + x]) * k[(b * c.s + j) * c.e + x];
        dot *= scale;
        if (c.mask)
          dot += mask[i * c.s + j];
        if (c.causal && j > i)
          dot = -INFINITY;
        p[j] = dot;
        max = std::max(max, dot);
      }
      for (int j = 0; j < c.s; ++j)
        sum += p[j] = std::exp(p[j] - max);
      EXPECT_NEAR(lse[b * c.l + i], max + std::log(sum), tol);
      std::vector<double> o(c.ev, 0.0);
      for (int x = 0; x < c.ev; ++x) {
        for (int j = 0; j < c.s; ++j)
          o[x] += p[j] / sum * v[(b * c.s + j) * c.ev + x];
        EXPECT_NEAR(out[(b * c.l + i) * c.ev + x], o[x], tol);
      }
      double rowDot = 0;
      for (int x = 0; x < c.ev; ++x)
        rowDot += g[(b * c.l + i) * c.ev + x] * o[x];
      for (int j = 0; j < c.s; ++j) {
        double w = p[j] / sum, dp = 0;
        for (int x = 0; x < c.ev; ++x) {
          dp += double(g[(b * c.l + i) * c.ev + x]) * v[(b * c.s + j) * c.ev + x];
          wantDv[(b * c.s + j) * c.ev + x] += w * g[(b * c.l + i) * c.ev + x];
        }
        double ds = w * (dp - rowDot) * scale;
        for (int x = 0; x < c.e; ++x) {
          wantDq[(b * c.l + i) * c.e + x] += ds * k[(b * c.s + j) * c.e + x];
          wantDk[(b * c.s + j) * c.e + x] += ds * q[(b * c.l + i) * c.e + x];
        }
      }
    }
  for (size_t i = 0; i < dq.size(); ++i)
    EXPECT_NEAR(dq[i], wantDq[i], tol) << "dq " << i;
  for (size_t i = 0; i < dk.size(); ++i)
    EXPECT_NEAR(dk[i], wantDk[i], tol) << "dk " << i;
  for (size_t i = 0; i < dv.size(); ++i)
    EXPECT_NEAR(dv[i], wantDv[i], tol) << "dv " << i;
}

const Case kCases[] = {
    {1, 1, 1, 1, 1, false, false},   {3, 130, 200, 33, 17, false, false},
    {2, 130, 200, 33, 17, true, false}, {2, 70, 300, 16, 24, false, true},
    {1, 300, 300, 8, 8, true, false},   {2, 97, 131, 64, 64, true, true},
    {1, 50, 70, 80, 96, false, false},  {5, 3, 2, 16, 16, true, false},
};

TEST(CpuAttention, F32MatchesNaiveDouble) {
  for (const Case &c : kCases)
    check<float>(c, 2e-5);
}

TEST(CpuAttention, F32PortableKernelsMatchNaiveDouble) {
  bool previous = ember::setFastAttention(false);
  for (const Case &c : kCases)
    check<float>(c, 2e-5);
  ember::setFastAttention(previous);
}

TEST(CpuAttention, F64MatchesNaiveDouble) {
  for (const Case &c : kCases)
    check<double>(c, 1e-10);
}

/// ember_cpu_attention_heads_f32 on q, k, v read in place from a packed
/// [B, L, 3, H, E] projection and out written as [B, L, H, E]: the same
/// results as the flattened entry on dense [B * H, L, E] copies.
void checkHeads(bool causal) {
  SCOPED_TRACE(::testing::Message() << "causal " << causal);
  const int64_t b = 2, h = 3, l = 70, e = 24;
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  std::vector<float> y(b * l * 3 * h * e);
  for (float &v : y)
    v = normal(gen);
  // Dense copies, item (bi * h + hi).
  std::vector<float> dense[3];
  for (int which = 0; which < 3; ++which) {
    dense[which].resize(b * h * l * e);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t hi = 0; hi < h; ++hi)
        for (int64_t i = 0; i < l; ++i)
          for (int64_t x = 0; x < e; ++x)
            dense[which][((bi * h + hi) * l + i) * e + x] =
                y[(((bi * l + i) * 3 + which) * h + hi) * e + x];
  }
  std::vector<float> want(b * h * l * e), wantLse(b * h * l), got(b * l * h * e),
      gotLse(b * h * l), mask(1);
  int64_t flags = causal ? 1 : 0;
  ember_cpu_attention_f32(DENSE3(dense[0], b * h, l, e), DENSE3(dense[1], b * h, l, e),
                          DENSE3(dense[2], b * h, l, e), DENSE3(mask, 1, 1, 1),
                          DENSE3(want, b * h, l, e), DENSE2(wantLse, b * h, l), 0.2,
                          flags);
#define PACKED(which)                                                          \
  y.data(), y.data(), int64_t(which) * h * e, b, h, l, e, l * 3 * h * e, e,    \
      3 * h * e, int64_t(1)
  ember_cpu_attention_heads_f32(PACKED(0), PACKED(1), PACKED(2), DENSE3(mask, 1, 1, 1),
                                got.data(), got.data(), 0, b, h, l, e, l * h * e, e,
                                h * e, 1, DENSE2(gotLse, b * h, l), 0.2, flags);
#undef PACKED
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t i = 0; i < l; ++i) {
        EXPECT_NEAR(gotLse[(bi * h + hi) * l + i], wantLse[(bi * h + hi) * l + i], 1e-6);
        for (int64_t x = 0; x < e; ++x)
          EXPECT_NEAR(got[((bi * l + i) * h + hi) * e + x],
                      want[((bi * h + hi) * l + i) * e + x], 1e-6)
              << bi << " " << hi << " " << i << " " << x;
      }
}

TEST(CpuAttention, HeadsEntryReadsPackedProjectionInPlace) {
  checkHeads(false);
  checkHeads(true);
  bool previous = ember::setFastAttention(false);
  checkHeads(false);
  ember::setFastAttention(previous);
}

} // namespace
