//===- EmberGemm.cpp - blocking, packing and threads of Ember's GEMM ------===//
//
// The five loops around the micro-kernel, as BLIS orders them: columns of C
// in nc blocks; k in kc blocks (B's kc x nc block packed once, reused by
// every row block); rows in mc blocks (A's mc x kc block packed, kept in L2);
// then nr-column and mr-row tiles. Packing zero-pads partial panels, so the
// micro-kernel always computes whole tiles and only its stores know about
// edges: nothing reads past a matrix. Packing reads any strides, which is
// how transposed operands and leading dimensions come in at no extra cost.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/EmberGemm.h"

#include "GemmEpilogueKernels.h"
#include "GemmMicroKernels.h"
#include "GemmPacking.h"
#include "GemmTranspose.h"
#include "ScratchBuffer.h"
#include "ember/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ember {
namespace gemm {
namespace {

const MicroKernelInfo *detectKernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return &avx512Kernel();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return &avx2Kernel();
  return &portableKernel();
}

const MicroKernelInfo &detectedKernel() {
  static const MicroKernelInfo *detected = detectKernel();
  return *detected;
}

std::atomic<const MicroKernelInfo *> forcedKernel{nullptr};

const MicroKernelInfo &activeKernel() {
  const MicroKernelInfo *forced = forcedKernel.load(std::memory_order_relaxed);
  return forced ? *forced : detectedKernel();
}

/// The activations compiled for the ISA `kernel` runs on.
ActivationFn activationOf(const MicroKernelInfo &kernel) {
  if (&kernel == &avx512Kernel())
    return activationFor(IsaLevel::Avx512);
  if (&kernel == &avx2Kernel())
    return activationFor(IsaLevel::Avx2);
  return activationFor(IsaLevel::Portable);
}

/// Per-thread packing buffers, reused call after call (ScratchBuffer.h).
thread_local ScratchBuffer packedA, packedB;
/// The calling thread's buffer for an operand packed in full and shared by
/// the threads of one call.
thread_local ScratchBuffer sharedPack;

/// Packs the kc x nc block of B at `b` into panels of `nr` columns:
/// panel q holds Bp[q][p * nr + j] = B[p, q * nr + j], zero past nc.
void packB(const float *b, int64_t rsb, int64_t csb, int64_t kc, int64_t nc,
           int nr, float *out) {
  for (int64_t j0 = 0; j0 < nc; j0 += nr, out += kc * nr) {
    int width = static_cast<int>(std::min<int64_t>(nr, nc - j0));
    const float *panel = b + j0 * csb;
    if (csb == 1) {
      for (int64_t p = 0; p < kc; ++p) {
        std::memcpy(out + p * nr, panel + p * rsb, width * sizeof(float));
        std::fill(out + p * nr + width, out + p * nr + nr, 0.0f);
      }
      continue;
    }
    // A transposed B (a linear layer's weight): whole 16 x 16 blocks of a
    // contiguous W transposed in AVX-512 registers; on a CPU with AVX2 but
    // not AVX-512, 8 x 8 blocks; the rest in blocks of 16 steps of k, so
    // that both the rows read and the panel rows written stay in L1.
    if (rsb == 1 && !haveTranspose16x16() && transposedPackingAvailable()) {
      packTransposed(panel, csb, kc, width, nr, out);
      if (width < nr)
        for (int64_t p = 0; p < kc; ++p)
          std::fill(out + p * nr + width, out + p * nr + nr, 0.0f);
      continue;
    }
    int vectorWidth = rsb == 1 && haveTranspose16x16() ? width / 16 * 16 : 0;
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
      int64_t p1 = std::min<int64_t>(kc, p0 + 16);
      int j = 0;
      if (p1 - p0 == 16)
        for (; j < vectorWidth; j += 16)
          transpose16x16(panel + j * csb + p0, csb, out + p0 * nr + j, nr);
      for (; j < width; ++j)
        for (int64_t p = p0; p < p1; ++p)
          out[p * nr + j] = panel[p * rsb + j * csb];
    }
    for (int64_t p = 0; p < kc; ++p)
      std::fill(out + p * nr + width, out + p * nr + nr, 0.0f);
  }
}

