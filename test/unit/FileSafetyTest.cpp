//===- FileSafetyTest.cpp - leftovers of killed writers; strict .npy -------===//
//
// Atomic writes name their temporaries `.<name>.ember-tmp-<pid>-<random>` and
// the next write to a target removes those of dead writers only; .npy files
// with bytes after the data or a malformed header tail are rejected.
//
//===----------------------------------------------------------------------===//

#include "ModelErrorOf.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Npy.h"
#include "ember/Runtime/TempFiles.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace ember;
using ember::test::errorOf;

namespace {

/// A fresh, empty folder under the test's temporary folder.
std::string freshFolder(const std::string &name) {
  std::string folder = ::testing::TempDir() + "/" + name + "_" + std::to_string(::getpid());
  std::string command = "rm -rf '" + folder + "'";
  EXPECT_EQ(std::system(command.c_str()), 0);
  EXPECT_EQ(::mkdir(folder.c_str(), 0755), 0);
  return folder;
}

std::set<std::string> listFolder(const std::string &folder) {
  std::set<std::string> names;
  DIR *dir = ::opendir(folder.c_str());
  while (dirent *item = dir ? ::readdir(dir) : nullptr)
    if (std::strcmp(item->d_name, ".") != 0 && std::strcmp(item->d_name, "..") != 0)
      names.insert(item->d_name);
  if (dir)
    ::closedir(dir);
  return names;
}

void touch(const std::string &path, size_t bytes = 0) {
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// The pid of a process that has exited and been reaped.
pid_t deadPid() {
  pid_t child = ::fork();
  if (child == 0)
    ::_exit(0);
  int status;
  ::waitpid(child, &status, 0);
  return child;
}

} // namespace

TEST(AtomicWrite, TemporaryNamesSayWhoseTheyAre) {
  std::string pattern = tempFileTemplate("/some/dir", "m.ember");
  EXPECT_EQ(pattern, "/some/dir/.m.ember.ember-tmp-" + std::to_string(::getpid()) + "-XXXXXX");
  std::string dead = std::to_string(deadPid());
  EXPECT_TRUE(isStaleTemporary(".m.ember.ember-tmp-" + dead + "-a1B2c3", "m.ember"));
  EXPECT_TRUE(isStaleTemporary(".m.ember.ember-tmp-" + dead + "-a1B2c3"));
  // Another target's, a live writer's, and names that only look alike.
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-" + dead + "-a1B2c3", "n.ember"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-" + dead + "-a1B2c3", "m"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-" + std::to_string(::getpid()) + "-a1B2c3"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-1-a1B2c3")); // init, alive (or EPERM)
  EXPECT_FALSE(isStaleTemporary("m.ember.ember-tmp-" + dead + "-a1B2c3"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-" + dead + "-"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-" + dead + "-a.b"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-0-abc"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp--5-abc"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.ember-tmp-x" + dead + "-abc"));
  EXPECT_FALSE(isStaleTemporary(".ember-tmp-" + dead + "-abc"));
  EXPECT_FALSE(isStaleTemporary(".m.ember.tmp.abcdef", "m.ember"));
  EXPECT_FALSE(isStaleTemporary(".m", "m.ember"));
}

TEST(AtomicWrite, ANewWriteRemovesAKilledWritersTemporaryOnly) {
  std::string folder = freshFolder("killed_writer");
  std::string path = folder + "/t.bin";
  // A writer killed mid-write: its temporary holds part of the bytes.
  pid_t child = ::fork();
  if (child == 0) {
    std::string name = tempFileTemplate(folder, "t.bin");
    int fd = ::mkstemp(name.data());
    std::string half(1 << 20, 'k');
    if (fd >= 0 && ::write(fd, half.data(), half.size()) > 0)
      ::kill(::getpid(), SIGKILL);
    ::_exit(1);
  }
  int status;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  std::string killed = ".t.bin.ember-tmp-" + std::to_string(child) + "-";
  std::set<std::string> before = listFolder(folder);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(before.begin()->rfind(killed, 0), 0u) << *before.begin();

  std::string live = ".t.bin.ember-tmp-" + std::to_string(::getpid()) + "-Live01";
  std::string other = ".u.bin.ember-tmp-" + std::to_string(child) + "-Other1";
  touch(folder + "/" + live, 10);
  touch(folder + "/" + other, 10);
  std::string bytes(3 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 31 + 7);
  writeFileAtomically(path, bytes.data(), bytes.size());
  EXPECT_EQ(listFolder(folder), (std::set<std::string>{"t.bin", live, other}));
  EXPECT_EQ(readFile(path), bytes);

  // Removing the other target's leftover is its next write's job.
  writeFileAtomically(folder + "/u.bin", "u", 1);
  EXPECT_EQ(listFolder(folder), (std::set<std::string>{"t.bin", "u.bin", live}));
  EXPECT_EQ(readFile(folder + "/u.bin"), "u");
}

TEST(AtomicWrite, AFailedWriteLeavesNoTemporary) {
  std::string folder = freshFolder("failed_writer");
  std::string target = folder + "/a_folder";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  EXPECT_NE(errorOf([&] { writeFileAtomically(target, "x", 1); }).find("cannot write"),
            std::string::npos);
  EXPECT_EQ(listFolder(folder), (std::set<std::string>{"a_folder"}));
}

namespace {

std::string npyFile(const std::string &header, size_t dataBytes) {
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  return bytes + header + std::string(dataBytes, '\0');
}

std::string npyError(const std::string &bytes) {
  return errorOf([&] { readNpyBytes(bytes.data(), bytes.size(), "in.npy"); });
}

} // namespace

TEST(NpyStrict, AcceptsWhatNumPyWrites) {
  for (auto [header, data, describe] : std::vector<std::tuple<std::string, size_t, std::string>>{
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }          \n", 8,
            "[2] float32"},
           {"{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }\n", 48,
            "[2, 3] int64"},
           {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n", 8, "[] float64"},
           {"{'shape': (0, 10), 'fortran_order': False, 'descr': '<f4'}\n", 0,
            "[0, 10] float32"},
           {"{\"descr\": \"<f2\",\n 'fortran_order': False, 'shape': (1,2,)}  \n", 4,
            "[1, 2] float16"},
       }) {
    std::string bytes = npyFile(header, data);
    EXPECT_EQ(npyError(bytes), "") << header;
    EXPECT_EQ(readNpyBytes(bytes.data(), bytes.size(), "in.npy").describe(), describe);
  }
}

