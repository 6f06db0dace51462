//===- VulkanDevice.cpp - the Vulkan compute driver ------------------------===//
//
// One VkDevice with one compute queue per Device. Buffers are VkBuffers
// bound to their own device-local memory; host copies go through staging
// buffers from a second caching allocator over host-visible memory, so the
// host's bytes can be reused as soon as copyToDevice returns.
//
// A stream records its copies and dispatches into a command buffer and
// submits it (with a fence) when the host needs a result: on synchronize,
// copyToHost, an event record, or every kMaxBatchOperations operations.
// Every operation starts with a full memory barrier. Since all streams
// share the device's one queue and a barrier orders everything earlier in
// submission order, a stream's work is in order, and a stream that waits
// for an event recorded (and so submitted) earlier is ordered after it
// without semaphores.
//
// Pipelines are made once per (module, entry point), or per workgroup size
// when the shader takes it from specialization constants.
//
//===----------------------------------------------------------------------===//

#include "Drivers.h"
#include "SpirvReflect.h"
#include "VulkanApi.h"

#include "ember/Runtime/Profiler.h"

#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <set>

namespace ember {
namespace gpu {

namespace {

/// Operations recorded before a stream submits on its own; bounds the
/// staging memory and descriptor pools an unsynchronized loop holds.
constexpr unsigned kMaxBatchOperations = 256;

[[noreturn]] void fail(const std::string &message) {
  throw DeviceError(Backend::Vulkan, message);
}

/// What a DeviceBuffer's handle points to.
struct VulkanBlock {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  /// The persistent mapping of a staging block; null for device blocks.
  void *mapped = nullptr;
};

VulkanBlock &blockOf(uint64_t handle) {
  return *reinterpret_cast<VulkanBlock *>(handle);
}

/// The state every object of one device shares.
struct VulkanContext {
  const VulkanApi &api;
  const VulkanPhysicalDevice &physical;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  /// vkQueueSubmit needs the queue externally synchronized.
  std::mutex queueMutex;
  uint32_t deviceMemoryType = 0;
  uint32_t stagingMemoryType = 0;
  std::unique_ptr<CachingAllocator> staging;

  VulkanContext(const VulkanApi &api, const VulkanPhysicalDevice &physical)
      : api(api), physical(physical) {}
  ~VulkanContext() {
    staging.reset();
    if (device)
      api.vkDestroyDevice(device, nullptr);
  }
  const VkPhysicalDeviceLimits &limits() const {
    return physical.properties.limits;
  }
};

/// Makes VkBuffers with memory of one type for a CachingAllocator.
class VulkanBlockSource : public BlockSource {
public:
  VulkanBlockSource(VulkanContext &context, bool staging)
      : context(context), staging(staging) {}

  uint64_t allocateBlock(size_t bytes) override {
    const VulkanApi &api = context.api;
    auto block = std::make_unique<VulkanBlock>();
    VkBufferCreateInfo bufferInfo = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bufferInfo.size = bytes;
    bufferInfo.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                       VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                       VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bufferInfo.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult result =
        api.vkCreateBuffer(context.device, &bufferInfo, nullptr, &block->buffer);
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY ||
        result == VK_ERROR_OUT_OF_HOST_MEMORY)
      return 0;
    checkVulkan(result, "vkCreateBuffer");
    VkMemoryRequirements requirements;
    api.vkGetBufferMemoryRequirements(context.device, block->buffer,
                                      &requirements);
    VkMemoryAllocateInfo allocateInfo = {
        VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    allocateInfo.allocationSize = requirements.size;
    allocateInfo.memoryTypeIndex =
        staging ? context.stagingMemoryType : context.deviceMemoryType;
    result = api.vkAllocateMemory(context.device, &allocateInfo, nullptr,
                                  &block->memory);
    if (result == VK_SUCCESS)
      result = api.vkBindBufferMemory(context.device, block->buffer,
                                      block->memory, 0);
    if (result == VK_SUCCESS && staging)
      result = api.vkMapMemory(context.device, block->memory, 0, VK_WHOLE_SIZE,
                               0, &block->mapped);
    if (result != VK_SUCCESS) {
      destroy(*block);
      if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY ||
          result == VK_ERROR_OUT_OF_HOST_MEMORY)
        return 0;
      checkVulkan(result, "vkAllocateMemory/vkBindBufferMemory/vkMapMemory");
    }
    return reinterpret_cast<uint64_t>(block.release());
  }

  void releaseBlock(uint64_t handle, size_t) override {
    std::unique_ptr<VulkanBlock> block(&blockOf(handle));
    destroy(*block);
  }

private:
  void destroy(VulkanBlock &block) {
    // Freeing the memory unmaps it.
    if (block.buffer)
      context.api.vkDestroyBuffer(context.device, block.buffer, nullptr);
    if (block.memory)
      context.api.vkFreeMemory(context.device, block.memory, nullptr);
  }
  VulkanContext &context;
  bool staging;
};

/// One vkQueueSubmit and its fence; shared by the batch and the events that
/// recorded it.
struct Submission {
  VulkanContext &context;
  VkFence fence = VK_NULL_HANDLE;

