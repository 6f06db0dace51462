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

/// One whole panel of `W` lanes whose steps of k are contiguous (a
/// row-major A, a transposed B with few lanes) with W known at compile
/// time: W sequential streams, each step of p one contiguous W-value store.
template <int W>
void packStepContiguousPanel(const float *panel, int64_t laneStride,
                             int64_t kc, float *out) {
  const float *lanes[W];
  for (int x = 0; x < W; ++x)
    lanes[x] = panel + x * laneStride;
  for (int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 16
    for (int x = 0; x < W; ++x)
      out[p * W + x] = lanes[x][p];
}

/// One whole panel of `W` contiguous lanes (a column-major A: the
/// transposed activations of a weight gradient): each step of p copies W
/// contiguous values, a fixed-size copy the compiler inlines instead of a
/// memcpy call per step.
template <int W>
void packLaneContiguousPanel(const float *panel, int64_t stepStride,
                             int64_t kc, float *out) {
  for (int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 16
    for (int x = 0; x < W; ++x)
      out[p * W + x] = panel[p * stepStride + x];
}

using PanelPacker = void (*)(const float *, int64_t, int64_t, float *);

/// The fixed-width packer of a whole panel for the narrow panels (A's
/// tile heights); null for other widths (B's 16 to 64 columns copy rows
/// with memcpy or transpose blocks in registers instead).
PanelPacker fixedPanelPacker(bool lanesContiguous, int width) {
  switch (width) {
  case 4:
    return lanesContiguous ? packLaneContiguousPanel<4>
                           : packStepContiguousPanel<4>;
  case 6:
    return lanesContiguous ? packLaneContiguousPanel<6>
                           : packStepContiguousPanel<6>;
  case 14:
    return lanesContiguous ? packLaneContiguousPanel<14>
                           : packStepContiguousPanel<14>;
  default:
    return nullptr;
  }
}

/// Packs a block of an operand into panels of `w` lanes for the
/// micro-kernel: with M(x, p) = src[x * laneStride + p * stepStride],
/// panel q holds out[q * kc * w + p * w + x] = M(q * w + x, p) for p < kc,
/// zero past `extent` lanes. A's mc x kc block is M with its rows as lanes,
/// B's kc x nc block with its columns as lanes: one packer serves both
/// (packA, packB), whichever of the two strides is the unit one.
void packPanels(const float *src, int64_t laneStride, int64_t stepStride,
                int64_t extent, int64_t kc, int w, float *out) {
  PanelPacker fixed = laneStride == 1   ? fixedPanelPacker(true, w)
                      : stepStride == 1 ? fixedPanelPacker(false, w)
                                        : nullptr;
  for (int64_t x0 = 0; x0 < extent; x0 += w, out += kc * w) {
    int width = static_cast<int>(std::min<int64_t>(w, extent - x0));
    const float *panel = src + x0 * laneStride;
    if (fixed && width == w) {
      fixed(panel, laneStride == 1 ? stepStride : laneStride, kc, out);
      continue;
    }
    if (laneStride == 1) {
      for (int64_t p = 0; p < kc; ++p) {
        std::memcpy(out + p * w, panel + p * stepStride,
                    width * sizeof(float));
        std::fill(out + p * w + width, out + p * w + w, 0.0f);
      }
      continue;
    }
    // Steps of k contiguous, lanes far apart (a linear layer's weight read
    // as B = W^T): whole 16 x 16 blocks transposed in AVX-512 registers; on
    // a CPU with AVX2 but not AVX-512, 8 x 8 blocks; the rest in blocks of
    // 16 steps of k, so that both the lanes read and the panel rows
    // written stay in L1.
    if (stepStride == 1 && !haveTranspose16x16() &&
        transposedPackingAvailable()) {
      packTransposed(panel, laneStride, kc, width, w, out);
    } else {
      int vectorWidth =
          stepStride == 1 && haveTranspose16x16() ? width / 16 * 16 : 0;
      for (int64_t p0 = 0; p0 < kc; p0 += 16) {
        int64_t p1 = std::min<int64_t>(kc, p0 + 16);
        int x = 0;
        if (p1 - p0 == 16)
          for (; x < vectorWidth; x += 16)
            transpose16x16(panel + x * laneStride + p0, laneStride,
                           out + p0 * w + x, w);
        for (; x < width; ++x)
          for (int64_t p = p0; p < p1; ++p)
            out[p * w + x] = panel[p * stepStride + x * laneStride];
      }
    }
    if (width < w)
      for (int64_t p = 0; p < kc; ++p)
        std::fill(out + p * w + width, out + p * w + w, 0.0f);
  }
}

/// Packs the kc x nc block of B at `b` into panels of `nr` columns:
/// panel q holds Bp[q][p * nr + j] = B[p, q * nr + j], zero past nc.
void packB(const float *b, int64_t rsb, int64_t csb, int64_t kc, int64_t nc,
           int nr, float *out) {
  packPanels(b, csb, rsb, nc, kc, nr, out);
}

/// Packs the mc x kc block of A at `a` into panels of `mr` rows:
/// panel q holds Ap[q][p * mr + i] = A[q * mr + i, p], zero past mc.
void packA(const float *a, int64_t rsa, int64_t csa, int64_t mc, int64_t kc,
           int mr, float *out) {
  packPanels(a, rsa, csa, mc, kc, mr, out);
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

/// Packs all of an operand in Prepacked's layout, the threads sharing the
/// panels: packPanels' M(x, p) = src[x * laneStride + p * stepStride] for
/// x < extent lanes and p < k, in panels of `w` lanes for each k block of
/// at most `kcMax` steps, `padded` (extent rounded up to whole panels)
/// lanes a k block. B's lanes are its columns, A's its rows.
void packShared(const float *src, int64_t laneStride, int64_t stepStride,
                int64_t extent, int64_t k, int64_t kcMax, int w,
                int64_t padded, float *out) {
  ember::parallelFor(0, padded / w, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q) {
      int64_t x0 = q * w;
      int64_t width = std::min<int64_t>(w, extent - x0);
      for (int64_t pc = 0; pc < k; pc += kcMax) {
        int64_t kc = std::min(kcMax, k - pc);
        packPanels(src + x0 * laneStride + pc * stepStride, laneStride,
                   stepStride, width, kc, w, out + pc * padded + x0 * kc);
      }
    }
  });
}

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
  int otherTile = splitRows ? kernel.nr : kernel.mr;
  int64_t otherExtent = splitRows ? n : m;
  int64_t otherPanels = (otherExtent + otherTile - 1) / otherTile;
  Prepacked shared;
  shared.padded = otherPanels * otherTile;
  float *sharedData = sharedPack.get(static_cast<size_t>(shared.padded * k));
  shared.data = sharedData;
  if (splitRows)
    packShared(b.data, b.colStride, b.rowStride, n, k, kernel.kc, kernel.nr,
               shared.padded, sharedData);
  else
    packShared(a.data, a.rowStride, a.colStride, m, k, kernel.kc, kernel.mr,
               shared.padded, sharedData);
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
  packShared(b.data, b.colStride, b.rowStride, n, k, kernel.kc, kernel.nr,
             padded, packed->panels);
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
    sharedA.padded = rowTiles * kernel.mr;
    float *data = sharedPack.get(static_cast<size_t>(sharedA.padded * k));
    sharedA.data = data;
    packShared(a.data, a.rowStride, a.colStride, m, k, kernel.kc, kernel.mr,
               sharedA.padded, data);
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
