//===- VulkanApi.cpp - loading libvulkan and the process's instance --------===//
//
// The instance lives until the process exits: drivers tear down their own
// state at exit, and destroying an instance from a static destructor races
// with theirs (Mesa's lavapipe in particular).
//
//===----------------------------------------------------------------------===//

#include "VulkanApi.h"

#include "Drivers.h"

#include <algorithm>

namespace ember {
namespace gpu {

const char *vulkanResultName(VkResult result) {
  switch (result) {
#define CASE(name)                                                             \
  case name:                                                                   \
    return #name;
    CASE(VK_SUCCESS)
    CASE(VK_NOT_READY)
    CASE(VK_TIMEOUT)
    CASE(VK_INCOMPLETE)
    CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    CASE(VK_ERROR_INITIALIZATION_FAILED)
    CASE(VK_ERROR_DEVICE_LOST)
    CASE(VK_ERROR_MEMORY_MAP_FAILED)
    CASE(VK_ERROR_LAYER_NOT_PRESENT)
    CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    CASE(VK_ERROR_TOO_MANY_OBJECTS)
    CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    CASE(VK_ERROR_FRAGMENTED_POOL)
    CASE(VK_ERROR_UNKNOWN)
    CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    CASE(VK_ERROR_FRAGMENTATION)
#undef CASE
  default:
    return "an unknown VkResult";
  }
}

void checkVulkan(VkResult result, const char *call) {
  if (result != VK_SUCCESS)
    throw DeviceError(Backend::Vulkan,
                      std::string(call) + " failed with " +
                          vulkanResultName(result) + " (" +
                          std::to_string(int(result)) + ")");
}

namespace {

std::unique_ptr<VulkanApi> loadVulkan() {
  auto library = DynamicLibrary::open(
      Backend::Vulkan, "EMBER_VULKAN_LIBRARY", {"libvulkan.so.1"},
      "install libvulkan1 and mesa-vulkan-drivers, or a GPU driver");
  auto getInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(
      library->symbol("vkGetInstanceProcAddr"));
  auto unavailable = [](const std::string &reason) {
    return DeviceUnavailableError(Backend::Vulkan, reason);
  };

  // vkEnumerateInstanceVersion is missing from 1.0 loaders.
  auto enumerateVersion = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(
      getInstanceProcAddr(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
  uint32_t loaderVersion = VK_API_VERSION_1_0;
  if (enumerateVersion)
    enumerateVersion(&loaderVersion);
  if (loaderVersion < VK_API_VERSION_1_1)
    throw unavailable(library->name() + " is a Vulkan 1.0 loader; Ember "
                                        "needs Vulkan 1.1");
  auto createInstance = reinterpret_cast<PFN_vkCreateInstance>(
      getInstanceProcAddr(VK_NULL_HANDLE, "vkCreateInstance"));
  if (!createInstance)
    throw unavailable(library->name() + " has no vkCreateInstance");

  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "ember";
  app.pEngineName = "ember";
  app.apiVersion = VK_API_VERSION_1_1;
  VkInstanceCreateInfo createInfo = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  createInfo.pApplicationInfo = &app;
  auto api = std::make_unique<VulkanApi>();
  api->library = library;
  VkResult result = createInstance(&createInfo, nullptr, &api->instance);
  if (result != VK_SUCCESS)
    throw unavailable(std::string("vkCreateInstance failed with ") +
                      vulkanResultName(result) +
                      (result == VK_ERROR_INCOMPATIBLE_DRIVER
                           ? " (no Vulkan driver installed: install "
                             "mesa-vulkan-drivers or a GPU driver; "
                             "VK_ICD_FILENAMES picks one)"
                           : ""));

  VkInstance instance = api->instance;
  auto resolve = [&](const char *name) {
    PFN_vkVoidFunction function = getInstanceProcAddr(instance, name);
    if (!function)
      throw unavailable(library->name() + " has no entry point " + name);
    return reinterpret_cast<void *>(function);
  };
#define RESOLVE(name, ret, ...)                                                \
  api->name = reinterpret_cast<decltype(api->name)>(resolve(#name));
  EMBER_VULKAN_SYMBOLS(RESOLVE)
#undef RESOLVE

  uint32_t count = 0;
  checkVulkan(api->vkEnumeratePhysicalDevices(instance, &count, nullptr),
              "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> physical(count);
  checkVulkan(
      api->vkEnumeratePhysicalDevices(instance, &count, physical.data()),
      "vkEnumeratePhysicalDevices");
  for (VkPhysicalDevice handle : physical) {
    VulkanPhysicalDevice device = {handle, UINT32_MAX, {}, {}};
    api->vkGetPhysicalDeviceProperties(handle, &device.properties);
    if (device.properties.apiVersion < VK_API_VERSION_1_1)
      continue;
    uint32_t familyCount = 0;
    api->vkGetPhysicalDeviceQueueFamilyProperties(handle, &familyCount,
                                                  nullptr);
    std::vector<VkQueueFamilyProperties> families(familyCount);
    api->vkGetPhysicalDeviceQueueFamilyProperties(handle, &familyCount,
                                                  families.data());
    for (uint32_t i = 0; i < familyCount; ++i)
      if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        device.computeQueueFamily = i;
        break;
      }
    if (device.computeQueueFamily == UINT32_MAX)
      continue;
    api->vkGetPhysicalDeviceMemoryProperties(handle, &device.memory);
    // Optional features (core in Vulkan 1.1 / 1.2), enabled at device
    // creation when present.
    VkPhysicalDeviceShaderFloat16Int8Features float16 = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice16BitStorageFeatures storage16 = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    if (device.properties.apiVersion >= VK_API_VERSION_1_2)
      storage16.pNext = &float16;
    VkPhysicalDeviceFeatures2 features = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    api->vkGetPhysicalDeviceFeatures2(handle, &features);
    device.shaderInt64 = features.features.shaderInt64;
    device.shaderFloat64 = features.features.shaderFloat64;
    device.shaderInt16 = features.features.shaderInt16;
    device.storageBuffer16BitAccess = storage16.storageBuffer16BitAccess;
    device.shaderFloat16 = float16.shaderFloat16;
    api->devices.push_back(device);
  }
  return api;
}

} // namespace

const VulkanApi &vulkanApi() {
  return loadApiOnce<VulkanApi>(Backend::Vulkan, loadVulkan);
}

std::vector<DeviceInfo> enumerateVulkanDevices() {
  const VulkanApi &api = vulkanApi();
  std::vector<DeviceInfo> infos;
  for (const VulkanPhysicalDevice &device : api.devices) {
    DeviceInfo info;
    info.name = device.properties.deviceName;
    info.backend = Backend::Vulkan;
    info.ordinal = int(infos.size());
    for (uint32_t i = 0; i < device.memory.memoryHeapCount; ++i)
      if (device.memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
        info.totalMemory =
            std::max<uint64_t>(info.totalMemory, device.memory.memoryHeaps[i].size);
    infos.push_back(info);
  }
  return infos;
}

} // namespace gpu
} // namespace ember
