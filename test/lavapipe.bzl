"""The environment of every test that runs Vulkan here: Mesa's lavapipe only
(VK_ICD_FILENAMES), without Mesa's on-disk shader cache (the sandbox's HOME
may not be writable), on two threads (the machine's two cores), its shader
compiler unoptimized (GALLIVM_PERF=nopt)."""

LAVAPIPE_ENV = {
    "VK_ICD_FILENAMES": "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
    "MESA_SHADER_CACHE_DISABLE": "true",
    "LP_NUM_THREADS": "2",
    # lavapipe's shader compiler without LLVM's optimization passes: the
    # suites run tiny shapes, where compiling each pipeline (not running it)
    # took ~80% of a case; unoptimized, a Vulkan case compiles ~2x faster.
    # What the tests check (Ember's SPIR-V and results) is the same.
    "GALLIVM_PERF": "nopt",
}
