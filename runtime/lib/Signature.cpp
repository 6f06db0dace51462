//===- Signature.cpp - Ed25519 signatures over model files -----------------===//
//
// libsodium does the cryptography (crypto_sign_detached and
// crypto_generichash, i.e. Ed25519 and BLAKE2b); this file only decides what
// is signed and how keys are stored. See Signature.h.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Signature.h"

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace ember {
namespace {

constexpr char kSignatureMagic[8] = {'E', 'M', 'B', 'E', 'R', 'S', 'I', 'G'};
constexpr uint32_t kAlgorithmEd25519Blake2b = 1;
constexpr size_t kSignatureSectionSize = 16 + 32 + 64;
constexpr char kDomain[] = "ember-model-signature-v1";
constexpr char kSecretHeader[] = "ember-ed25519-secret-key";
constexpr char kPublicHeader[] = "ember-ed25519-public-key";

static_assert(crypto_sign_PUBLICKEYBYTES == 32, "Ed25519 public key size");
static_assert(crypto_sign_SECRETKEYBYTES == 64, "Ed25519 secret key size");
static_assert(crypto_sign_BYTES == 64, "Ed25519 signature size");

void initSodium() {
  // Thread-safe and idempotent; fails only without an entropy source.
  if (sodium_init() < 0)
    throw ModelError("cannot initialise libsodium");
}

/// One section as the digest sees it.
struct SignedPart {
  uint32_t kind;
  const std::string *name;
  const uint8_t *data;
  uint64_t size;
};

/// BLAKE2b-256 over the domain tag and, per section, its kind, its name
/// (32 bytes, NUL padded as in the table), its size and its contents' hash.
std::array<uint8_t, 32> digestOf(const std::vector<SignedPart> &parts) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t *>(kDomain),
                            sizeof(kDomain));
  uint8_t count[4];
  uint32_t n = static_cast<uint32_t>(parts.size());
  std::memcpy(count, &n, 4);
  crypto_generichash_update(&state, count, 4);
  for (const SignedPart &part : parts) {
    uint8_t record[4 + 32 + 8 + 32] = {};
    std::memcpy(record, &part.kind, 4);
    std::memcpy(record + 4, part.name->data(), std::min<size_t>(part.name->size(), 31));
    std::memcpy(record + 36, &part.size, 8);
    crypto_generichash(record + 44, 32, part.data, part.size, nullptr, 0);
    crypto_generichash_update(&state, record, sizeof(record));
  }
  std::array<uint8_t, 32> digest;
  crypto_generichash_final(&state, digest.data(), digest.size());
  return digest;
}

std::string toHex(const uint8_t *bytes, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text;
}

bool fromHex(const std::string &text, uint8_t *bytes, size_t size) {
  if (text.size() != 2 * size)
    return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    int high = nibble(text[2 * i]), low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0)
      return false;
    bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

/// The hex digits of a key file `header <hex>` (one line), or throws.
std::string readKeyText(const std::string &path, const char *header) {
  std::ifstream in(path);
  if (!in)
    throw ModelError("cannot read key file '" + path + "': " + std::strerror(errno));
  std::string word, hex, rest;
  in >> word >> hex >> rest;
  if (word != header || !rest.empty())
    throw ModelError("'" + path + "' is not an ember key file (expected \"" +
                     header + " <hex>\"; make keys with ember-compile "
                     "--generate-key NAME)");
  return hex;
}

void writeNewFile(const std::string &path, const std::string &text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    throw ModelError("cannot create '" + path + "': " + std::strerror(errno) +
                     (errno == EEXIST ? " (keys are never overwritten)" : ""));
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) &&
            fsync(fd) == 0;
  ok &= ::close(fd) == 0;
  if (!ok) {
    ::unlink(path.c_str());
    throw ModelError("cannot write '" + path + "'");
  }
}

