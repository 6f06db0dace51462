//===- TcpStore.cpp - the key-value store rank 0 serves over TCP ---------===//
//
// torch's TCPStore in a few hundred lines of POSIX sockets: rank 0 runs a
// server (one thread per connection; a world is a handful of ranks) and
// every rank, rank 0 included, talks to it through one client connection.
// The protocol is a request byte followed by length-prefixed fields:
//   SET key value -> ack      GET key -> value (once the key exists)
//   ADD key delta -> total    WAIT n key... -> ack (once all exist)
// A rank that cannot reach the server, or a reply that does not come within
// the timeout, is a CollectiveError naming the address or the keys.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Stores.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ember::dist {
namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

enum Command : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kWait = 4 };

/// Thrown inside the server when a client hangs up: ends its thread.
struct Hangup {};

/// Reads exactly `size` bytes; false on end of stream or error. With a
/// deadline, waits at most until then (`timedOut` set).
bool readAll(int fd, void *data, size_t size, const Clock::time_point *deadline,
             bool *timedOut = nullptr) {
  char *p = static_cast<char *>(data);
  while (size) {
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - Clock::now());
      pollfd pfd{fd, POLLIN, 0};
      int ready = left.count() > 0 ? poll(&pfd, 1, static_cast<int>(left.count())) : 0;
      if (ready == 0) {
        if (timedOut)
          *timedOut = true;
        return false;
      }
      if (ready < 0 && errno != EINTR)
        return false;
      if (ready < 0)
        continue;
    }
    ssize_t n = ::recv(fd, p, size, 0);
    if (n == 0)
      return false;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    p += n;
    size -= n;
  }
  return true;
}

bool writeAll(int fd, const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size) {
    ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    p += n;
    size -= n;
  }
  return true;
}

/// Appends a length-prefixed field to a request or reply.
void putField(Bytes &out, const void *data, size_t size) {
  uint64_t length = size;
  const uint8_t *l = reinterpret_cast<const uint8_t *>(&length);
  out.insert(out.end(), l, l + 8);
  const uint8_t *d = static_cast<const uint8_t *>(data);
  out.insert(out.end(), d, d + size);
}
void putString(Bytes &out, const std::string &s) { putField(out, s.data(), s.size()); }

//===- Server --------------------------------------------------------------===//

class Server {
public:
  explicit Server(int port) {
    listenFd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ipv6 = listenFd >= 0;
    if (!ipv6)
      listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listenFd < 0)
      throw CollectiveError(std::string("TCP store: socket() failed: ") + strerror(errno));
    int one = 1, zero = 0;
    setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc;
    if (ipv6) {
      // Dual stack: IPv4 clients (127.0.0.1) reach it too.
      setsockopt(listenFd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_addr = in6addr_any;
      addr.sin6_port = htons(static_cast<uint16_t>(port));
      rc = ::bind(listenFd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_ANY);
      addr.sin_port = htons(static_cast<uint16_t>(port));
      rc = ::bind(listenFd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
    }
    if (rc != 0 || ::listen(listenFd, 128) != 0) {
      int error = errno;
      ::close(listenFd);
      throw CollectiveError("TCP store: cannot listen on port " + std::to_string(port) +
                            ": " + strerror(error) +
                            (error == EADDRINUSE ? " (is another job using MASTER_PORT?)" : ""));
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    getsockname(listenFd, reinterpret_cast<sockaddr *>(&bound), &length);
    boundPort = ntohs(bound.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6 &>(bound).sin6_port
                          : reinterpret_cast<sockaddr_in &>(bound).sin_port);
    acceptThread = std::thread([this] { acceptLoop(); });
  }

  ~Server() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      changed.notify_all();
      for (int fd : clientFds)
        ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(listenFd, SHUT_RDWR);
    acceptThread.join();
    ::close(listenFd);
    for (std::thread &t : clientThreads)
      t.join();
  }

  int port() const { return boundPort; }

private:
  void acceptLoop() {
    for (;;) {
      int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) {
        if (fd >= 0)
          ::close(fd);
        return;
      }
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      clientFds.push_back(fd);
      clientThreads.emplace_back([this, fd] { serve(fd); });
    }
  }

  std::string readString(int fd) {
    uint64_t length;
    if (!readAll(fd, &length, 8, nullptr) || length > (uint64_t(1) << 40))
      throw Hangup();
    std::string s(length, '\0');
    if (length && !readAll(fd, s.data(), length, nullptr))
      throw Hangup();
    return s;
  }

