//===- SharedMemoryTest.cpp - memory other processes can map --------------===//
//
// Regions are real memfd files: a second mapping of a duplicate descriptor
// (what another process gets) and a forked child see the same pages.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/SharedMemory.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <fcntl.h>

using namespace ember;

TEST(SharedMemory, ADuplicateDescriptorMapsTheSamePages) {
  size_t before = liveSharedMemoryRegions();
  auto region = SharedMemoryRegion::create(1 << 20);
  ASSERT_NE(region->data(), nullptr);
  EXPECT_EQ(region->bytes(), size_t(1) << 20);
  // Fresh pages read as zeros.
  EXPECT_EQ(static_cast<unsigned char *>(region->data())[12345], 0);
  auto other = SharedMemoryRegion::adopt(dup(region->fd()), 1 << 20);
  EXPECT_NE(other->data(), region->data());
  EXPECT_EQ(liveSharedMemoryRegions(), before + 2);
  static_cast<int *>(region->data())[1000] = 42;
  EXPECT_EQ(static_cast<int *>(other->data())[1000], 42);
  static_cast<int *>(other->data())[7] = -3;
  EXPECT_EQ(static_cast<int *>(region->data())[7], -3);
  region.reset();
  // The other mapping keeps the pages.
  EXPECT_EQ(static_cast<int *>(other->data())[1000], 42);
  other.reset();
  EXPECT_EQ(liveSharedMemoryRegions(), before);
}

TEST(SharedMemory, AForkedChildWritesWhatTheParentReads) {
  auto region = SharedMemoryRegion::create(4096);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::strcpy(static_cast<char *>(region->data()), "from the child");
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_STREQ(static_cast<char *>(region->data()), "from the child");
}

TEST(SharedMemory, EmptyRegionsMapAByte) {
  auto region = SharedMemoryRegion::create(0);
  EXPECT_EQ(region->bytes(), 0u);
  auto other = SharedMemoryRegion::adopt(dup(region->fd()), 0);
  EXPECT_NE(other->data(), nullptr);
}

TEST(SharedMemory, AdoptingAShortFileThrows) {
  auto region = SharedMemoryRegion::create(100);
  int fd = dup(region->fd());
  try {
    SharedMemoryRegion::adopt(fd, 1 << 20);
    FAIL() << "expected SharedMemoryError";
  } catch (const SharedMemoryError &error) {
    EXPECT_NE(std::string(error.what()).find("the file has 100"), std::string::npos)
        << error.what();
  }
  // The descriptor was closed on failure.
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST(SharedMemory, AdoptingABadDescriptorThrows) {
  EXPECT_THROW(SharedMemoryRegion::adopt(-1, 16), SharedMemoryError);
}