bool isDirectory(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

/// The `*.pub` files of a folder, sorted (so messages are stable).
std::vector<std::string> publicKeyFiles(const std::string &folder) {
  std::vector<std::string> files;
  DIR *dir = opendir(folder.c_str());
  if (!dir)
    return files;
  while (dirent *entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pub") == 0)
      files.push_back(folder + "/" + name);
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

void addKeys(const std::string &path, std::vector<PublicKey> *keys) {
  if (isDirectory(path)) {
    for (const std::string &file : publicKeyFiles(path))
      keys->push_back(readPublicKey(file));
    return;
  }
  keys->push_back(readPublicKey(path));
}

std::string defaultTrustFolder() {
  if (const char *config = std::getenv("XDG_CONFIG_HOME"); config && *config)
    return std::string(config) + "/ember/trusted-keys";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.config/ember/trusted-keys";
  return "";
}

} // namespace

std::string PublicKey::id() const { return toHex(bytes.data(), 8); }

PublicKey generateKeyPair(const std::string &prefix) {
  initSodium();
  PublicKey pub;
  SecretKey secret;
  crypto_sign_keypair(pub.bytes.data(), secret.bytes.data());
  // The public key first: a failure then leaves no secret key behind.
  writeNewFile(prefix + ".pub",
               std::string(kPublicHeader) + " " + toHex(pub.bytes.data(), 32) + "\n",
               0644);
  writeNewFile(prefix + ".key",
               std::string(kSecretHeader) + " " + toHex(secret.bytes.data(), 64) + "\n",
               0600);
  sodium_memzero(secret.bytes.data(), secret.bytes.size());
  pub.source = prefix + ".pub";
  return pub;
}

SecretKey readSecretKey(const std::string &path) {
  SecretKey key;
  if (!fromHex(readKeyText(path, kSecretHeader), key.bytes.data(), key.bytes.size()))
    throw ModelError("'" + path + "': the secret key must be 128 hex digits");
  return key;
}

PublicKey readPublicKey(const std::string &path) {
  PublicKey key;
  if (!fromHex(readKeyText(path, kPublicHeader), key.bytes.data(), key.bytes.size()))
    throw ModelError("'" + path + "': the public key must be 64 hex digits");
  key.source = path;
  return key;
}

std::vector<PublicKey> loadTrustedKeys(const std::vector<std::string> &paths,
                                       bool includeDefaults) {
  std::vector<PublicKey> keys;
  for (const std::string &path : paths)
    addKeys(path, &keys);
  if (const char *list = std::getenv("EMBER_TRUSTED_KEYS"); list && *list) {
    std::stringstream stream(list);
    std::string path;
    while (std::getline(stream, path, ':'))
      if (!path.empty())
        addKeys(path, &keys);
  }
  if (includeDefaults) {
    std::string folder = defaultTrustFolder();
    if (!folder.empty() && isDirectory(folder))
      addKeys(folder, &keys);
  }
  return keys;
}

std::vector<uint8_t> signSections(const std::vector<SectionData> &sections,
                                  const SecretKey &key) {
  initSodium();
  std::vector<SignedPart> parts;
  for (const SectionData &section : sections)
    if (section.kind != SectionKind::Signature)
      parts.push_back({static_cast<uint32_t>(section.kind), &section.name,
                       section.bytes.data(), section.bytes.size()});
  std::array<uint8_t, 32> digest = digestOf(parts);
  std::vector<uint8_t> bytes(kSignatureSectionSize, 0);
  std::memcpy(bytes.data(), kSignatureMagic, 8);
  std::memcpy(bytes.data() + 8, &kAlgorithmEd25519Blake2b, 4);
  // libsodium's secret key ends with the public key.
  std::memcpy(bytes.data() + 16, key.bytes.data() + 32, 32);
  crypto_sign_detached(bytes.data() + 48, nullptr, digest.data(), digest.size(),
                       key.bytes.data());
  return bytes;
}

SignatureCheck checkSignature(const ModelFile &file,
                              const std::vector<PublicKey> &trusted) {
  SignatureCheck check;
  const SectionView *section = file.find("signature");
  if (!section)
    return check;
  auto fail = [&](const std::string &what) -> void {
    throw ModelError(file.label() + ": signature: " + what);
  };
  uint32_t algorithm = 0, reserved = 0;
  if (section->size == kSignatureSectionSize) {
    std::memcpy(&algorithm, section->data + 8, 4);
    std::memcpy(&reserved, section->data + 12, 4);
  }
  if (section->size != kSignatureSectionSize ||
      std::memcmp(section->data, kSignatureMagic, 8) != 0 || reserved != 0)
    fail("the section is malformed");
  if (algorithm != kAlgorithmEd25519Blake2b)
    fail("unknown algorithm " + std::to_string(algorithm));
  initSodium();
  std::vector<SignedPart> parts;
  for (const SectionView &view : file.sections())
    if (view.kind != SectionKind::Signature)
      parts.push_back({static_cast<uint32_t>(view.kind), &view.name, view.data, view.size});
  std::array<uint8_t, 32> digest = digestOf(parts);
  PublicKey signer;
  std::memcpy(signer.bytes.data(), section->data + 16, 32);
  check.signer = signer.id();
  if (crypto_sign_verify_detached(section->data + 48, digest.data(), digest.size(),
                                  signer.bytes.data()) != 0)
    fail("does not match the contents (the file was changed after it was "
         "signed by key " + check.signer + "); refusing to use it");
  bool known = std::any_of(trusted.begin(), trusted.end(), [&](const PublicKey &key) {
    return key.bytes == signer.bytes;
  });
  check.state = known ? SignatureState::Trusted : SignatureState::UntrustedKey;
  return check;
}

} // namespace ember