/// One whole panel of a row-major A (unit column stride) with MR known at
/// compile time: MR sequential row streams, each step of p one contiguous
/// MR-value store.
template <int MR>
void packRowMajorPanel(const float *panel, int64_t rsa, int64_t kc,
                       float *out) {
  const float *rows[MR];
  for (int i = 0; i < MR; ++i)
    rows[i] = panel + i * rsa;
  for (int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      out[p * MR + i] = rows[i][p];
}

/// One whole panel of a column-major A (unit row stride: the transposed
/// activations of a weight gradient): each step of p copies MR contiguous
/// values, a fixed-size copy the compiler inlines instead of a memcpy call
/// per step.
template <int MR>
void packColumnMajorPanel(const float *panel, int64_t csa, int64_t kc,
                          float *out) {
  for (int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      out[p * MR + i] = panel[p * csa + i];
}

using PanelPacker = void (*)(const float *, int64_t, int64_t, float *);

PanelPacker rowMajorPanelPacker(int mr) {
  switch (mr) {
  case 4:
    return packRowMajorPanel<4>;
  case 6:
    return packRowMajorPanel<6>;
  case 14:
    return packRowMajorPanel<14>;
  default:
    return nullptr;
  }
}

PanelPacker columnMajorPanelPacker(int mr) {
  switch (mr) {
  case 4:
    return packColumnMajorPanel<4>;
  case 6:
    return packColumnMajorPanel<6>;
  case 14:
    return packColumnMajorPanel<14>;
  default:
    return nullptr;
  }
}

/// Packs the mc x kc block of A at `a` into panels of `mr` rows:
/// panel q holds Ap[q][p * mr + i] = A[q * mr + i, p], zero past mc.
void packA(const float *a, int64_t rsa, int64_t csa, int64_t mc, int64_t kc,
           int mr, float *out) {
  PanelPacker fixed = csa == 1   ? rowMajorPanelPacker(mr)
                      : rsa == 1 ? columnMajorPanelPacker(mr)
                                 : nullptr;
  for (int64_t i0 = 0; i0 < mc; i0 += mr, out += kc * mr) {
    int height = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    const float *panel = a + i0 * rsa;
    if (fixed && height == mr) {
      fixed(panel, csa == 1 ? rsa : csa, kc, out);
      continue;
    }
    if (rsa == 1) {
      for (int64_t p = 0; p < kc; ++p) {
        std::memcpy(out + p * mr, panel + p * csa, height * sizeof(float));
        std::fill(out + p * mr + height, out + p * mr + mr, 0.0f);
      }
      continue;
    }
    for (int i = 0; i < height; ++i)
      for (int64_t p = 0; p < kc; ++p)
        out[p * mr + i] = panel[i * rsa + p * csa];
    for (int64_t p = 0; p < kc; ++p)
      std::fill(out + p * mr + height, out + p * mr + mr, 0.0f);
  }
}

/// C = beta * C (beta == 0 writes zeros without reading): what is left of
/// the product when k or alpha is zero.
void scaleC(int64_t m, int64_t n, float beta, StridedMatrix c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float &out = c.data[i * c.rowStride + j * c.colStride];
      out = beta == 0.0f ? 0.0f : beta * out;
    }
}

/// An operand packed in full before the threads start, shared by all of
/// them: for the k block starting at pc, the panels of the tile-aligned
/// block starting at x0 (rows of A, columns of B) begin at
/// data + pc * padded + x0 * kc, `padded` being the operand's rows (A) or
/// columns (B) rounded up to whole tiles.
struct Prepacked {
  const float *data = nullptr;
  int64_t padded = 0;
  /// Where the caller's block starts in the packed operand (rows of A or
  /// columns of B, a whole number of tiles): a thread given columns
  /// [offset, ...) of a B packed in full reads its x0 at x0 + offset.
  int64_t offset = 0;
  const float *block(int64_t pc, int64_t x0, int64_t kc) const {
    return data + pc * padded + (x0 + offset) * kc;
  }
};

/// One thread's GEMM on its block of C; an operand given as `Prepacked`
/// is read from there instead of packed here. A non-null `epilogue`
/// (positioned at this block's first element) finishes each tile right
/// after the tile's last k block, while it is in L1.
void gemmOnThisThread(const MicroKernelInfo &kernel, int64_t m, int64_t n,
                      int64_t k, float alpha, StridedMatrix a, StridedMatrix b,
                      float beta, StridedMatrix c, Prepacked sharedA = {},
                      Prepacked sharedB = {},
                      const ember_gemm_epilogue *epilogue = nullptr) {
  if (m <= 0 || n <= 0)
    return;
  ActivationFn activation = epilogue ? activationOf(kernel) : nullptr;
  if (k <= 0 || alpha == 0.0f) {
    scaleC(m, n, beta, c);
    if (epilogue)
      applyEpilogueBlock(activation, m, n, c.data, c.rowStride, c.colStride,
                         *epilogue);
    return;
  }
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t ncMax = std::min<int64_t>(kernel.nc, (n + nr - 1) / nr * nr);
  // Rows in whole tiles; a block of A a little over mc stays one block: a
  // short last block (197 rows: 192 + 5) would stream every B panel again
  // for a few rows, memory-bound, costing as much as the first block.
  const int64_t mRounded = (m + mr - 1) / mr * mr;
  const int64_t mcMax =
      mRounded <= kernel.mc + kernel.mc / 4 ? mRounded : kernel.mc;
  float *bOwn = sharedB.data ? nullptr
                             : packedB.get(static_cast<size_t>(kcMax * ncMax));
  float *aOwn = sharedA.data ? nullptr
                             : packedA.get(static_cast<size_t>(kcMax * mcMax));
  for (int64_t jc = 0; jc < n; jc += ncMax) {
    int64_t nc = std::min(ncMax, n - jc);
    for (int64_t pc = 0; pc < k; pc += kcMax) {
      int64_t kc = std::min(kcMax, k - pc);
      // Later k blocks accumulate onto what the first one wrote.
      float blockBeta = pc == 0 ? beta : 1.0f;
      bool lastK = pc + kc == k;
      const float *bp = bOwn;
      if (sharedB.data)
        bp = sharedB.block(pc, jc, kc);
      else
        packB(b.data + pc * b.rowStride + jc * b.colStride, b.rowStride,
              b.colStride, kc, nc, nr, bOwn);
      for (int64_t ic = 0; ic < m; ic += mcMax) {
        int64_t mc = std::min(mcMax, m - ic);
        const float *ap = aOwn;
        if (sharedA.data)
          ap = sharedA.block(pc, ic, kc);
        else
          packA(a.data + ic * a.rowStride + pc * a.colStride, a.rowStride,
                a.colStride, mc, kc, mr, aOwn);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          int width = static_cast<int>(std::min<int64_t>(nr, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += mr) {
            int height = static_cast<int>(std::min<int64_t>(mr, mc - ir));
            float *tile = c.data + (ic + ir) * c.rowStride +
                          (jc + jr) * c.colStride;
            kernel.kernel(kc, ap + ir * kc, bp + jr * kc, tile, c.rowStride,
                          c.colStride, height, width, alpha, blockBeta);
            if (epilogue && lastK)
              applyEpilogueBlock(
                  activation, height, width, tile, c.rowStride, c.colStride,
                  shiftEpilogue(*epilogue, ic + ir, jc + jr));
          }
        }
      }
    }
  }
}

/// Runs task(0) ... task(tasks - 1) on the runtime's thread pool (inline
/// when the pool is busy or the call is nested). The one place that knows
/// how Ember's GEMM gets threads.
template <typename Task>
void runTasks(int tasks, const Task &task) {
  if (tasks <= 1) {
    task(0);
    return;
  }
  ember::parallelFor(0, tasks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t)
      task(static_cast<int>(t));
  });
}

