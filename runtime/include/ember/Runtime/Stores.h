//===- Stores.h - the rendezvous stores of ember.distributed ----*- C++ -*-===//
//
// The key-value stores (Collectives.h's Store) that ranks find each other
// through: torch's TCPStore (init_method env:// and tcp://), FileStore
// (file://) and PrefixStore (one namespace per process group). Every
// blocking call gives up after the store's timeout with a CollectiveError
// that names the keys it waited for.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_STORES_H
#define EMBER_RUNTIME_STORES_H

#include "ember/Runtime/Collectives.h"

namespace ember::dist {

/// A store served by the process with `isServer` (rank 0) on host:port; the
/// others connect, retrying until `timeout` passes. The server also listens
/// when port is 0 (a free port: see tcpStorePort).
std::shared_ptr<Store> createTcpStore(const std::string &host, int port,
                                      bool isServer,
                                      std::chrono::milliseconds timeout);
/// The port a TCP store listens on or connects to.
int tcpStorePort(const Store &store);

/// A store in the directory `path` (Gloo's FileStore: one file per key),
/// which every rank must see (a shared file system across machines).
std::shared_ptr<Store> createFileStore(const std::string &path,
                                       std::chrono::milliseconds timeout);

/// `store` with every key prefixed by `prefix` + "/".
std::shared_ptr<Store> createPrefixStore(const std::string &prefix,
                                         std::shared_ptr<Store> store);

} // namespace ember::dist

#endif // EMBER_RUNTIME_STORES_H