  explicit Submission(VulkanContext &context) : context(context) {
    VkFenceCreateInfo info = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    checkVulkan(context.api.vkCreateFence(context.device, &info, nullptr,
                                          &fence),
                "vkCreateFence");
  }
  ~Submission() { context.api.vkDestroyFence(context.device, fence, nullptr); }
  bool isComplete() {
    VkResult result = context.api.vkGetFenceStatus(context.device, fence);
    if (result == VK_NOT_READY)
      return false;
    checkVulkan(result, "vkGetFenceStatus");
    return true;
  }
  void wait() {
    checkVulkan(context.api.vkWaitForFences(context.device, 1, &fence, VK_TRUE,
                                            UINT64_MAX),
                "vkWaitForFences");
  }
};

/// The commands of one submission and what they hold until it completes.
struct Batch {
  VkCommandBuffer commands = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> descriptorPools;
  std::vector<uint64_t> stagingBlocks;
  std::shared_ptr<Submission> submission;
  unsigned operations = 0;
  /// While ember.profiler records: two timestamps per dispatch (before and
  /// after), the dispatches' kernel names, and when the host submitted.
  VkQueryPool queries = VK_NULL_HANDLE;
  std::vector<std::string> dispatchNames;
  uint64_t submittedNs = 0;
};

class VulkanEvent : public Event {
public:
  explicit VulkanEvent(VulkanContext &context) : context(context) {}
  void synchronize() override {
    if (submission)
      submission->wait();
  }
  bool isComplete() override { return !submission || submission->isComplete(); }

