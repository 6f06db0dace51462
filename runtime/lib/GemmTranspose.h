//===- GemmTranspose.h - 16 x 16 float transposes for GEMM packing -*- C++ -*-===//
//
// Packing a transposed B (a linear or recurrent layer's weight, read as
// W^T) scatters each contiguous row of W down a panel column: one scalar
// load and store per element. Sixteen rows at a time, transposed in
// AVX-512 registers (unpack, then two rounds of 128-bit lane shuffles),
// it is sixteen vector loads and stores per 256 elements.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GEMMTRANSPOSE_H
#define EMBER_RUNTIME_GEMMTRANSPOSE_H

#include <cstdint>
#include <immintrin.h>

namespace ember {
namespace gemm {

/// Whether transpose16x16 may run (the CPU has AVX-512F), checked once.
inline bool haveTranspose16x16() {
  static const bool supported = [] {
    __builtin_cpu_init();
    return static_cast<bool>(__builtin_cpu_supports("avx512f"));
  }();
  return supported;
}

/// r[p] lane j = r[j] lane p for 0 <= j, p < 16 (in registers).
__attribute__((target("avx512f"))) inline void transpose16x16(__m512 (&r)[16]) {
  __m512 t[16];
  // Pairs of rows interleaved by element, then by element pair: each
  // 128-bit lane of r[i] holds a 4 x 4 block's column.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // The 4 x 4 blocks moved to their places across lanes.
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
      t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
  }
}

/// out[p * ldo + j] = in[j * ldi + p] for 0 <= j, p < 16.
__attribute__((target("avx512f"))) inline void
transpose16x16(const float *in, int64_t ldi, float *out, int64_t ldo) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i)
    r[i] = _mm512_loadu_ps(in + i * ldi);
  transpose16x16(r);
  for (int i = 0; i < 16; ++i)
    _mm512_storeu_ps(out + i * ldo, r[i]);
}

} // namespace gemm
} // namespace ember

#endif // EMBER_RUNTIME_GEMMTRANSPOSE_H