/// Below this many multiply-adds a product stays on one thread: starting
/// threads would cost more than they save.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 21;

int threadsFor(int64_t m, int64_t n, int64_t k, int threads) {
  int64_t work = m * n * std::max<int64_t>(k, 1);
  int64_t useful = std::max<int64_t>(1, work / kMinWorkPerThread);
  return static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>({threads, useful, 1024})));
}

} // namespace

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, StridedMatrix a,
           StridedMatrix b, float beta, StridedMatrix c, int threads,
           const ember_gemm_epilogue *epilogue) {
  const MicroKernelInfo &kernel = activeKernel();
  ember_gemm_epilogue finish{};
  if (!epilogueDoesNothing(epilogue))
    finish = *epilogue;
  else
    epilogue = nullptr;
  // A C narrower than one tile (a linear layer with few outputs) would be
  // mostly padding; its transpose, C^T = B^T A^T, is not.
  if (n < kernel.nr && m > n) {
    std::swap(a, b);
    std::swap(a.rowStride, a.colStride);
    std::swap(b.rowStride, b.colStride);
    std::swap(c.rowStride, c.colStride);
    std::swap(m, n);
    finish = transposeEpilogue(finish);
  }
  const ember_gemm_epilogue *whole = epilogue ? &finish : nullptr;
  int tasks = threadsFor(m, n, k, threads);
  // Split C along its longer side into blocks of whole tiles. Every block
  // needs all of the other operand (B for row blocks, A for column
  // blocks): it is packed once, the threads sharing the work, instead of
  // by each thread.
  bool splitRows = m >= n;
  int64_t extent = splitRows ? m : n;
  int64_t tile = splitRows ? kernel.mr : kernel.nr;
  int64_t tiles = (extent + tile - 1) / tile;
  tasks = static_cast<int>(std::min<int64_t>(tasks, tiles));
  if (tasks <= 1 || k <= 0 || alpha == 0.0f) {
    gemmOnThisThread(kernel, m, n, k, alpha, a, b, beta, c, {}, {}, whole);
    return;
  }
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  int64_t otherTile = splitRows ? kernel.nr : kernel.mr;
  int64_t otherExtent = splitRows ? n : m;
  int64_t otherPanels = (otherExtent + otherTile - 1) / otherTile;
  Prepacked shared;
  shared.padded = otherPanels * otherTile;
  float *sharedData = sharedPack.get(static_cast<size_t>(shared.padded * k));
  shared.data = sharedData;
  ember::parallelFor(0, otherPanels, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q) {
      int64_t x0 = q * otherTile;
      int64_t width = std::min(otherTile, otherExtent - x0);
      for (int64_t pc = 0; pc < k; pc += kcMax) {
        int64_t kc = std::min(kcMax, k - pc);
        float *out = sharedData + pc * shared.padded + x0 * kc;
        if (splitRows)
          packB(b.data + pc * b.rowStride + x0 * b.colStride, b.rowStride,
                b.colStride, kc, width, kernel.nr, out);
        else
          packA(a.data + x0 * a.rowStride + pc * a.colStride, a.rowStride,
                a.colStride, width, kc, kernel.mr, out);
      }
    }
  });
  runTasks(tasks, [&](int t) {
    int64_t lo = tiles * t / tasks * tile;
    int64_t hi = std::min(extent, tiles * (t + 1) / tasks * tile);
    ember_gemm_epilogue block{};
    if (whole)
      block = splitRows ? shiftEpilogue(finish, lo, 0)
                        : shiftEpilogue(finish, 0, lo);
    const ember_gemm_epilogue *blockEpilogue = whole ? &block : nullptr;
    if (splitRows)
      gemmOnThisThread(kernel, hi - lo, n, k, alpha,
                       {a.data + lo * a.rowStride, a.rowStride, a.colStride},
                       b, beta,
                       {c.data + lo * c.rowStride, c.rowStride, c.colStride},
                       {}, shared, blockEpilogue);
    else
      gemmOnThisThread(kernel, m, hi - lo, k, alpha, a,
                       {b.data + lo * b.colStride, b.rowStride, b.colStride},
                       beta,
                       {c.data + lo * c.colStride, c.rowStride, c.colStride},
                       shared, {}, blockEpilogue);
  });
}