  VulkanContext &context;
  std::shared_ptr<Submission> submission;
};

class VulkanStream : public Stream {
public:
  VulkanStream(VulkanContext &context, std::set<VulkanStream *> &registry,
               std::mutex &registryMutex)
      : context(context), registry(registry), registryMutex(registryMutex) {
    VkCommandPoolCreateInfo info = {
        VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    info.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    info.queueFamilyIndex = context.physical.computeQueueFamily;
    checkVulkan(context.api.vkCreateCommandPool(context.device, &info,
                                                nullptr, &pool),
                "vkCreateCommandPool");
    std::lock_guard<std::mutex> lock(registryMutex);
    registry.insert(this);
  }

  ~VulkanStream() override {
    {
      std::lock_guard<std::mutex> lock(registryMutex);
      registry.erase(this);
    }
    try {
      synchronize();
    } catch (const DeviceError &) {
      // A lost device: nothing left to wait for.
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (open)
      retire(*open);
    for (auto &batch : inFlight)
      retire(*batch);
    context.api.vkDestroyCommandPool(context.device, pool, nullptr);
  }

  /// Records one operation: `record(commands, batch)` after a barrier that
  /// orders it behind everything submitted or recorded before.
  template <typename Record> void enqueue(Record record) {
    std::lock_guard<std::mutex> lock(mutex);
    retireCompleted();
    VkCommandBuffer commands = begin();
    record(commands, *open);
    if (++open->operations >= kMaxBatchOperations)
      flush();
  }

  /// Whether `batch` (the open one) times its dispatches: the profiler is
  /// on and the device has timestamps. Makes the query pool on first use.
  bool timesDispatches(Batch &batch) {
    if (!profiler::enabled() || !context.limits().timestampComputeAndGraphics)
      return false;
    if (batch.queries)
      return batch.dispatchNames.size() < kMaxBatchOperations;
    VkQueryPoolCreateInfo info = {VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = 2 * kMaxBatchOperations;
    if (context.api.vkCreateQueryPool(context.device, &info, nullptr, &batch.queries) !=
        VK_SUCCESS) {
      batch.queries = VK_NULL_HANDLE;
      return false;
    }
    context.api.vkCmdResetQueryPool(batch.commands, batch.queries, 0, info.queryCount);
    return true;
  }

  /// A descriptor set of `layout` that lives as long as the open batch.
  VkDescriptorSet allocateDescriptorSet(Batch &batch,
                                        VkDescriptorSetLayout layout) {
    VkDescriptorSetAllocateInfo info = {
        VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    info.descriptorSetCount = 1;
    info.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (!batch.descriptorPools.empty()) {
      info.descriptorPool = batch.descriptorPools.back();
      VkResult result =
          context.api.vkAllocateDescriptorSets(context.device, &info, &set);
      if (result == VK_SUCCESS)
        return set;
      if (result != VK_ERROR_OUT_OF_POOL_MEMORY &&
          result != VK_ERROR_FRAGMENTED_POOL)
        checkVulkan(result, "vkAllocateDescriptorSets");
    }
    VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1024};
    VkDescriptorPoolCreateInfo poolInfo = {
        VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    poolInfo.maxSets = 128;
    poolInfo.poolSizeCount = 1;
    poolInfo.pPoolSizes = &size;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    checkVulkan(context.api.vkCreateDescriptorPool(context.device, &poolInfo,
                                                   nullptr, &pool),
                "vkCreateDescriptorPool");
    batch.descriptorPools.push_back(pool);
    info.descriptorPool = pool;
    checkVulkan(context.api.vkAllocateDescriptorSets(context.device, &info, &set),
                "vkAllocateDescriptorSets");
    return set;
  }

  void record(Event &event) override {
    auto &vulkanEvent = asVulkanEvent(event);
    std::lock_guard<std::mutex> lock(mutex);
    flush();
    vulkanEvent.submission = lastSubmission;
  }

  void wait(Event &event) override {
    // Recording submitted the event's work to the queue every stream
    // shares, and each later operation starts with a barrier that orders
    // it after everything submitted earlier: nothing more to do.
    asVulkanEvent(event);
  }

  void synchronize() override {
    std::lock_guard<std::mutex> lock(mutex);
    flush();
    while (!inFlight.empty()) {
      inFlight.front()->submission->wait();
      retire(*inFlight.front());
      inFlight.pop_front();
    }
  }

  VulkanContext &context;

private:
  VulkanEvent &asVulkanEvent(Event &event) {
    auto *vulkanEvent = dynamic_cast<VulkanEvent *>(&event);
    if (!vulkanEvent || &vulkanEvent->context != &context)
      fail("an event of another device or backend was passed to a stream");
    return *vulkanEvent;
  }

  VkCommandBuffer begin() {
    const VulkanApi &api = context.api;
    if (!open) {
      auto batch = std::make_unique<Batch>();
      VkCommandBufferAllocateInfo info = {
          VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      info.commandPool = pool;
      info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      info.commandBufferCount = 1;
      checkVulkan(
          api.vkAllocateCommandBuffers(context.device, &info, &batch->commands),
          "vkAllocateCommandBuffers");
      VkCommandBufferBeginInfo beginInfo = {
          VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      beginInfo.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      VkResult result = api.vkBeginCommandBuffer(batch->commands, &beginInfo);
      if (result != VK_SUCCESS) {
        api.vkFreeCommandBuffers(context.device, pool, 1, &batch->commands);
        checkVulkan(result, "vkBeginCommandBuffer");
      }
      open = std::move(batch);
    }
    barrier(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
            VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT);
    return open->commands;
  }

  /// Makes every earlier write visible to `dstStages` with `dstAccess`.
  void barrier(VkPipelineStageFlags dstStages, VkAccessFlags dstAccess) {
    VkMemoryBarrier memoryBarrier = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    memoryBarrier.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
    memoryBarrier.dstAccessMask = dstAccess;
    context.api.vkCmdPipelineBarrier(
        open->commands, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, dstStages, 0, 1,
        &memoryBarrier, 0, nullptr, 0, nullptr);
  }

  /// Submits the open batch.
  void flush() {
    if (!open)
      return;
    const VulkanApi &api = context.api;
    // Device writes become visible to the host (staging reads) once the
    // fence signals.
    barrier(VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    checkVulkan(api.vkEndCommandBuffer(open->commands), "vkEndCommandBuffer");
    open->submission = std::make_shared<Submission>(context);
    VkSubmitInfo submit = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &open->commands;
    {
      std::lock_guard<std::mutex> lock(context.queueMutex);
      checkVulkan(api.vkQueueSubmit(context.queue, 1, &submit,
                                    open->submission->fence),
                  "vkQueueSubmit");
    }
    lastSubmission = open->submission;
    if (open->queries)
      open->submittedNs = profiler::nowNs();
    inFlight.push_back(std::move(open));
  }

  void retireCompleted() {
    while (!inFlight.empty() && inFlight.front()->submission->isComplete()) {
      retire(*inFlight.front());
      inFlight.pop_front();
    }
  }

  /// The dispatch times of a completed batch, as profiler spans on the
  /// device's track. Device clocks are not the host's: the batch's first
  /// timestamp is placed at its submission, durations are the device's.
  void recordDispatchTimes(Batch &batch) {
    size_t count = batch.dispatchNames.size();
    std::vector<uint64_t> ticks(2 * count);
    if (!count || !batch.submission || !batch.submission->isComplete() ||
        context.api.vkGetQueryPoolResults(context.device, batch.queries, 0,
                                          uint32_t(ticks.size()),
                                          ticks.size() * sizeof(uint64_t), ticks.data(),
                                          sizeof(uint64_t),
                                          VK_QUERY_RESULT_64_BIT) != VK_SUCCESS)
      return;
    double period = context.limits().timestampPeriod;
    for (size_t i = 0; i < count; ++i) {
      profiler::Event event;
      event.name = batch.dispatchNames[i];
      event.category = profiler::Category::Device;
      event.startNs = batch.submittedNs + uint64_t(double(ticks[2 * i] - ticks[0]) * period);
      event.endNs =
          batch.submittedNs + uint64_t(double(ticks[2 * i + 1] - ticks[0]) * period);
      event.detail = "vulkan dispatch";
      profiler::record(std::move(event));
    }
  }

  /// Releases what a completed (or never submitted) batch held.
  void retire(Batch &batch) {
    if (batch.queries) {
      recordDispatchTimes(batch);
      context.api.vkDestroyQueryPool(context.device, batch.queries, nullptr);
    }
    for (uint64_t handle : batch.stagingBlocks)
      context.staging->free(handle);
    for (VkDescriptorPool descriptorPool : batch.descriptorPools)
      context.api.vkDestroyDescriptorPool(context.device, descriptorPool,
                                          nullptr);
    context.api.vkFreeCommandBuffers(context.device, pool, 1, &batch.commands);
    batch = Batch();
  }

  std::set<VulkanStream *> &registry;
  std::mutex &registryMutex;
  std::mutex mutex;
  VkCommandPool pool = VK_NULL_HANDLE;
  std::unique_ptr<Batch> open;
  std::deque<std::unique_ptr<Batch>> inFlight;
  std::shared_ptr<Submission> lastSubmission;
};

class VulkanKernel : public Kernel {
public:
  VulkanKernel(VulkanContext &context, VkShaderModule shader,
               const SpirvEntryPoint &entry, const KernelLayout &layout)
      : Kernel(entry.name, layout), context(context), shader(shader),
        entry(entry) {
    const VulkanApi &api = context.api;
    const VkPhysicalDeviceLimits &limits = context.limits();
    // One descriptor set layout per set index up to the highest used.
    std::map<uint32_t, std::vector<VkDescriptorSetLayoutBinding>> bindings;
    std::set<std::pair<uint32_t, uint32_t>> seen;
    uint32_t setCount = 0;
    for (size_t i = 0; i < layout.params.size(); ++i) {
      const KernelParam &param = layout.params[i];
      if (param.kind != ArgKind::Buffer) {
        if (param.offset % std::min<uint32_t>(param.kind == ArgKind::I32 ||
                                                      param.kind == ArgKind::F32
                                                  ? 4
                                                  : 8,
                                              8))
          failLayout(i, "push-constant offset " + std::to_string(param.offset) +
                            " is not aligned to its size");
        continue;
      }
      if (!seen.insert({param.set, param.binding}).second)
        failLayout(i, "set " + std::to_string(param.set) + ", binding " +
                          std::to_string(param.binding) +
                          " is bound twice");
      if (param.set >= limits.maxBoundDescriptorSets)
        failLayout(i, "set " + std::to_string(param.set) +
                          " is beyond the device's maxBoundDescriptorSets (" +
                          std::to_string(limits.maxBoundDescriptorSets) + ")");
      VkDescriptorSetLayoutBinding binding = {};
      binding.binding = param.binding;
      binding.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      binding.descriptorCount = 1;
      binding.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
      bindings[param.set].push_back(binding);
      setCount = std::max(setCount, param.set + 1);
    }
    size_t storageBuffers = seen.size();
    if (storageBuffers > limits.maxPerStageDescriptorStorageBuffers)
      fail("kernel '" + name() + "' binds " + std::to_string(storageBuffers) +
           " storage buffers; the device allows " +
           std::to_string(limits.maxPerStageDescriptorStorageBuffers) + " per shader");
    pushBytes = layout.pushConstantBytes();
    if (pushBytes > limits.maxPushConstantsSize)
      fail("kernel '" + name() + "' needs " + std::to_string(pushBytes) +
           " bytes of push constants; the device allows " +
           std::to_string(limits.maxPushConstantsSize));
    for (uint32_t set = 0; set < setCount; ++set) {
      std::vector<VkDescriptorSetLayoutBinding> &list = bindings[set];
      VkDescriptorSetLayoutCreateInfo info = {
          VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
      info.bindingCount = uint32_t(list.size());
      info.pBindings = list.data();
      VkDescriptorSetLayout setLayout = VK_NULL_HANDLE;
      checkVulkan(api.vkCreateDescriptorSetLayout(context.device, &info,
                                                  nullptr, &setLayout),
                  "vkCreateDescriptorSetLayout");
      setLayouts.push_back(setLayout);
    }
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, pushBytes};
    VkPipelineLayoutCreateInfo info = {
        VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    info.setLayoutCount = uint32_t(setLayouts.size());
    info.pSetLayouts = setLayouts.data();
    info.pushConstantRangeCount = pushBytes ? 1 : 0;
    info.pPushConstantRanges = &range;
    checkVulkan(api.vkCreatePipelineLayout(context.device, &info, nullptr,
                                           &pipelineLayout),
                "vkCreatePipelineLayout");
  }

  ~VulkanKernel() override {
    const VulkanApi &api = context.api;
    for (auto &[size, pipeline] : pipelines)
      api.vkDestroyPipeline(context.device, pipeline, nullptr);
    api.vkDestroyPipelineLayout(context.device, pipelineLayout, nullptr);
    for (VkDescriptorSetLayout setLayout : setLayouts)
      api.vkDestroyDescriptorSetLayout(context.device, setLayout, nullptr);
  }

  /// The pipeline for a launch with `block` threads per workgroup.
  VkPipeline pipelineFor(const Dim3 &block) {
    std::array<uint32_t, 3> size = {block.x, block.y, block.z};
    const VkPhysicalDeviceLimits &limits = context.limits();
    if (!layout().workgroupSizeFromSpecConstants) {
      const uint32_t *local = entry.localSize;
      if (local[0] && std::array<uint32_t, 3>{local[0], local[1], local[2]} !=
                          size)
        fail("launch of kernel '" + name() + "': block " + dims(size) +
             " differs from the shader's workgroup size " +
             dims({local[0], local[1], local[2]}) +
             " (its LocalSize; set KernelLayout::"
             "workgroupSizeFromSpecConstants for a variable one)");
      size = {0, 0, 0}; // one pipeline for every launch
    } else {
      for (int i = 0; i < 3; ++i)
        if (size[i] > limits.maxComputeWorkGroupSize[i])
          fail("launch of kernel '" + name() + "': block " + dims(size) +
               " exceeds the device's maxComputeWorkGroupSize");
      if (uint64_t(block.x) * block.y * block.z >
          limits.maxComputeWorkGroupInvocations)
        fail("launch of kernel '" + name() + "': block " + dims(size) +
             " has more than the device's " +
             std::to_string(limits.maxComputeWorkGroupInvocations) +
             " invocations per workgroup");
    }
    std::lock_guard<std::mutex> lock(mutex);
    auto found = pipelines.find(size);
    if (found != pipelines.end())
      return found->second;

    VkSpecializationMapEntry entries[3];
    for (uint32_t i = 0; i < 3; ++i)
      entries[i] = {layout().workgroupSizeSpecIds[i], i * 4, 4};
    VkSpecializationInfo specialization = {3, entries, sizeof(size),
                                           size.data()};
    VkComputePipelineCreateInfo info = {
        VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    info.stage.module = shader;
    info.stage.pName = entry.name.c_str();
    info.stage.pSpecializationInfo =
        layout().workgroupSizeFromSpecConstants ? &specialization : nullptr;
    info.layout = pipelineLayout;
    VkPipeline pipeline = VK_NULL_HANDLE;
    VkResult result = context.api.vkCreateComputePipelines(
        context.device, VK_NULL_HANDLE, 1, &info, nullptr, &pipeline);
    if (result != VK_SUCCESS)
      fail("vkCreateComputePipelines failed for kernel '" + name() +
           "' with " + vulkanResultName(result) +
           " (does the KernelLayout match the shader's bindings?)");
    pipelines.emplace(size, pipeline);
    return pipeline;
  }

  VulkanContext &context;
  VkShaderModule shader;
  SpirvEntryPoint entry;
  std::vector<VkDescriptorSetLayout> setLayouts;
  VkPipelineLayout pipelineLayout = VK_NULL_HANDLE;
  uint32_t pushBytes = 0;

private:
  [[noreturn]] void failLayout(size_t index, const std::string &message) {
    fail("layout of kernel '" + name() + "': parameter " +
         std::to_string(index) + ": " + message);
  }
  static std::string dims(std::array<uint32_t, 3> size) {
    return std::to_string(size[0]) + "x" + std::to_string(size[1]) + "x" +
           std::to_string(size[2]);
  }

  std::mutex mutex;
  std::map<std::array<uint32_t, 3>, VkPipeline> pipelines;
};

class VulkanModule : public Module {
public:
  VulkanModule(VulkanContext &context, VkShaderModule shader,
               std::vector<SpirvEntryPoint> entryPoints)
      : context(context), shader(shader), entryPoints(std::move(entryPoints)) {}
  ~VulkanModule() override {
    kernels.clear();
    context.api.vkDestroyShaderModule(context.device, shader, nullptr);
  }

  Kernel &getKernel(const std::string &name,
                    const KernelLayout &layout) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = kernels.find(name);
    if (found != kernels.end()) {
      if (!sameLayout(found->second->layout(), layout))
        fail("kernel '" + name + "' was already looked up with another layout");
      return *found->second;
    }
    const SpirvEntryPoint *entry = nullptr;
    std::string names;
    for (const SpirvEntryPoint &candidate : entryPoints) {
      names += (names.empty() ? "" : ", ") + candidate.name;
      if (candidate.name == name)
        entry = &candidate;
    }
    if (!entry)
      fail("the module has no entry point '" + name + "' (it has: " +
           (names.empty() ? "none" : names) + ")");
    if (entry->executionModel != 5)
      fail("entry point '" + name +
           "' is not a GLCompute shader (an OpenCL Kernel? Vulkan needs "
           "Shader-capability SPIR-V)");
    auto kernel = std::make_unique<VulkanKernel>(context, shader, *entry, layout);
    // Build the fixed-size pipeline now, so that a mismatch between the
    // layout and the shader shows at lookup, not at the first launch.
    if (!layout.workgroupSizeFromSpecConstants && entry->localSize[0])
      kernel->pipelineFor(
          {entry->localSize[0], entry->localSize[1], entry->localSize[2]});
    return *kernels.emplace(name, std::move(kernel)).first->second;
  }

  VulkanContext &context;

private:
  static bool sameLayout(const KernelLayout &a, const KernelLayout &b) {
    if (a.params.size() != b.params.size() ||
        a.workgroupSizeFromSpecConstants != b.workgroupSizeFromSpecConstants)
      return false;
    for (size_t i = 0; i < a.params.size(); ++i) {
      const KernelParam &x = a.params[i], &y = b.params[i];
      if (x.kind != y.kind || x.set != y.set || x.binding != y.binding ||
          x.offset != y.offset)
        return false;
    }
    return true;
  }

  VkShaderModule shader;
  std::vector<SpirvEntryPoint> entryPoints;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<VulkanKernel>> kernels;
};

class VulkanDevice : public Device {
public:
  VulkanDevice(DeviceInfo info, std::unique_ptr<VulkanContext> contextIn)
      : Device(std::move(info),
               std::make_unique<VulkanBlockSource>(*contextIn, false)),
        context(std::move(contextIn)) {
    mainStream = std::make_unique<VulkanStream>(*context, streams, streamsMutex);
  }

  ~VulkanDevice() override {
    mainStream.reset();
    releaseAllocator();
    // The context (staging allocator, VkDevice) goes last.
  }

  Stream &defaultStream() override { return *mainStream; }
  std::unique_ptr<Stream> createStream() override {
    return std::make_unique<VulkanStream>(*context, streams, streamsMutex);
  }
  std::unique_ptr<Event> createEvent() override {
    return std::make_unique<VulkanEvent>(*context);
  }
  void synchronize() override {
    std::lock_guard<std::mutex> lock(streamsMutex);
    for (VulkanStream *stream : streams)
      stream->synchronize();
  }

  void copyToDevice(DeviceBuffer dst, size_t dstOffset, const void *src,
                    size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyToDevice");
    if (!bytes)
      return;
    uint64_t staging = stagingBlock(bytes);
    std::memcpy(blockOf(staging).mapped, src, bytes);
    asVulkan(stream).enqueue([&](VkCommandBuffer commands, Batch &batch) {
      batch.stagingBlocks.push_back(staging);
      VkBufferCopy region = {0, dstOffset, bytes};
      context->api.vkCmdCopyBuffer(commands, blockOf(staging).buffer,
                                   blockOf(dst.handle).buffer, 1, &region);
    });
  }

  void copyToHost(void *dst, DeviceBuffer src, size_t srcOffset, size_t bytes,
                  Stream &stream) override {
    checkRange(src, srcOffset, bytes, "copyToHost");
    if (!bytes)
      return;
    VulkanStream &vulkanStream = asVulkan(stream);
    uint64_t staging = stagingBlock(bytes);
    try {
      vulkanStream.enqueue([&](VkCommandBuffer commands, Batch &) {
        VkBufferCopy region = {srcOffset, 0, bytes};
        context->api.vkCmdCopyBuffer(commands, blockOf(src.handle).buffer,
                                     blockOf(staging).buffer, 1, &region);
      });
      vulkanStream.synchronize();
    } catch (...) {
      context->staging->free(staging);
      throw;
    }
    std::memcpy(dst, blockOf(staging).mapped, bytes);
    context->staging->free(staging);
  }

  void copyOnDevice(DeviceBuffer dst, size_t dstOffset, DeviceBuffer src,
                    size_t srcOffset, size_t bytes, Stream &stream) override {
    checkRange(dst, dstOffset, bytes, "copyOnDevice (destination)");
    checkRange(src, srcOffset, bytes, "copyOnDevice (source)");
    if (!bytes)
      return;
    asVulkan(stream).enqueue([&](VkCommandBuffer commands, Batch &) {
      VkBufferCopy region = {srcOffset, dstOffset, bytes};
      context->api.vkCmdCopyBuffer(commands, blockOf(src.handle).buffer,
                                   blockOf(dst.handle).buffer, 1, &region);
    });
  }

  std::unique_ptr<Module> loadModule(ModuleFormat format, const void *data,
                                     size_t bytes) override {
    if (format != ModuleFormat::Spirv)
      Device::fail(std::string("cannot load a ") + moduleFormatName(format) +
                   " module; Vulkan takes SPIR-V");
    std::vector<SpirvEntryPoint> entryPoints;
    std::string error;
    if (!reflectSpirv(data, bytes, entryPoints, error))
      Device::fail("loadModule: " + error);
    VkShaderModuleCreateInfo info = {
        VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    info.codeSize = bytes;
    info.pCode = static_cast<const uint32_t *>(data);
    VkShaderModule shader = VK_NULL_HANDLE;
    checkVulkan(context->api.vkCreateShaderModule(context->device, &info,
                                                  nullptr, &shader),
                "vkCreateShaderModule");
    return std::make_unique<VulkanModule>(*context, shader,
                                          std::move(entryPoints));
  }

protected:
  void launchChecked(Kernel &kernelIn, const LaunchParams &params,
                     Stream &stream) override {
    auto *kernel = dynamic_cast<VulkanKernel *>(&kernelIn);
    if (!kernel || &kernel->context != context.get())
      Device::fail("launch of kernel '" + kernelIn.name() +
                   "': it was loaded on another device");
    if (params.sharedMemoryBytes)
      Device::fail("launch of kernel '" + kernel->name() +
                   "': Vulkan has no dynamic shared memory; declare "
                   "Workgroup variables in the shader");
    const VkPhysicalDeviceLimits &limits = context->limits();
    const uint32_t grid[3] = {params.grid.x, params.grid.y, params.grid.z};
    for (int i = 0; i < 3; ++i)
      if (grid[i] > limits.maxComputeWorkGroupCount[i])
        Device::fail("launch of kernel '" + kernel->name() + "': grid " +
                     "dimension " + std::to_string(i) + " is " +
                     std::to_string(grid[i]) + ", beyond the device's " +
                     std::to_string(limits.maxComputeWorkGroupCount[i]));
    const KernelLayout &layout = kernel->layout();
    VkDeviceSize alignment = limits.minStorageBufferOffsetAlignment;
    std::vector<uint8_t> pushConstants(kernel->pushBytes);
    for (size_t i = 0; i < params.args.size(); ++i) {
      const KernelArg &arg = params.args[i];
      if (arg.kind == ArgKind::Buffer) {
        if (arg.offset % alignment)
          Device::fail("launch of kernel '" + kernel->name() + "': argument " +
                       std::to_string(i) + ": offset " +
                       std::to_string(arg.offset) + " is not a multiple of " +
                       std::to_string(alignment) +
                       " (minStorageBufferOffsetAlignment)");
        continue;
      }
      std::memcpy(pushConstants.data() + layout.params[i].offset, &arg.bits,
                  arg.scalarBytes());
    }
    VkPipeline pipeline = kernel->pipelineFor(params.block);
    VulkanStream &vulkanStream = asVulkan(stream);
    vulkanStream.enqueue([&](VkCommandBuffer commands, Batch &batch) {
      const VulkanApi &api = context->api;
      std::vector<VkDescriptorSet> sets;
      for (VkDescriptorSetLayout setLayout : kernel->setLayouts)
        sets.push_back(vulkanStream.allocateDescriptorSet(batch, setLayout));
      std::vector<VkDescriptorBufferInfo> buffers(params.args.size());
      std::vector<VkWriteDescriptorSet> writes;
      for (size_t i = 0; i < params.args.size(); ++i) {
        const KernelArg &arg = params.args[i];
        if (arg.kind != ArgKind::Buffer)
          continue;
        buffers[i] = {blockOf(arg.buffer.handle).buffer, arg.offset,
                      VK_WHOLE_SIZE};
        VkWriteDescriptorSet write = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        write.dstSet = sets[layout.params[i].set];
        write.dstBinding = layout.params[i].binding;
        write.descriptorCount = 1;
        write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        write.pBufferInfo = &buffers[i];
        writes.push_back(write);
      }
      api.vkUpdateDescriptorSets(context->device, uint32_t(writes.size()),
                                 writes.data(), 0, nullptr);
      api.vkCmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
      if (!sets.empty())
        api.vkCmdBindDescriptorSets(commands, VK_PIPELINE_BIND_POINT_COMPUTE,
                                    kernel->pipelineLayout, 0,
                                    uint32_t(sets.size()), sets.data(), 0,
                                    nullptr);
      if (!pushConstants.empty())
        api.vkCmdPushConstants(commands, kernel->pipelineLayout,
                               VK_SHADER_STAGE_COMPUTE_BIT, 0,
                               uint32_t(pushConstants.size()),
                               pushConstants.data());
      bool timed = vulkanStream.timesDispatches(batch);
      uint32_t query = 2 * uint32_t(batch.dispatchNames.size());
      if (timed)
        api.vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                                batch.queries, query);
      api.vkCmdDispatch(commands, grid[0], grid[1], grid[2]);
      if (timed) {
        api.vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                                batch.queries, query + 1);
        batch.dispatchNames.push_back(kernel->name());
      }
    });
  }

private:
  VulkanStream &asVulkan(Stream &stream) {
    auto *vulkanStream = dynamic_cast<VulkanStream *>(&stream);
    if (!vulkanStream || &vulkanStream->context != context.get())
      Device::fail("a stream of another device or backend was passed");
    return *vulkanStream;
  }

  uint64_t stagingBlock(size_t bytes) {
    uint64_t handle = context->staging->allocate(bytes);
    if (!handle)
      Device::fail("out of host-visible memory for a " +
                   std::to_string(bytes) + "-byte staging buffer");
    return handle;
  }

  std::unique_ptr<VulkanContext> context;
  std::mutex streamsMutex;
  std::set<VulkanStream *> streams;
  std::unique_ptr<VulkanStream> mainStream;
};

/// The first memory type in `typeBits` with all of `required`.
uint32_t findMemoryType(const VkPhysicalDeviceMemoryProperties &memory,
                        uint32_t typeBits, VkMemoryPropertyFlags required) {
  for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
    if ((typeBits & (1u << i)) &&
        (memory.memoryTypes[i].propertyFlags & required) == required)
      return i;
  return UINT32_MAX;
}

} // namespace

std::unique_ptr<Device> openVulkanDevice(int ordinal) {
  const VulkanApi &api = vulkanApi();
  std::vector<DeviceInfo> infos = enumerateVulkanDevices();
  if (ordinal < 0 || size_t(ordinal) >= infos.size())
    throwNoSuchDevice(Backend::Vulkan, ordinal, infos.size());
  const VulkanPhysicalDevice &physical = api.devices[ordinal];
  auto context = std::make_unique<VulkanContext>(api, physical);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queueInfo = {
      VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queueInfo.queueFamilyIndex = physical.computeQueueFamily;
  queueInfo.queueCount = 1;
  queueInfo.pQueuePriorities = &priority;
  // The optional features kernels may need (SPIR-V Int64, Float64,
  // StorageBuffer16BitAccess, Float16), where the device has them.
  VkPhysicalDeviceShaderFloat16Int8Features float16 = {
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  float16.shaderFloat16 = physical.shaderFloat16;
  VkPhysicalDevice16BitStorageFeatures storage16 = {
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  storage16.storageBuffer16BitAccess = physical.storageBuffer16BitAccess;
  if (physical.shaderFloat16)
    storage16.pNext = &float16;
  VkPhysicalDeviceFeatures2 features = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &storage16;
  features.features.shaderInt64 = physical.shaderInt64;
  features.features.shaderFloat64 = physical.shaderFloat64;
  features.features.shaderInt16 = physical.shaderInt16;
  VkDeviceCreateInfo deviceInfo = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  deviceInfo.pNext = &features;
  deviceInfo.queueCreateInfoCount = 1;
  deviceInfo.pQueueCreateInfos = &queueInfo;
  checkVulkan(api.vkCreateDevice(physical.handle, &deviceInfo, nullptr,
                                 &context->device),
              "vkCreateDevice");
  api.vkGetDeviceQueue(context->device, physical.computeQueueFamily, 0,
                       &context->queue);

  // The memory types a storage buffer may live in, from a probe buffer.
  VkBufferCreateInfo probeInfo = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  probeInfo.size = kMinDeviceBlock;
  probeInfo.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                    VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                    VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  VkBuffer probe = VK_NULL_HANDLE;
  checkVulkan(api.vkCreateBuffer(context->device, &probeInfo, nullptr, &probe),
              "vkCreateBuffer");
  VkMemoryRequirements requirements;
  api.vkGetBufferMemoryRequirements(context->device, probe, &requirements);
  api.vkDestroyBuffer(context->device, probe, nullptr);
  uint32_t typeBits = requirements.memoryTypeBits;
  context->deviceMemoryType = findMemoryType(
      physical.memory, typeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (context->deviceMemoryType == UINT32_MAX)
    context->deviceMemoryType = findMemoryType(physical.memory, typeBits, 0);
  context->stagingMemoryType =
      findMemoryType(physical.memory, typeBits,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                         VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  if (context->deviceMemoryType == UINT32_MAX ||
      context->stagingMemoryType == UINT32_MAX)
    throw DeviceUnavailableError(
        Backend::Vulkan, std::string(physical.properties.deviceName) +
                             " has no memory type for storage buffers that "
                             "the host can map");
  context->staging = std::make_unique<CachingAllocator>(
      std::make_unique<VulkanBlockSource>(*context, true));
  return std::make_unique<VulkanDevice>(infos[ordinal], std::move(context));
}

} // namespace gpu
} // namespace ember
