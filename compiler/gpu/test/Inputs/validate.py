"""Checks every binary ember-gpu-cc wrote into a folder with the target's tools.

usage: validate.py <folder> <cuda|rocm|level-zero|vulkan>

cuda: every .ptx assembles with `ptxas -arch=sm_90` (skipped with a message
when ptxas is absent); rocm: every .hsaco has its kernel descriptor
`<kernel>.kd` and no undefined symbol (no __ockl/__ocml from ROCm's device
libraries); SPIR-V: every .spv passes spirv-val for the client API
(vulkan1.1; opencl2.0, or the core spv1.0 rules for f16 modules, which need
cl_khr_fp16). Prints
one line per binary and "N ok" at the end; exits 1 on the first failure.
"""
import glob
import os
import shutil
import subprocess
import sys


def tool(*names):
    for name in names:
        for folder in [None, "/usr/lib/llvm-22/bin", "/usr/local/cuda/bin"]:
            path = shutil.which(name, path=folder)
            if path:
                return path
    return None


def run(argv):
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("FAILED: %s\n%s%s" % (" ".join(argv), result.stdout, result.stderr))
    return result.stdout


def main():
    folder, target = sys.argv[1], sys.argv[2]
    count = 0
    if target == "cuda":
        ptxas = tool("ptxas")
        if not ptxas:
            print("ptxas not found: PTX not assembled (skipped)")
            return
        for ptx in sorted(glob.glob(os.path.join(folder, "*.ptx"))):
            run([ptxas, "-arch=sm_90", ptx, "-o", os.devnull])
            print("ptxas ok:", os.path.basename(ptx))
            count += 1
    elif target == "rocm":
        readelf = tool("llvm-readelf-22", "llvm-readelf")
        for hsaco in sorted(glob.glob(os.path.join(folder, "*.hsaco"))):
            kernel = os.path.basename(hsaco)[: -len(".hsaco")]
            symbols = run([readelf, "-s", "--dyn-syms", hsaco])
            if kernel + ".kd" not in symbols.split():
                sys.exit("FAILED: no kernel descriptor %s.kd in %s" % (kernel, hsaco))
            for line in symbols.splitlines():
                fields = line.split()
                if len(fields) >= 8 and fields[6] == "UND" and fields[7:]:
                    sys.exit("FAILED: undefined symbol %s in %s" % (fields[7], hsaco))
            if "__ockl" in symbols or "__ocml" in symbols:
                sys.exit("FAILED: device-library symbol in %s" % hsaco)
            print("hsaco ok:", kernel)
            count += 1
    else:
        env = "vulkan1.1" if target == "vulkan" else "opencl2.0"
        val = tool("spirv-val")
        for spv in sorted(glob.glob(os.path.join(folder, "*.spv"))):
            used = env
            result = subprocess.run([val, "--target-env", env, spv],
                                    capture_output=True, text=True)
            # f16 arithmetic in OpenCL SPIR-V needs cl_khr_fp16 (Level Zero
            # GPUs have it); spirv-val's OpenCL environments always reject
            # the Float16 capability, so such modules get the core rules.
            if (result.returncode != 0 and env.startswith("opencl")
                    and "Capability Float16 is not allowed" in result.stderr):
                used = "spv1.0"
            run([val, "--target-env", used, spv])
            print("spirv-val %s ok: %s" % (used, os.path.basename(spv)))
            count += 1
    if count == 0:
        sys.exit("FAILED: no binaries in %s" % folder)
    print("%d ok" % count)


main()
