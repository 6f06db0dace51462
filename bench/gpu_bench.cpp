//===- gpu_bench.cpp - GPU op checks and timings, runtime only -------------===//
//
//   gpu_bench DIR --device cuda [--quick]
//
// DIR holds the .ember files `scripts/gpu-check prepare` makes from
// bench/gpu/*.mlir (each with the GPU artifact of the device's kind). This
// binary links only the LLVM-free runtime, so it can be copied to a machine
// with a GPU and no compiler. It
//
//  1. runs every program at several sizes on fresh random inputs and checks
//     the outputs against references computed here on the host (double
//     accumulation), printing PASS/FAIL per case;
//  2. runs the chain program once with ember's profiler on and checks that
//     its kernel launches were timed on the device (CUDA/HIP event pairs,
//     Vulkan timestamp queries): at least one span each, and on CUDA and
//     ROCm every one with a positive device time;
//  3. times, with data resident on the device: device-to-device copy
//     bandwidth, the fused 5-op chain (GB/s and its share of the copy
//     bandwidth), and f32 matmuls (TFLOP/s).
//
// Results are also printed as JSON lines ({"bench": ...}) for
// bench/gpu_torch.py, which times the same work with torch on the same GPU.
// Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage
// or an unavailable device.
//
//===----------------------------------------------------------------------===//

#include "Timing.h"
#include "ember/Runtime/Gpu/DeviceModel.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Profiler.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

using ember::ElementType;
using ember::HostTensor;
using namespace ember::gpu;
namespace bench = ember::bench;

namespace {

std::mt19937 rng(2026);

HostTensor randomTensor(ElementType type, std::vector<int64_t> shape) {
  HostTensor t(type, std::move(shape));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int64_t> ints(-1000, 1000);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (type == ElementType::Float32)
      t.data<float>()[i] = float(normal(rng));
    else if (type == ElementType::Float64)
      t.data<double>()[i] = normal(rng);
    else
      t.data<int64_t>()[i] = ints(rng);
  }
  return t;
}

double valueAt(const HostTensor &t, int64_t i) {
  switch (t.dtype()) {
  case ElementType::Float32:
    return t.data<float>()[i];
  case ElementType::Float64:
    return t.data<double>()[i];
  case ElementType::Int64:
    return double(t.data<int64_t>()[i]);
  default:
    return NAN;
  }
}

/// Reference outputs as doubles, in row-major order.
using Reference = std::vector<std::vector<double>>;

/// C(b, i, j) = sum_k A(b, i, k) * B(b, k, j) with strides for A and B.
std::vector<double> matmulReference(const float *a, const float *b, int64_t batch, int64_t m,
                                    int64_t n, int64_t k, int64_t aRow, int64_t aCol,
                                    int64_t bRow, int64_t bCol, int64_t aBatch,
                                    int64_t bBatch) {
  std::vector<double> c(batch * m * n, 0.0);
  for (int64_t z = 0; z < batch; ++z)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t kk = 0; kk < k; ++kk) {
        double x = a[z * aBatch + i * aRow + kk * aCol];
        double *row = &c[(z * m + i) * n];
        const float *bk = b + z * bBatch + kk * bRow;
        for (int64_t j = 0; j < n; ++j)
          row[j] += x * bk[j * bCol];
      }
  return c;
}