  void reply(int fd, const Bytes &bytes) {
    if (!writeAll(fd, bytes.data(), bytes.size()))
      throw Hangup();
  }

  /// Waits until every key exists; false when the server stops.
  bool waitFor(std::unique_lock<std::mutex> &lock, const std::vector<std::string> &keys) {
    changed.wait(lock, [&] {
      return stopping || std::all_of(keys.begin(), keys.end(), [&](const std::string &k) {
               return data.count(k) != 0;
             });
    });
    return !stopping;
  }

  void serve(int fd) {
    try {
      for (;;) {
        uint8_t command;
        if (!readAll(fd, &command, 1, nullptr))
          break;
        Bytes out;
        if (command == kSet) {
          std::string key = readString(fd), value = readString(fd);
          {
            std::lock_guard<std::mutex> lock(mutex);
            data[key] = Bytes(value.begin(), value.end());
            changed.notify_all();
          }
          out.push_back(0);
        } else if (command == kGet) {
          std::string key = readString(fd);
          std::unique_lock<std::mutex> lock(mutex);
          if (!waitFor(lock, {key}))
            break;
          const Bytes &value = data[key];
          putField(out, value.data(), value.size());
        } else if (command == kAdd) {
          std::string key = readString(fd), delta = readString(fd);
          int64_t step = 0;
          std::memcpy(&step, delta.data(), std::min<size_t>(8, delta.size()));
          int64_t total;
          {
            std::lock_guard<std::mutex> lock(mutex);
            Bytes &slot = data[key];
            int64_t current = 0;
            if (slot.size() == 8)
              std::memcpy(&current, slot.data(), 8);
            total = current + step;
            slot.resize(8);
            std::memcpy(slot.data(), &total, 8);
            changed.notify_all();
          }
          const uint8_t *t = reinterpret_cast<const uint8_t *>(&total);
          out.assign(t, t + 8);
        } else if (command == kWait) {
          std::string count = readString(fd);
          uint64_t n = 0;
          std::memcpy(&n, count.data(), std::min<size_t>(8, count.size()));
          std::vector<std::string> keys;
          for (uint64_t i = 0; i < n; ++i)
            keys.push_back(readString(fd));
          std::unique_lock<std::mutex> lock(mutex);
          if (!waitFor(lock, keys))
            break;
          out.push_back(0);
        } else {
          break; // not our protocol: drop the connection
        }
        reply(fd, out);
      }
    } catch (const Hangup &) {
    }
    std::lock_guard<std::mutex> lock(mutex);
    clientFds.erase(std::remove(clientFds.begin(), clientFds.end(), fd), clientFds.end());
    ::close(fd);
  }

  int listenFd = -1;
  int boundPort = 0;
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, Bytes> data;
  std::vector<int> clientFds;
  std::vector<std::thread> clientThreads;
  bool stopping = false;
  std::thread acceptThread;
};

//===- Client --------------------------------------------------------------===//

/// Connects to host:port, retrying (the server may not be up yet) until the
/// deadline.
int connectWithRetries(const std::string &host, int port, Clock::time_point deadline,
                       std::chrono::milliseconds timeout) {
  std::string lastError = "no attempt";
  auto pause = std::chrono::milliseconds(10);
  for (;;) {
    addrinfo hints{}, *results = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &results);
    if (rc != 0) {
      lastError = std::string("cannot resolve host: ") + gai_strerror(rc);
    } else {
      for (addrinfo *a = results; a; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
          continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          freeaddrinfo(results);
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          return fd;
        }
        lastError = strerror(errno);
        ::close(fd);
      }
      freeaddrinfo(results);
    }
    if (Clock::now() + pause > deadline)
      throw CollectiveError("TCP store: could not connect to " + host + ":" +
                            std::to_string(port) + " within " +
                            std::to_string(timeout.count() / 1000.0).substr(0, 6) +
                            " s (" + lastError +
                            "); is rank 0 running, and are MASTER_ADDR/MASTER_PORT right?");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(250));
  }
}

class TcpStore : public Store {
public:
  TcpStore(const std::string &host, int port, bool isServer, std::chrono::milliseconds timeout)
      : host(host), timeout(timeout) {
    if (isServer) {
      server = std::make_unique<Server>(port);
      port = server->port();
    }
    this->port = port;
    fd = connectWithRetries(isServer ? "127.0.0.1" : host, port, Clock::now() + timeout,
                            timeout);
  }
  ~TcpStore() override {
    ::close(fd);
    server.reset();
  }

