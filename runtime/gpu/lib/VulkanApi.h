//===- VulkanApi.h - the Vulkan entry points Ember calls --------*- C++ -*-===//
//
// Vulkan's types come from <vulkan/vulkan.h> (libvulkan-dev) with
// VK_NO_PROTOTYPES, so nothing links against libvulkan: only
// vkGetInstanceProcAddr is looked up with dlsym, everything else through it.
// One VkInstance (API 1.1) serves the whole process.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_VULKANAPI_H
#define EMBER_RUNTIME_GPU_VULKANAPI_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "DynamicLibrary.h"

namespace ember {
namespace gpu {

/// Every instance- and device-level function the Vulkan driver calls.
#define EMBER_VULKAN_SYMBOLS(X)                                                \
  X(vkDestroyInstance, void, VkInstance, const VkAllocationCallbacks *)        \
  X(vkEnumeratePhysicalDevices, VkResult, VkInstance, uint32_t *,              \
    VkPhysicalDevice *)                                                        \
  X(vkGetPhysicalDeviceProperties, void, VkPhysicalDevice,                     \
    VkPhysicalDeviceProperties *)                                              \
  X(vkGetPhysicalDeviceMemoryProperties, void, VkPhysicalDevice,               \
    VkPhysicalDeviceMemoryProperties *)                                        \
  X(vkGetPhysicalDeviceQueueFamilyProperties, void, VkPhysicalDevice,          \
    uint32_t *, VkQueueFamilyProperties *)                                     \
  X(vkGetPhysicalDeviceFeatures2, void, VkPhysicalDevice,                      \
    VkPhysicalDeviceFeatures2 *)                                               \
  X(vkCreateDevice, VkResult, VkPhysicalDevice, const VkDeviceCreateInfo *,    \
    const VkAllocationCallbacks *, VkDevice *)                                 \
  X(vkDestroyDevice, void, VkDevice, const VkAllocationCallbacks *)            \
  X(vkGetDeviceQueue, void, VkDevice, uint32_t, uint32_t, VkQueue *)           \
  X(vkDeviceWaitIdle, VkResult, VkDevice)                                      \
  X(vkCreateBuffer, VkResult, VkDevice, const VkBufferCreateInfo *,            \
    const VkAllocationCallbacks *, VkBuffer *)                                 \
  X(vkDestroyBuffer, void, VkDevice, VkBuffer, const VkAllocationCallbacks *)  \
  X(vkGetBufferMemoryRequirements, void, VkDevice, VkBuffer,                   \
    VkMemoryRequirements *)                                                    \
  X(vkAllocateMemory, VkResult, VkDevice, const VkMemoryAllocateInfo *,        \
    const VkAllocationCallbacks *, VkDeviceMemory *)                           \
  X(vkFreeMemory, void, VkDevice, VkDeviceMemory,                              \
    const VkAllocationCallbacks *)                                             \
  X(vkBindBufferMemory, VkResult, VkDevice, VkBuffer, VkDeviceMemory,          \
    VkDeviceSize)                                                              \
  X(vkMapMemory, VkResult, VkDevice, VkDeviceMemory, VkDeviceSize,             \
    VkDeviceSize, VkMemoryMapFlags, void **)                                   \
  X(vkCreateShaderModule, VkResult, VkDevice,                                  \
    const VkShaderModuleCreateInfo *, const VkAllocationCallbacks *,           \
    VkShaderModule *)                                                          \
  X(vkDestroyShaderModule, void, VkDevice, VkShaderModule,                     \
    const VkAllocationCallbacks *)                                             \
  X(vkCreateDescriptorSetLayout, VkResult, VkDevice,                           \
    const VkDescriptorSetLayoutCreateInfo *, const VkAllocationCallbacks *,    \
    VkDescriptorSetLayout *)                                                   \
  X(vkDestroyDescriptorSetLayout, void, VkDevice, VkDescriptorSetLayout,       \
    const VkAllocationCallbacks *)                                             \
  X(vkCreatePipelineLayout, VkResult, VkDevice,                                \
    const VkPipelineLayoutCreateInfo *, const VkAllocationCallbacks *,         \
    VkPipelineLayout *)                                                        \
  X(vkDestroyPipelineLayout, void, VkDevice, VkPipelineLayout,                 \
    const VkAllocationCallbacks *)                                             \
  X(vkCreateComputePipelines, VkResult, VkDevice, VkPipelineCache, uint32_t,   \
    const VkComputePipelineCreateInfo *, const VkAllocationCallbacks *,        \
    VkPipeline *)                                                              \
  X(vkDestroyPipeline, void, VkDevice, VkPipeline,                             \
    const VkAllocationCallbacks *)                                             \
  X(vkCreateDescriptorPool, VkResult, VkDevice,                                \
    const VkDescriptorPoolCreateInfo *, const VkAllocationCallbacks *,         \
    VkDescriptorPool *)                                                        \
  X(vkDestroyDescriptorPool, void, VkDevice, VkDescriptorPool,                 \
    const VkAllocationCallbacks *)                                             \
  X(vkAllocateDescriptorSets, VkResult, VkDevice,                              \
    const VkDescriptorSetAllocateInfo *, VkDescriptorSet *)                    \
  X(vkUpdateDescriptorSets, void, VkDevice, uint32_t,                          \
    const VkWriteDescriptorSet *, uint32_t, const VkCopyDescriptorSet *)       \
  X(vkCreateCommandPool, VkResult, VkDevice, const VkCommandPoolCreateInfo *,  \
    const VkAllocationCallbacks *, VkCommandPool *)                            \
  X(vkDestroyCommandPool, void, VkDevice, VkCommandPool,                       \
    const VkAllocationCallbacks *)                                             \
  X(vkAllocateCommandBuffers, VkResult, VkDevice,                              \
    const VkCommandBufferAllocateInfo *, VkCommandBuffer *)                    \
  X(vkFreeCommandBuffers, void, VkDevice, VkCommandPool, uint32_t,             \
    const VkCommandBuffer *)                                                   \
  X(vkBeginCommandBuffer, VkResult, VkCommandBuffer,                           \
    const VkCommandBufferBeginInfo *)                                          \
  X(vkEndCommandBuffer, VkResult, VkCommandBuffer)                             \
  X(vkCmdPipelineBarrier, void, VkCommandBuffer, VkPipelineStageFlags,         \
    VkPipelineStageFlags, VkDependencyFlags, uint32_t,                         \
    const VkMemoryBarrier *, uint32_t, const VkBufferMemoryBarrier *,          \
    uint32_t, const VkImageMemoryBarrier *)                                    \
  X(vkCmdCopyBuffer, void, VkCommandBuffer, VkBuffer, VkBuffer, uint32_t,      \
    const VkBufferCopy *)                                                      \
  X(vkCmdBindPipeline, void, VkCommandBuffer, VkPipelineBindPoint, VkPipeline) \
  X(vkCmdBindDescriptorSets, void, VkCommandBuffer, VkPipelineBindPoint,       \
    VkPipelineLayout, uint32_t, uint32_t, const VkDescriptorSet *, uint32_t,   \
    const uint32_t *)                                                          \
  X(vkCmdPushConstants, void, VkCommandBuffer, VkPipelineLayout,               \
    VkShaderStageFlags, uint32_t, uint32_t, const void *)                      \
  X(vkCmdDispatch, void, VkCommandBuffer, uint32_t, uint32_t, uint32_t)        \
  X(vkCreateFence, VkResult, VkDevice, const VkFenceCreateInfo *,              \
    const VkAllocationCallbacks *, VkFence *)                                  \
  X(vkDestroyFence, void, VkDevice, VkFence, const VkAllocationCallbacks *)    \
  X(vkGetFenceStatus, VkResult, VkDevice, VkFence)                             \
  X(vkWaitForFences, VkResult, VkDevice, uint32_t, const VkFence *, VkBool32,  \
    uint64_t)                                                                  \
  X(vkQueueSubmit, VkResult, VkQueue, uint32_t, const VkSubmitInfo *, VkFence) \
  X(vkCreateQueryPool, VkResult, VkDevice, const VkQueryPoolCreateInfo *,      \
    const VkAllocationCallbacks *, VkQueryPool *)                              \
  X(vkDestroyQueryPool, void, VkDevice, VkQueryPool,                           \
    const VkAllocationCallbacks *)                                             \
  X(vkCmdResetQueryPool, void, VkCommandBuffer, VkQueryPool, uint32_t,         \
    uint32_t)                                                                  \
  X(vkCmdWriteTimestamp, void, VkCommandBuffer, VkPipelineStageFlagBits,       \
    VkQueryPool, uint32_t)                                                     \
  X(vkGetQueryPoolResults, VkResult, VkDevice, VkQueryPool, uint32_t,          \
    uint32_t, size_t, void *, VkDeviceSize, VkQueryResultFlags)

/// A physical device Ember can use: Vulkan 1.1 with a compute queue.
struct VulkanPhysicalDevice {
  VkPhysicalDevice handle;
  uint32_t computeQueueFamily;
  VkPhysicalDeviceProperties properties;
  VkPhysicalDeviceMemoryProperties memory;
  /// What compiled kernels may use (and the device is created with):
  /// 64-bit ints and floats, 16-bit ints and storage buffers, float16.
  bool shaderInt64 = false;
  bool shaderFloat64 = false;
  bool shaderInt16 = false;
  bool storageBuffer16BitAccess = false;
  bool shaderFloat16 = false;
};

/// The loaded library, the process's instance and its usable devices.
struct VulkanApi {
  EMBER_VULKAN_SYMBOLS(EMBER_GPU_DECLARE_SYMBOL)
  std::shared_ptr<DynamicLibrary> library;
  VkInstance instance = VK_NULL_HANDLE;
  std::vector<VulkanPhysicalDevice> devices;
};

/// Loads libvulkan and creates the instance once per process; throws
/// DeviceUnavailableError when either fails.
const VulkanApi &vulkanApi();

/// "VK_ERROR_OUT_OF_DEVICE_MEMORY" and friends.
const char *vulkanResultName(VkResult result);

/// Throws DeviceError "vulkan: <call> failed with <result>" unless
/// `result` is VK_SUCCESS.
void checkVulkan(VkResult result, const char *call);

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_VULKANAPI_H
