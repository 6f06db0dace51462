//===- GemmPacking.cpp - vectorized packing of transposed GEMM operands ---===//
//
// The 8 x 8 transpose is the usual three rounds of AVX shuffles (unpack
// 32-bit pairs, shuffle 64-bit pairs, swap 128-bit halves): 24 shuffles,
// 8 loads and 8 stores per 64 values, against 64 scalar loads and stores
// whose loads are `stride` apart. Edges past whole 8 x 8 blocks are copied
// one value at a time.
//
//===----------------------------------------------------------------------===//

#include "GemmPacking.h"

#include <immintrin.h>

namespace ember {
namespace gemm {
namespace {

#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma")))

/// Transposes the 8 x 8 block at src (rows `stride` apart) into out (rows
/// `ld` apart).
EMBER_TARGET_AVX2 inline void transpose8x8(const float *src, int64_t stride,
                                           float *out, int64_t ld) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * stride);
  __m256 r1 = _mm256_loadu_ps(src + 1 * stride);
  __m256 r2 = _mm256_loadu_ps(src + 2 * stride);
  __m256 r3 = _mm256_loadu_ps(src + 3 * stride);
  __m256 r4 = _mm256_loadu_ps(src + 4 * stride);
  __m256 r5 = _mm256_loadu_ps(src + 5 * stride);
  __m256 r6 = _mm256_loadu_ps(src + 6 * stride);
  __m256 r7 = _mm256_loadu_ps(src + 7 * stride);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(out + 0 * ld, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(out + 1 * ld, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(out + 2 * ld, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(out + 3 * ld, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(out + 4 * ld, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(out + 5 * ld, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(out + 6 * ld, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(out + 7 * ld, _mm256_permute2f128_ps(s3, s7, 0x31));
}

EMBER_TARGET_AVX2 void packTransposedAvx2(const float *src, int64_t stride,
                                          int64_t rows, int64_t cols,
                                          int64_t ld, float *out) {
  const int64_t fullRows = rows / 8 * 8, fullCols = cols / 8 * 8;
  // Column blocks outside, so the eight source rows being read stay in L1
  // while p walks along them.
  for (int64_t j = 0; j < fullCols; j += 8) {
    for (int64_t p = 0; p < fullRows; p += 8)
      transpose8x8(src + j * stride + p, stride, out + p * ld + j, ld);
    for (int64_t p = fullRows; p < rows; ++p)
      for (int64_t jj = j; jj < j + 8; ++jj)
        out[p * ld + jj] = src[jj * stride + p];
  }
  for (int64_t j = fullCols; j < cols; ++j)
    for (int64_t p = 0; p < rows; ++p)
      out[p * ld + j] = src[j * stride + p];
}

} // namespace

bool transposedPackingAvailable() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return available;
}

void packTransposed(const float *src, int64_t stride, int64_t rows,
                    int64_t cols, int64_t ld, float *out) {
  packTransposedAvx2(src, stride, rows, cols, ld, out);
}

} // namespace gemm
} // namespace ember
