//===- ModelCustomOps.cpp - load the custom op libraries a model names ----===//
//
// A model whose program calls C++ custom ops names their libraries in the
// manifest (file name, BLAKE2b-256, ops). Loading one runs its code, so it
// follows the rule for native code (docs/model-format.md, "Trust model"):
// only from a file signed by a trusted key (whose manifest, and so the
// library's digest, the signature covers) or when the caller allows
// unsigned native code; never implicitly. The library is found in the
// caller's LoadOptions::customOpPaths, then next to the model file, and
// must have the digest the manifest records. Ops that this process
// registered already (its own explicit load) need no library.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CustomOpRegistry.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ModelFile.h"

#include <sodium.h>

#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace ember {
namespace {

bool isFile(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string folderOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

/// The library's candidates: each customOpPaths entry (a file with the
/// library's name, or a folder holding it), then the model's folder.
std::vector<std::string> candidates(const std::string &name,
                                    const std::string &modelPath,
                                    const LoadOptions &options) {
  std::vector<std::string> paths;
  for (const std::string &entry : options.customOpPaths) {
    size_t slash = entry.rfind('/');
    std::string base = slash == std::string::npos ? entry : entry.substr(slash + 1);
    if (base == name && isFile(entry))
      paths.push_back(entry);
    else if (isFile(entry + "/" + name))
      paths.push_back(entry + "/" + name);
  }
  if (isFile(modelPath) && isFile(folderOf(modelPath) + "/" + name))
    paths.push_back(folderOf(modelPath) + "/" + name);
  return paths;
}

std::string blake2bHex(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (sodium_init() < 0)
    throw ModelError("cannot initialise libsodium");
  unsigned char digest[32];
  crypto_generichash(digest, sizeof(digest),
                     reinterpret_cast<const unsigned char *>(bytes.data()),
                     bytes.size(), nullptr, 0);
  static const char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned char byte : digest) {
    text.push_back(hex[byte >> 4]);
    text.push_back(hex[byte & 15]);
  }
  return text;
}

} // namespace

void loadModelCustomOps(const ModelFile &file, const Manifest &manifest,
                        const LoadOptions &options) {
  const std::string &label = file.label();
  for (const CustomOpLibrarySpec &library : manifest.customOpLibraries) {
    bool registered = true;
    for (const std::string &op : library.ops)
      registered &= findCustomOp(op) != nullptr;
    if (registered)
      continue;
    std::string what = label + ": the model calls custom ops from '" +
                       library.name + "'";
    std::string untrusted = untrustedCodeReason(file, options);
    if (!untrusted.empty())
      throw ModelError(what + ", a native library; refusing to load it: the "
                       "file is " + untrusted);
    std::vector<std::string> paths = candidates(library.name, label, options);
    if (paths.empty())
      throw ModelError(what + ", which was not found (looked in "
                       "LoadOptions::customOpPaths / ember-run "
                       "--custom-op-path, then next to the model file)");
    std::string digest = blake2bHex(paths.front());
    if (digest != library.blake2b)
      throw ModelError(what + ": '" + paths.front() + "' is not the library "
                       "the model was exported with (BLAKE2b " + digest +
                       ", the manifest says " + library.blake2b + ")");
    try {
      loadCustomOpLibrary(paths.front());
    } catch (const std::runtime_error &error) {
      throw ModelError(what + ": " + error.what());
    }
    for (const std::string &op : library.ops)
      if (!findCustomOp(op))
        throw ModelError(what + ": '" + paths.front() + "' does not register '" +
                         op + "'");
  }
}

} // namespace ember