struct Case {
  std::string program;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<ElementType> types;
  std::function<Reference(const std::vector<HostTensor> &)> reference;
  double tolerance;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<Case> cases(bool quick) {
  std::vector<Case> all;
  const ElementType f32 = ElementType::Float32;
  auto chain = [](const std::vector<HostTensor> &in) {
    const float *a = in[0].data<float>(), *b = in[1].data<float>(),
                *c = in[2].data<float>(), *d = in[3].data<float>();
    std::vector<double> y(in[0].numel());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = sigmoid(double(a[i]) * b[i] + c[i]) * d[i] - a[i];
    return Reference{y};
  };
  for (int64_t n : {1, 1000, 1 << 20})
    all.push_back({"chain", {{n}, {n}, {n}, {n}}, {f32, f32, f32, f32}, chain, 1e-5});

  auto matmul = [](const std::vector<HostTensor> &in) {
    int64_t m = in[0].dim(0), k = in[0].dim(1), n = in[1].dim(1);
    return Reference{matmulReference(in[0].data<float>(), in[1].data<float>(), 1, m, n, k, k,
                                     1, n, 1, 0, 0)};
  };
  std::vector<std::vector<int64_t>> mms = {{1, 1, 1},   {17, 33, 18},   {64, 64, 64},
                                           {100, 3, 257}, {255, 129, 31}, {1, 512, 300}};
  if (!quick)
    mms.push_back({1024, 1024, 1024});
  for (auto &s : mms)
    all.push_back({"matmul", {{s[0], s[1]}, {s[1], s[2]}}, {f32, f32}, matmul, 1e-4});

  auto mlp = [](const std::vector<HostTensor> &in) {
    int64_t batch = in[0].dim(0);
    std::vector<double> h = matmulReference(in[0].data<float>(), in[1].data<float>(), 1, batch,
                                            32, 64, 64, 1, 32, 1, 0, 0);
    for (int64_t r = 0; r < batch; ++r) {
      double *row = &h[r * 32];
      double top = -INFINITY, total = 0;
      for (int j = 0; j < 32; ++j) {
        double x = row[j] + in[2].data<float>()[j];
        row[j] = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        top = std::max(top, row[j]);
      }
      for (int j = 0; j < 32; ++j)
        total += row[j] = std::exp(row[j] - top);
      for (int j = 0; j < 32; ++j)
        row[j] /= total;
    }
    return Reference{h};
  };
  for (int64_t batch : {1, 7, 300})
    all.push_back({"mlp", {{batch, 64}, {64, 32}, {32}}, {f32, f32, f32}, mlp, 1e-4});

  auto reduce = [](const std::vector<HostTensor> &in) {
    int64_t r = in[0].dim(0), c = in[0].dim(1);
    const float *x = in[0].data<float>();
    std::vector<double> sum0(c, 0.0), max1(r, -INFINITY), total(1, 0.0);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) {
        sum0[j] += x[i * c + j];
        max1[i] = std::max(max1[i], double(x[i * c + j]));
        total[0] += x[i * c + j];
      }
    // x^T x: A(i, k) = x(k, i).
    std::vector<double> gram = matmulReference(x, x, 1, c, c, r, 1, c, c, 1, 0, 0);
    return Reference{sum0, max1, gram, total};
  };
  for (auto &s : std::vector<std::vector<int64_t>>{{2, 3}, {33, 20}, {300, 17}, {5, 1000}})
    all.push_back({"reduce", {s}, {f32}, reduce, 1e-4});

  auto bmm = [](const std::vector<HostTensor> &in) {
    int64_t batch = in[0].dim(0), m = in[0].dim(1), k = in[0].dim(2), n = in[1].dim(1);
    // B^T: B(z, kk, j) = b(z, j, kk).
    return Reference{matmulReference(in[0].data<float>(), in[1].data<float>(), batch, m, n, k,
                                     k, 1, 1, k, m * k, n * k)};
  };
  for (auto &s : std::vector<std::vector<int64_t>>{{1, 5, 7, 3}, {3, 40, 33, 19}, {8, 64, 64, 64}})
    all.push_back({"bmm", {{s[0], s[1], s[3]}, {s[0], s[2], s[3]}}, {f32, f32}, bmm, 1e-4});

  auto unary = [](const std::vector<HostTensor> &in) {
    std::vector<double> u(in[0].numel()), v(u.size()), w(u.size());
    for (size_t i = 0; i < u.size(); ++i) {
      double x = in[0].data<float>()[i], y = in[1].data<double>()[i];
      int64_t k = in[2].data<int64_t>()[i];
      u[i] = std::tanh(x) + std::exp(x) - std::sqrt(std::fabs(x));
      v[i] = y * y + y;
      w[i] = double(k * k - k);
    }
    return Reference{u, v, w};
  };
  for (int64_t n : {1, 4097})
    all.push_back({"unary", {{n}, {n}, {n}},
                   {f32, ElementType::Float64, ElementType::Int64}, unary, 1e-5});
  return all;
}

std::string describe(const std::vector<std::vector<int64_t>> &shapes) {
  std::string text;
  for (const auto &shape : shapes) {
    text += text.empty() ? "(" : ", (";
    for (size_t i = 0; i < shape.size(); ++i)
      text += (i ? "x" : "") + std::to_string(shape[i]);
    text += ")";
  }
  return text;
}

struct Bench {
  Device &device;
  std::string dir;
  std::string target;

  std::unique_ptr<DeviceModel> open(const std::string &program) {
    // The bench compiled these files itself: their kernels are trusted.
    ember::LoadOptions options;
    options.allowUnsignedNative = true;
    return std::make_unique<DeviceModel>(ember::ModelFile::open(dir + "/" + program + ".ember"),
                                         device, options);
  }