void sgemmBatched(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                  StridedMatrix a, int64_t aBatchStride, StridedMatrix b,
                  int64_t bBatchStride, float beta, StridedMatrix c,
                  int64_t cBatchStride, int threads,
                  const ember_gemm_epilogue *epilogue) {
  auto item = [&](int64_t i, int itemThreads) {
    ember_gemm_epilogue itemEpilogue{};
    if (epilogue) {
      itemEpilogue = *epilogue;
      if (itemEpilogue.bias)
        itemEpilogue.bias += i * itemEpilogue.biasBatchStride;
      if (itemEpilogue.residual)
        itemEpilogue.residual += i * itemEpilogue.residualBatchStride;
    }
    sgemm(m, n, k, alpha,
          {a.data + i * aBatchStride, a.rowStride, a.colStride},
          {b.data + i * bBatchStride, b.rowStride, b.colStride}, beta,
          {c.data + i * cBatchStride, c.rowStride, c.colStride}, itemThreads,
          epilogue ? &itemEpilogue : nullptr);
  };
  int tasks = static_cast<int>(std::min<int64_t>(
      batch, threadsFor(batch * m, n, k, threads)));
  if (tasks <= 1 || batch < tasks) {
    for (int64_t i = 0; i < batch; ++i)
      item(i, threads);
    return;
  }
  // Whole items per thread: no item is split, so no packing is repeated.
  runTasks(tasks, [&](int t) {
    for (int64_t i = batch * t / tasks; i < batch * (t + 1) / tasks; ++i)
      item(i, 1);
  });
}

