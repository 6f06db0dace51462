"""GPU devices for eager tensors: ``ember.devices()``, ``ember.cuda``,
``ember.vulkan``, ``ember.rocm``, ``ember.xpu`` (``is_available``,
``device_count``, ``get_device_name``). The factories take ``device=`` and
the ``_like`` forms keep their argument's device (python/src/Module.cpp).

Tensors on a GPU join the lazy graph like CPU tensors; when values are
needed, each device's part of the graph is compiled for it (Vulkan SPIR-V,
Level Zero SPIR-V, CUDA PTX, ROCm HSACO) and run through Ember's device
runtime, and the results stay on the device. ``.cpu()`` / ``.to("cpu")``
copy them back; ``.numpy()`` of a GPU tensor raises, as in torch. An op
mixing devices raises at the line that called it.
"""

import types

from ember import _ember

_KINDS = ("vulkan", "cuda", "rocm", "xpu")


def _kind_module(kind, label):
    module = types.ModuleType(f"ember.{kind}")
    module.__doc__ = f"The {label} device kind."

    def is_available():
        return bool(_ember._gpu_devices(kind))

    def device_count():
        return min(1, len(_ember._gpu_devices(kind)))

    def get_device_name(index=0):
        names = _ember._gpu_devices(kind)
        if index != 0 or not names:
            raise RuntimeError(f"{kind} device {index} is not available: "
                               f"{_ember._gpu_unavailable_reason(kind) or 'no such device'}")
        return names[0]

    def unavailable_reason():
        """Why the kind cannot be used here, or '' when it can."""
        return _ember._gpu_unavailable_reason(kind)

    # Seeding: device random streams are Ember's one generator, so these
    # seed it, as torch.cuda.manual_seed_all does on a machine with GPUs.
    def manual_seed(seed):
        _ember.manual_seed(int(seed))

    def synchronize(device=None):
        _ember.sync()

    module.manual_seed = manual_seed
    module.manual_seed_all = manual_seed
    module.synchronize = synchronize
    module.is_available = is_available
    module.device_count = device_count
    module.get_device_name = get_device_name
    module.unavailable_reason = unavailable_reason
    return module


vulkan = _kind_module("vulkan", "Vulkan (any Vulkan 1.1 driver, e.g. Mesa's lavapipe)")
cuda = _kind_module("cuda", "NVIDIA CUDA (driver API)")
rocm = _kind_module("rocm", "AMD ROCm (HIP)")
xpu = _kind_module("xpu", "Intel Level Zero")


def devices():
    """Every usable device, as strings: ``["cpu", "vulkan:0", ...]``."""
    found = ["cpu"]
    for kind in _KINDS:
        if _ember._gpu_devices(kind):
            found.append(f"{kind}:0")
    return found
