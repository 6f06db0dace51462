//===- CollectivesTest.cpp - the engine table, async queue and TCP store --===//
//
// The parts of ember.distributed that need no engine: the backend registry,
// runAsync's ordering and error passing, and the TCP store between threads
// of one process (server, clients, blocking gets, add, timeouts).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CollectiveChecks.h"
#include "ember/Runtime/Collectives.h"
#include "ember/Runtime/Stores.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace ember::dist;
using namespace std::chrono_literals;

namespace {

/// A communicator whose calls do nothing: only its identity matters here.
class NullCommunicator : public Communicator {
public:
  const char *backendName() const override { return "null"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allReduce(Buffer, ReduceOp) override {}
  void broadcast(Buffer, int) override {}
  void reduce(Buffer, ReduceOp, int) override {}
  void allGather(Buffer, Buffer) override {}
  void reduceScatter(Buffer, Buffer, ReduceOp) override {}
  void gather(Buffer, Buffer, int) override {}
  void scatter(Buffer, Buffer, int) override {}
  void allToAll(Buffer, Buffer, const std::vector<size_t> &,
                const std::vector<size_t> &) override {}
  void send(Buffer, int, int) override {}
  void recv(Buffer, int, int) override {}
  void barrier() override {}
  std::unique_ptr<Communicator> split(const std::vector<int> &) override { return nullptr; }
};

std::vector<uint8_t> bytes(const std::string &s) { return {s.begin(), s.end()}; }

TEST(Collectives, RegistryNamesWhatIsAvailable) {
  registerBackend("null-test", [](const CommunicatorOptions &) {
    return std::make_unique<NullCommunicator>();
  });
  CommunicatorOptions options;
  options.backend = "null-test";
  EXPECT_STREQ(createCommunicator(options)->backendName(), "null");
  options.backend = "no-such-engine";
  try {
    createCommunicator(options);
    FAIL() << "no error for an unknown backend";
  } catch (const CollectiveError &error) {
    EXPECT_NE(std::string(error.what()).find("'no-such-engine'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("null-test"), std::string::npos);
  }
}

TEST(Collectives, ArgumentMessagesAreEmptyForValidArguments) {
  EXPECT_EQ(rankOutsideGroupMessage(0, 2, "broadcast"), "");
  EXPECT_EQ(rankOutsideGroupMessage(1, 2, "broadcast"), "");
  EXPECT_EQ(rankOutsideGroupMessage(2, 2, "broadcast"),
            "broadcast: rank 2 is outside the group of 2 ranks");
  EXPECT_EQ(rankOutsideGroupMessage(-1, 3, "recv"),
            "recv: rank -1 is outside the group of 3 ranks");
  Buffer buffer;
  buffer.numElements = 6;
  EXPECT_EQ(sizeMismatchMessage(buffer, 6, "gather", "output"), "");
  EXPECT_EQ(sizeMismatchMessage(buffer, 8, "gather", "output"),
            "gather: the output has 6 elements, expected 8");
}

TEST(Collectives, RunAsyncKeepsIssueOrderAndRethrows) {
  NullCommunicator communicator;
  std::vector<int> order;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < 50; ++i)
    works.push_back(runAsync(communicator, [&order, i] { order.push_back(i); }));
  auto failing = runAsync(communicator, [] { throw CollectiveError("peer died"); });
  auto after = runAsync(communicator, [&order] { order.push_back(50); });
  for (auto &w : works)
    w->wait();
  EXPECT_THROW(failing->wait(), CollectiveError);
  after->wait(); // an error does not stop the queue
  EXPECT_TRUE(after->isCompleted());
  ASSERT_EQ(order.size(), 51u);
  for (int i = 0; i <= 50; ++i)
    EXPECT_EQ(order[i], i);
  finishAsync(communicator);
}

TEST(Collectives, FinishAsyncDrainsTheQueue) {
  NullCommunicator communicator;
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i)
    runAsync(communicator, [&ran] {
      std::this_thread::sleep_for(1ms);
      ++ran;
    });
  finishAsync(communicator);
  EXPECT_EQ(ran.load(), 10);
}

TEST(TcpStore, SetGetAddWaitAcrossClients) {
  std::shared_ptr<Store> server = createTcpStore("127.0.0.1", 0, true, 5s);
  int port = tcpStorePort(*server);
  ASSERT_GT(port, 0);
  std::shared_ptr<Store> client = createTcpStore("127.0.0.1", port, false, 5s);
  // A get blocks until another client sets the key.
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    server->set("late", bytes("value"));
  });
  EXPECT_EQ(client->get("late"), bytes("value"));
  setter.join();
  client->set("empty", {});
  EXPECT_TRUE(server->get("empty").empty());
  client->set("late", bytes("again")); // overwrite
  EXPECT_EQ(server->get("late"), bytes("again"));
  EXPECT_EQ(server->add("count", 2), 2);
  EXPECT_EQ(client->add("count", 3), 5);
  client->wait({"late", "count"});
  auto prefixed = createPrefixStore("group1", client);
  prefixed->set("k", bytes("p"));
  EXPECT_EQ(server->get("group1/k"), bytes("p"));
}

TEST(TcpStore, TimesOutNamingTheKey) {
  std::shared_ptr<Store> server = createTcpStore("127.0.0.1", 0, true, 200ms);
  auto start = std::chrono::steady_clock::now();
  try {
    server->get("never");
    FAIL() << "no timeout";
  } catch (const CollectiveError &error) {
    EXPECT_NE(std::string(error.what()).find("'never'"), std::string::npos) << error.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(TcpStore, ConnectingGivesUpAfterTheTimeout) {
  // A port nobody listens on: take one and close it.
  int port;
  {
    std::shared_ptr<Store> server = createTcpStore("127.0.0.1", 0, true, 1s);
    port = tcpStorePort(*server);
  }
  try {
    createTcpStore("127.0.0.1", port, false, 300ms);
    FAIL() << "connected to nothing";
  } catch (const CollectiveError &error) {
    EXPECT_NE(std::string(error.what()).find("could not connect"), std::string::npos);
  }
}

TEST(TcpStore, NamesRanksThatDropTheirConnection) {
  std::shared_ptr<Store> server = createTcpStore("127.0.0.1", 0, true, 5s);
  int port = tcpStorePort(*server);
  announceRank(*server, 0);
  std::shared_ptr<Store> polite = createTcpStore("127.0.0.1", port, false, 5s);
  announceRank(*createPrefixStore("default_pg", polite), 1);
  polite.reset(); // a clean close says goodbye
  EXPECT_EQ(describeLostRanks(*server), "");
  // A rank that dies drops its connection without one: a raw client says
  // HELLO 2 (TcpStore.cpp's protocol) and closes.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
  uint8_t hello[17] = {5, 8};
  int64_t rank = 2;
  std::memcpy(hello + 9, &rank, 8);
  ASSERT_EQ(::send(fd, hello, sizeof(hello), 0), ssize_t(sizeof(hello)));
  uint8_t ack;
  ASSERT_EQ(::recv(fd, &ack, 1, 0), 1);
  ::close(fd);
  EXPECT_EQ(describeLostRanks(*server), " [rank 2 has exited or crashed]");
}

TEST(TcpStore, ClientsSeeTheServerGo) {
  std::shared_ptr<Store> server = createTcpStore("127.0.0.1", 0, true, 5s);
  std::shared_ptr<Store> client = createTcpStore("127.0.0.1", tcpStorePort(*server), false, 5s);
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    server.reset();
  });
  EXPECT_THROW(client->get("never"), CollectiveError);
  stopper.join();
}

} // namespace