//===----------------------------------------------------------------------===//
// B packed once, for products in a loop that all read the same B (a
// recurrent layer's weight, read by every time step).
//===----------------------------------------------------------------------===//

/// What a packed B holds, written before its panels: which kernel's tile
/// and blocking it was packed for, and for which shape. A kernel forced in
/// between (tests) or another shape makes the product pack B itself.
struct PackedB {
  const MicroKernelInfo *kernel;
  int64_t k, n, padded;
  float *panels;
};

PackedB *packBOnce(int64_t k, int64_t n, StridedMatrix b) {
  const MicroKernelInfo &kernel = activeKernel();
  if (k <= 0 || n <= 0)
    return nullptr;
  int64_t padded = (n + kernel.nr - 1) / kernel.nr * kernel.nr;
  auto *packed = new PackedB{&kernel, k, n, padded, nullptr};
  size_t bytes = (static_cast<size_t>(padded * k) * sizeof(float) + 63) / 64 * 64;
  packed->panels = static_cast<float *>(std::aligned_alloc(64, bytes));
  if (!packed->panels) {
    delete packed;
    return nullptr;
  }
  // The layout Prepacked::block reads: for each k block, the nr-column
  // panels side by side; the threads share the panels.
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t panels = padded / kernel.nr;
  float *data = packed->panels;
  ember::parallelFor(0, panels, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q) {
      int64_t x0 = q * kernel.nr;
      int64_t width = std::min<int64_t>(kernel.nr, n - x0);
      for (int64_t pc = 0; pc < k; pc += kcMax) {
        int64_t kc = std::min(kcMax, k - pc);
        packB(b.data + pc * b.rowStride + x0 * b.colStride, b.rowStride,
              b.colStride, kc, width, kernel.nr,
              data + pc * padded + x0 * kc);
      }
    }
  });
  return packed;
}

void releasePackedB(PackedB *packed) {
  if (!packed)
    return;
  std::free(packed->panels);
  delete packed;
}