  /// Runs every case; returns the number that failed.
  int check(bool quick) {
    int failed = 0, run = 0;
    std::map<std::string, std::unique_ptr<DeviceModel>> models;
    for (Case &c : cases(quick)) {
      auto &model = models[c.program];
      std::string label = c.program + " " + describe(c.shapes);
      try {
        if (!model)
          model = open(c.program);
        std::vector<HostTensor> inputs;
        for (size_t i = 0; i < c.shapes.size(); ++i)
          inputs.push_back(randomTensor(c.types[i], c.shapes[i]));
        std::vector<HostTensor> outputs = model->forward(inputs);
        Reference expected = c.reference(inputs);
        double worst = 0;
        std::string problem;
        if (outputs.size() != expected.size())
          problem = "wrong number of outputs";
        for (size_t o = 0; problem.empty() && o < outputs.size(); ++o) {
          if (size_t(outputs[o].numel()) != expected[o].size()) {
            problem = "output " + std::to_string(o) + " has " +
                      std::to_string(outputs[o].numel()) + " elements, expected " +
                      std::to_string(expected[o].size());
            break;
          }
          for (size_t i = 0; i < expected[o].size(); ++i) {
            double e = expected[o][i], a = valueAt(outputs[o], int64_t(i));
            double error = std::fabs(a - e) / (1 + std::fabs(e));
            if (!(error <= c.tolerance)) {
              problem = "output " + std::to_string(o) + " element " + std::to_string(i) +
                        ": got " + std::to_string(a) + ", expected " + std::to_string(e);
              break;
            }
            worst = std::max(worst, error);
          }
        }
        ++run;
        if (problem.empty()) {
          std::printf("PASS %-40s max rel. error %.1e\n", label.c_str(), worst);
        } else {
          ++failed;
          std::printf("FAIL %-40s %s\n", label.c_str(), problem.c_str());
        }
      } catch (const std::exception &error) {
        ++run;
        ++failed;
        std::printf("FAIL %-40s %s\n", label.c_str(), error.what());
      }
      std::fflush(stdout);
    }
    std::printf("%d of %d op checks passed on %s (%s)\n", run - failed, run,
                device.info().name.c_str(), target.c_str());
    return failed;
  }

  /// The chain program run once under the profiler; 1 when its launches
  /// were not timed on the device as they should be, else 0.
  int profileCheck() {
    namespace profiler = ember::profiler;
    Backend backend = device.backend();
    if (backend == Backend::LevelZero) {
      std::printf("SKIP profiled run: Level Zero launches are not timed\n");
      return 0;
    }
    std::vector<HostTensor> inputs;
    for (int i = 0; i < 4; ++i)
      inputs.push_back(randomTensor(ElementType::Float32, {1 << 16}));
    std::vector<profiler::Event> spans;
    try {
      auto chain = open("chain");
      profiler::start(/*memory=*/false, /*kernels=*/false);
      chain->forward(inputs);
      profiler::stop();
      for (profiler::Event &event : profiler::take())
        if (event.category == profiler::Category::Device)
          spans.push_back(std::move(event));
    } catch (const std::exception &error) {
      profiler::stop();
      std::printf("FAIL profiled run: %s\n", error.what());
      return 1;
    }
    bool positive = backend == Backend::Cuda || backend == Backend::Rocm;
    size_t timed = 0;
    for (const profiler::Event &span : spans)
      timed += positive ? span.endNs > span.startNs : span.endNs >= span.startNs;
    bool ok = !spans.empty() && timed == spans.size();
    std::printf("%s profiled run: %zu kernel spans on the device, %zu with %s device time",
                ok ? "PASS" : "FAIL", spans.size(), timed, positive ? "a positive" : "a");
    for (size_t i = 0; i < spans.size() && i < 3; ++i)
      std::printf("%s %s %.1f us", i ? "," : ";", spans[i].name.c_str(),
                  (spans[i].endNs - spans[i].startNs) / 1e3);
    std::printf("\n");
    return ok ? 0 : 1;
  }

  ProgramBuffer deviceBuffer(std::vector<int64_t> shape, bool fill) {
    ProgramBuffer buffer;
    buffer.shape = shape;
    buffer.elementBytes = 4;
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    buffer.buffer = device.allocate(std::max<int64_t>(4, count * 4));
    if (fill) {
      HostTensor t = randomTensor(ElementType::Float32, shape);
      device.copyToDevice(buffer.buffer, 0, t.data(), t.bytes(), device.defaultStream());
    }
    return buffer;
  }