  void set(const std::string &key, const std::vector<uint8_t> &value) override {
    Bytes request{kSet};
    putString(request, key);
    putField(request, value.data(), value.size());
    std::lock_guard<std::mutex> lock(mutex);
    send(request, key);
    uint8_t ack;
    receive(&ack, 1, key);
  }

  std::vector<uint8_t> get(const std::string &key) override {
    Bytes request{kGet};
    putString(request, key);
    std::lock_guard<std::mutex> lock(mutex);
    send(request, key);
    uint64_t length;
    receive(&length, 8, key);
    Bytes value(length);
    if (length)
      receive(value.data(), length, key);
    return value;
  }

  int64_t add(const std::string &key, int64_t delta) override {
    Bytes request{kAdd};
    putString(request, key);
    putField(request, &delta, 8);
    std::lock_guard<std::mutex> lock(mutex);
    send(request, key);
    int64_t total;
    receive(&total, 8, key);
    return total;
  }

  void wait(const std::vector<std::string> &keys) override {
    Bytes request{kWait};
    uint64_t n = keys.size();
    putField(request, &n, 8);
    std::string names;
    for (const std::string &k : keys) {
      putString(request, k);
      names += (names.empty() ? "'" : ", '") + k + "'";
    }
    std::lock_guard<std::mutex> lock(mutex);
    send(request, names);
    uint8_t ack;
    receive(&ack, 1, names);
  }

  int listeningPort() const { return port; }

private:
  void send(const Bytes &request, const std::string &what) {
    if (broken)
      throw CollectiveError("TCP store at " + host + ":" + std::to_string(port) +
                            " is unusable after an earlier error");
    if (!writeAll(fd, request.data(), request.size())) {
      broken = true;
      throw CollectiveError("TCP store: lost the connection to " + host + ":" +
                            std::to_string(port) + " (rank 0 exited?) while sending " + what);
    }
  }

  void receive(void *data, size_t size, const std::string &what) {
    auto deadline = Clock::now() + timeout;
    bool timedOut = false;
    if (readAll(fd, data, size, &deadline, &timedOut))
      return;
    broken = true;
    if (timedOut)
      throw CollectiveError("TCP store: timed out after " +
                            std::to_string(timeout.count()) + " ms waiting for key " +
                            what + " (a rank did not arrive, or died)");
    throw CollectiveError("TCP store: lost the connection to " + host + ":" +
                          std::to_string(port) + " (rank 0 exited?) waiting for " + what);
  }

  std::string host;
  int port = 0;
  std::chrono::milliseconds timeout;
  std::unique_ptr<Server> server;
  int fd = -1;
  bool broken = false;
  std::mutex mutex;
};

//===- Prefix --------------------------------------------------------------===//

class PrefixStore : public Store {
public:
  PrefixStore(std::string prefix, std::shared_ptr<Store> inner)
      : prefix(std::move(prefix) + "/"), inner(std::move(inner)) {}
  void set(const std::string &key, const std::vector<uint8_t> &value) override {
    inner->set(prefix + key, value);
  }
  std::vector<uint8_t> get(const std::string &key) override { return inner->get(prefix + key); }
  int64_t add(const std::string &key, int64_t delta) override {
    return inner->add(prefix + key, delta);
  }
  void wait(const std::vector<std::string> &keys) override {
    std::vector<std::string> full;
    for (const std::string &k : keys)
      full.push_back(prefix + k);
    inner->wait(full);
  }

private:
  std::string prefix;
  std::shared_ptr<Store> inner;
};

} // namespace

std::shared_ptr<Store> createTcpStore(const std::string &host, int port, bool isServer,
                                      std::chrono::milliseconds timeout) {
  return std::make_shared<TcpStore>(host, port, isServer, timeout);
}

int tcpStorePort(const Store &store) {
  if (auto *tcp = dynamic_cast<const TcpStore *>(&store))
    return tcp->listeningPort();
  return -1;
}

std::shared_ptr<Store> createPrefixStore(const std::string &prefix,
                                         std::shared_ptr<Store> store) {
  return std::make_shared<PrefixStore>(prefix, std::move(store));
}

} // namespace ember::dist
