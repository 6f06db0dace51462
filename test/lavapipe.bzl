"""The environment of every test that runs Vulkan here: Mesa's lavapipe only
(VK_ICD_FILENAMES), without Mesa's on-disk shader cache (the sandbox's HOME
may not be writable), on two threads (the machine's two cores)."""

LAVAPIPE_ENV = {
    "VK_ICD_FILENAMES": "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
    "MESA_SHADER_CACHE_DISABLE": "true",
    "LP_NUM_THREADS": "2",
}
