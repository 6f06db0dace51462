//===- DeviceModel.h - run a .ember model on a GPU ---------------*- C++ -*-===//
//
//   auto device = ember::gpu::openDevice(ember::Backend::Vulkan);
//   ember::gpu::DeviceModel model(ember::ModelFile::open("m.ember"), *device);
//   std::vector<ember::HostTensor> ys = model.forward({x});
//
// Picks the file's artifact for the device's kind (from `ember-compile
// --target vulkan`, `level-zero`, `cuda:sm_XX` — PTX, which the driver
// compiles for the actual GPU — or `rocm:gfxNNN`), checks its checksum
// against the manifest, loads its kernels, uploads the weights once, and
// runs the launch plan per call (inputs copied in, outputs copied out).
// No LLVM: the runtime only.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_DEVICEMODEL_H
#define EMBER_RUNTIME_GPU_DEVICEMODEL_H

#include "ember/Runtime/Gpu/Program.h"
#include "ember/Runtime/HostTensor.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ModelFile.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

class DeviceModel {
public:
  /// Throws ModelError when the file has no artifact for the device's kind
  /// (naming the ember-compile target to add), a corrupt one, or one that
  /// is not trusted under `options` (kernels are code: like CPU native
  /// code they run only from a file signed by a trusted key, or when
  /// `options.allowUnsignedNative`), and DeviceError when the device
  /// rejects it.
  DeviceModel(std::shared_ptr<ModelFile> file, Device &device,
              const LoadOptions &options = {});
  ~DeviceModel();

  std::vector<HostTensor> forward(const std::vector<HostTensor> &inputs);
  /// Checks `inputs` like ember::Model (ModelError naming shapes), then runs.
  std::vector<HostTensor> run(const std::string &entry,
                              const std::vector<HostTensor> &inputs);

  /// Runs `entry` on buffers already on the device: the inputs, then one
  /// buffer per output, shaped as `run` returns them (the weights are added
  /// here). Returns once the work is done. For callers that keep data on
  /// the device: pipelines and benchmarks (bench/gpu_bench.cpp).
  void runOnDevice(const std::string &entry, const std::vector<ProgramBuffer> &inputs,
                   const std::vector<ProgramBuffer> &outputs);

  const Manifest &manifest() const { return spec; }
  /// The artifact's target ("vulkan", "cuda:sm_90", ...).
  const std::string &target() const { return artifactTarget; }

private:
  std::shared_ptr<ModelFile> file;
  Manifest spec;
  Device &device;
  std::string artifactTarget;
  std::unique_ptr<Program> program;
  std::map<std::string, ProgramBuffer> weights;
};

/// The artifact target names that fit a device of `backend`: "vulkan",
/// "level-zero", "cuda:" or "rocm:" (prefixes).
std::string artifactTargetPrefix(Backend backend);

/// The GPU artifact of `manifest` to run on a device of `backend` whose
/// architecture is `arch` (DeviceInfo::arch, may be empty). CUDA: the
/// `cuda:<arch>` artifact, else the newest `cuda:sm_XY` not newer than the
/// device (the driver compiles its PTX for the device); ROCm: `rocm:<arch>`
/// (HSACO runs on its own chip only); an unknown arch or another kind: the
/// last artifact for the kind. Null, with `why` set, when none fits.
const ArtifactSpec *selectGpuArtifact(const Manifest &manifest, Backend backend,
                                      const std::string &arch, std::string *why);

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_DEVICEMODEL_H