TEST(NpyStrict, RejectsBytesAfterTheData) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  for (size_t extra : {1, 3, 24}) {
    std::string message = npyError(npyFile(header, 24 + extra));
    EXPECT_EQ(message, "in.npy: " + std::to_string(extra) + " unexpected byte" +
                           (extra == 1 ? "" : "s") +
                           " after the .npy data ([2, 3] float32 needs 24 bytes, the file has " +
                           std::to_string(24 + extra) + " after the header)");
  }
  // An empty array has no data at all.
  EXPECT_NE(npyError(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }\n", 4))
                .find("4 unexpected bytes after the .npy data ([0] float32 needs 0 bytes"),
            std::string::npos);
  // On disk too (what ember-run --input reads).
  std::string path = ::testing::TempDir() + "/trailing.npy";
  std::ofstream(path, std::ios::binary) << npyFile(header, 25);
  std::string message = errorOf([&] { readNpy(path); });
  EXPECT_EQ(message.rfind(path + ": 1 unexpected byte after", 0), 0u) << message;
}

TEST(NpyStrict, RejectsAMalformedHeaderTail) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  for (auto [header, why] : std::vector<std::pair<std::string, std::string>>{
           {dict + " x\n", "unexpected text after the dict: 'x\n'"},
           {dict + "}\n", "unexpected text after the dict: '}\n'"},
           {dict + "\n\n", "unexpected text after the header's newline"},
           {dict + "\n ", "unexpected text after the header's newline"},
           {dict + "   ", "the header does not end in a newline"},
           {dict, "the header does not end in a newline"},
           {dict + "\t\n", "unexpected text after the dict: '\t\n'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }\n",
            "the shape (2) is not a tuple; write (2,)"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (02,), }\n",
            "a dim with a leading zero"},
           {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n",
            "the key 'descr' appears twice"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}\n",
            "the key 'shape' appears twice"},
       }) {
    EXPECT_EQ(npyError(npyFile(header, 8)), "in.npy: malformed .npy header: " + why) << header;
  }
}
