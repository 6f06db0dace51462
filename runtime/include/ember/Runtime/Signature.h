//===- Signature.h - signing model files, and the keys a loader trusts -*- C++ -*-===//
//
// A section checksum (XXH64) catches corruption, not tampering: anyone who
// edits a file can recompute it. Native code therefore runs only from a file
// signed by a key the user trusts (or when the caller explicitly allows
// unsigned native code, see LoadOptions in Model.h).
//
// The signature is Ed25519 (libsodium) over a BLAKE2b-256 digest of every
// other section of the file, in table order: for each, its kind, its name,
// its size and the BLAKE2b-256 of its bytes, after a domain tag. It covers
// the manifest, the program, the weights and every artifact, so none of them
// can be swapped, edited, added or removed without breaking it. It lives in
// the file's `signature` section (format version 2):
//
//   offset 0   8 bytes  magic "EMBERSIG"
//          8   4        algorithm (u32): 1 = Ed25519 over the digest above
//         12   4        reserved, zero
//         16  32        the signer's public key
//         48  64        the signature
//
// Keys are text files: `ember-ed25519-secret-key <128 hex digits>` (written
// with mode 0600) and `ember-ed25519-public-key <64 hex digits>`; make a pair
// with `ember-compile --generate-key NAME`. The trust store is the public keys
// named by the caller, by EMBER_TRUSTED_KEYS (a ':'-separated list of key
// files or folders of `*.pub` files) and the folder
// $XDG_CONFIG_HOME/ember/trusted-keys (default ~/.config/ember/trusted-keys).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_SIGNATURE_H
#define EMBER_RUNTIME_SIGNATURE_H

#include "ember/Runtime/ModelFile.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ember {

struct PublicKey {
  std::array<uint8_t, 32> bytes{};
  /// Where it came from, for messages.
  std::string source;
  /// The first 16 hex digits of the key: how messages name a signer.
  std::string id() const;
};

struct SecretKey {
  /// libsodium's Ed25519 secret key (seed and public key).
  std::array<uint8_t, 64> bytes{};
};

/// Makes a key pair and writes `prefix`.key (mode 0600) and `prefix`.pub.
/// Refuses to overwrite an existing file. Throws ModelError.
PublicKey generateKeyPair(const std::string &prefix);
/// Reads a key file written by generateKeyPair. Throws ModelError.
SecretKey readSecretKey(const std::string &path);
PublicKey readPublicKey(const std::string &path);

/// The trust store: every key in `paths` (key files, or folders whose
/// `*.pub` files are read), then EMBER_TRUSTED_KEYS, then the default folder
/// when `includeDefaults`. An unreadable or malformed key that was named
/// explicitly (a path or EMBER_TRUSTED_KEYS) throws ModelError: a typo must
/// not silently leave the user with fewer trusted keys than intended.
std::vector<PublicKey> loadTrustedKeys(const std::vector<std::string> &paths,
                                       bool includeDefaults = true);

/// The `signature` section's bytes for `sections` (any existing signature
/// section among them is ignored), signed with `key`. Throws ModelError.
std::vector<uint8_t> signSections(const std::vector<SectionData> &sections,
                                  const SecretKey &key);

enum class SignatureState {
  /// The file has no signature section.
  Unsigned,
  /// Valid, by a key of the trust store.
  Trusted,
  /// Valid, by a key the store does not hold.
  UntrustedKey,
};

struct SignatureCheck {
  SignatureState state = SignatureState::Unsigned;
  /// The signer's key id (when signed).
  std::string signer;
};

/// Verifies `file`'s signature against its sections. A signature that is
/// present but does not match the contents (the file was changed after
/// signing) or is malformed throws ModelError naming the file.
SignatureCheck checkSignature(const ModelFile &file,
                              const std::vector<PublicKey> &trusted);

} // namespace ember

#endif // EMBER_RUNTIME_SIGNATURE_H