  void time(bool quick) {
    Stream &stream = device.defaultStream();
    // Device-to-device copy: the bandwidth ceiling for streaming kernels.
    int64_t n = quick ? (1 << 20) : (1 << 26);
    ProgramBuffer src = deviceBuffer({n}, true), dst = deviceBuffer({n}, false);
    size_t bytes = size_t(n) * 4;
    double copyUs = bench::medianMicros(
        [&] {
          device.copyOnDevice(dst.buffer, 0, src.buffer, 0, bytes, stream);
          stream.synchronize();
        },
        quick ? 50 : 1000);
    double copyGBs = 2.0 * bytes / (copyUs * 1e3);
    std::printf("device-to-device copy %lld floats: %.1f us, %.0f GB/s (read + write)\n",
                (long long)n, copyUs, copyGBs);
    std::printf("{\"bench\": \"copy\", \"n\": %lld, \"us\": %.3f, \"gbs\": %.2f}\n",
                (long long)n, copyUs, copyGBs);

    auto chain = open("chain");
    std::vector<ProgramBuffer> inputs = {src, deviceBuffer({n}, true), deviceBuffer({n}, true),
                                         deviceBuffer({n}, true)};
    double chainUs = bench::medianMicros(
        [&] { chain->runOnDevice("forward", inputs, {dst}); }, quick ? 50 : 1000);
    double chainGBs = 5.0 * bytes / (chainUs * 1e3);
    std::printf("chain sigmoid(a*b+c)*d-a, %lld floats: %.1f us, %.0f GB/s = %.0f%% of copy\n",
                (long long)n, chainUs, chainGBs, 100.0 * chainGBs / copyGBs);
    std::printf("{\"bench\": \"chain\", \"n\": %lld, \"us\": %.3f, \"gbs\": %.2f}\n",
                (long long)n, chainUs, chainGBs);
    for (ProgramBuffer &b : inputs)
      device.free(b.buffer);
    device.free(dst.buffer);

    auto matmul = open("matmul");
    std::vector<int64_t> sizes = quick ? std::vector<int64_t>{128} : std::vector<int64_t>{1024, 2048, 4096};
    for (int64_t s : sizes) {
      ProgramBuffer a = deviceBuffer({s, s}, true), b = deviceBuffer({s, s}, true),
                    c = deviceBuffer({s, s}, false);
      double us = bench::medianMicros([&] { matmul->runOnDevice("forward", {a, b}, {c}); },
                                      quick ? 50 : 2000);
      double tflops = 2.0 * s * s * s / (us * 1e6);
      std::printf("matmul f32 %lldx%lldx%lld: %.1f us, %.2f TFLOP/s\n", (long long)s,
                  (long long)s, (long long)s, us, tflops);
      std::printf("{\"bench\": \"matmul\", \"n\": %lld, \"us\": %.3f, \"tflops\": %.3f}\n",
                  (long long)s, us, tflops);
      for (ProgramBuffer *p : {&a, &b, &c})
        device.free(p->buffer);
    }
  }
};

} // namespace

int main(int argc, char **argv) {
  std::string dir, deviceName;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--device" && i + 1 < argc)
      deviceName = argv[++i];
    else if (arg == "--quick")
      quick = true;
    else if (dir.empty() && arg[0] != '-')
      dir = arg;
    else
      dir = "";
  }
  if (dir.empty() || deviceName.empty()) {
    std::fprintf(stderr, "usage: gpu_bench DIR --device cuda|rocm|level_zero|vulkan [--quick]\n"
                         "DIR: the .ember files of `scripts/gpu-check prepare`\n");
    return 2;
  }
  Backend backend;
  if (!parseAnyBackendSpelling(deviceName, &backend) || !isGpuBackend(backend)) {
    std::fprintf(stderr, "gpu_bench: unknown device kind '%s'\n", deviceName.c_str());
    return 2;
  }
  std::unique_ptr<Device> device;
  try {
    device = openDevice(backend);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "gpu_bench: %s\n", error.what());
    return 2;
  }
  std::printf("device: %s (%s)\n", device->info().name.c_str(), backendName(backend));
  Bench bench{*device, dir, deviceName};
  int failed = bench.check(quick);
  failed += bench.profileCheck();
  try {
    bench.time(quick);
  } catch (const std::exception &error) {
    std::printf("timing failed: %s\n", error.what());
    return 1;
  }
  return failed ? 1 : 0;
}