void sgemmPackedB(int64_t m, int64_t n, int64_t k, float alpha,
                  StridedMatrix a, StridedMatrix b, const PackedB *packed,
                  float beta, StridedMatrix c, int threads,
                  const ember_gemm_epilogue *epilogue) {
  const MicroKernelInfo &kernel = activeKernel();
  if (!packed || packed->kernel != &kernel || packed->k != k ||
      packed->n != n || m <= 0 || k <= 0 || alpha == 0.0f) {
    sgemm(m, n, k, alpha, a, b, beta, c, threads, epilogue);
    return;
  }
  ember_gemm_epilogue finish{};
  if (!epilogueDoesNothing(epilogue))
    finish = *epilogue;
  const bool fused = !epilogueDoesNothing(epilogue);
  Prepacked sharedB{packed->panels, packed->padded, 0};
  int tasks = threadsFor(m, n, k, threads);
  // Many rows (a batch of tokens): threads take blocks of whole row tiles,
  // each packing only its own rows of A and reading all of the shared B.
  int64_t rowTiles = (m + kernel.mr - 1) / kernel.mr;
  if (m >= n && rowTiles >= 2 * tasks) {
    runTasks(tasks, [&](int t) {
      int64_t lo = rowTiles * t / tasks * kernel.mr;
      int64_t hi = std::min(m, rowTiles * (t + 1) / tasks * kernel.mr);
      if (lo >= hi)
        return;
      ember_gemm_epilogue block = fused ? shiftEpilogue(finish, lo, 0) : finish;
      gemmOnThisThread(kernel, hi - lo, n, k, alpha,
                       {a.data + lo * a.rowStride, a.rowStride, a.colStride},
                       {nullptr, 0, 0}, beta,
                       {c.data + lo * c.rowStride, c.rowStride, c.colStride},
                       {}, sharedB, fused ? &block : nullptr);
    });
    return;
  }
  // Few rows: threads take whole column panels, reading the shared panels
  // of B and of A, packed once here (not by every thread).
  int64_t tiles = packed->padded / kernel.nr;
  tasks = static_cast<int>(std::min<int64_t>(tasks, tiles));
  Prepacked sharedA;
  if (tasks > 1) {
    const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
    sharedA.padded = rowTiles * kernel.mr;
    float *data = sharedPack.get(static_cast<size_t>(sharedA.padded * k));
    sharedA.data = data;
    ember::parallelFor(0, rowTiles, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t q = lo; q < hi; ++q) {
        int64_t x0 = q * kernel.mr;
        int64_t height = std::min<int64_t>(kernel.mr, m - x0);
        for (int64_t pc = 0; pc < k; pc += kcMax) {
          int64_t kc = std::min(kcMax, k - pc);
          packA(a.data + x0 * a.rowStride + pc * a.colStride, a.rowStride,
                a.colStride, height, kc, kernel.mr,
                data + pc * sharedA.padded + x0 * kc);
        }
      }
    });
  }
  runTasks(tasks, [&](int t) {
    int64_t lo = tiles * t / tasks * kernel.nr;
    int64_t hi = std::min(n, tiles * (t + 1) / tasks * kernel.nr);
    if (lo >= hi)
      return;
    ember_gemm_epilogue block = fused ? shiftEpilogue(finish, 0, lo) : finish;
    Prepacked mine = sharedB;
    mine.offset = lo;
    gemmOnThisThread(kernel, m, hi - lo, k, alpha, a, {nullptr, 0, 0}, beta,
                     {c.data + lo * c.colStride, c.rowStride, c.colStride},
                     sharedA, mine, fused ? &block : nullptr);
  });
}

bool forceKernel(Kernel kernel) {
  const MicroKernelInfo *chosen = nullptr;
  switch (kernel) {
  case Kernel::Detect:
    break;
  case Kernel::Avx512:
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
      return false;
    chosen = &avx512Kernel();
    break;
  case Kernel::Avx2:
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
      return false;
    chosen = &avx2Kernel();
    break;
  case Kernel::Portable:
    chosen = &portableKernel();
    break;
  }
  forcedKernel.store(chosen, std::memory_order_relaxed);
  return true;
}

const char *kernelName() { return activeKernel().name; }

void applyEpilogue(int64_t m, int64_t n, StridedMatrix c,
                   const ember_gemm_epilogue &epilogue) {
  if (m <= 0 || n <= 0 || epilogueDoesNothing(&epilogue))
    return;
  applyEpilogueBlock(activationOf(activeKernel()), m, n, c.data, c.rowStride,
                     c.colStride, epilogue);
}

} // namespace gemm
} // namespace ember
