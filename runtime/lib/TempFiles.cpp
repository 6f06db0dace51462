//===- TempFiles.cpp - names of atomic writers' temporary files -----------===//

#include "ember/Runtime/TempFiles.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

namespace ember {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isRandomChar(char c) {
  // mkstemp's alphabet, and the hex of Python's writer.
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/// Whether `tail` is `<pid>-<random>`; sets `pid`.
bool parseTail(const std::string &tail, long &pid) {
  size_t dash = tail.find('-');
  if (dash == 0 || dash == std::string::npos || dash > 9 || dash + 1 == tail.size())
    return false;
  pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (!isDigit(tail[i]))
      return false;
    pid = pid * 10 + (tail[i] - '0');
  }
  for (size_t i = dash + 1; i < tail.size(); ++i)
    if (!isRandomChar(tail[i]))
      return false;
  return pid > 0;
}

bool processIsGone(long pid) {
  // kill(pid, 0) only asks; EPERM means a process of another user lives.
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

} // namespace

std::string tempFileTemplate(const std::string &folder, const std::string &name) {
  return folder + "/." + name + kTempInfix + std::to_string(::getpid()) + "-XXXXXX";
}

bool isStaleTemporary(const std::string &fileName, const std::string &name) {
  if (fileName.size() < 2 || fileName[0] != '.')
    return false;
  size_t infix;
  if (name.empty()) {
    infix = fileName.rfind(kTempInfix);
    if (infix == std::string::npos || infix < 2)
      return false;
  } else {
    infix = 1 + name.size();
    if (fileName.size() < infix + std::strlen(kTempInfix) ||
        fileName.compare(1, name.size(), name) != 0 ||
        fileName.compare(infix, std::strlen(kTempInfix), kTempInfix) != 0)
      return false;
  }
  long pid;
  return parseTail(fileName.substr(infix + std::strlen(kTempInfix)), pid) &&
         processIsGone(pid);
}

void removeStaleTemporaries(const std::string &folder, const std::string &name) {
  DIR *dir = ::opendir(folder.empty() ? "/" : folder.c_str());
  if (!dir)
    return;
  while (dirent *item = ::readdir(dir))
    if (isStaleTemporary(item->d_name, name))
      ::unlink((folder + "/" + item->d_name).c_str());
  ::closedir(dir);
}

} // namespace ember
