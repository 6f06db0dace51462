//===- TempFiles.h - names of atomic writers' temporary files ---*- C++ -*-===//
//
// An atomic write (writeFileAtomically, and ember.save in Python) puts its
// bytes in `.<name>.ember-tmp-<pid>-<random>` next to the target `<name>`,
// then renames it over the target. A writer that is killed (SIGKILL, the
// OOM killer, a power cut) leaves that file behind, up to the target's full
// size; the next write to the same target removes such leftovers whose
// writer process no longer exists, never one a live process is writing.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_TEMPFILES_H
#define EMBER_RUNTIME_TEMPFILES_H

#include <string>

namespace ember {

/// The infix that marks a temporary: `.<name>` + kTempInfix + `<pid>-<random>`.
inline constexpr char kTempInfix[] = ".ember-tmp-";

/// The mkstemp template for a temporary of `name` in `folder`, written by
/// this process.
std::string tempFileTemplate(const std::string &folder, const std::string &name);

/// Whether `fileName` (no folder) is a temporary of target `name` ("" for
/// any target) whose writer process is gone. A process of another user
/// counts as alive; the check sees this machine's (pid namespace's)
/// processes only.
bool isStaleTemporary(const std::string &fileName, const std::string &name = "");

/// Removes the stale temporaries of `name` from `folder`; errors are ignored
/// (another writer may remove the same file first).
void removeStaleTemporaries(const std::string &folder, const std::string &name);

} // namespace ember

#endif // EMBER_RUNTIME_TEMPFILES_H
