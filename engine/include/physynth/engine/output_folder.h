// An output folder as physynth writes into it: one writer at a time, and a ledger of what
// physynth wrote there, so that --overwrite removes exactly that and nothing a user put there.
//
//   DIR/.physynth/lock    held with flock(LOCK_EX) by the command writing DIR; it names the
//                         holding process (pid, command) for the message a second writer gets
//   DIR/.physynth/files   the ledger: one path (relative to DIR) per line, appended *before*
//                         physynth creates the file, so a killed process leaves it listed too;
//                         "name/" is a folder physynth made (a nested output folder, plots/ ...)
//
// Every physynth writer goes through write_file_atomically (or note_output_file), which records
// the path in the ledger of the folder this process holds that contains it, and refuses to
// replace a file there that physynth did not write.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "physynth/engine/errors.h"

namespace physynth::engine {

class OutputFolder {
 public:
  // Takes `directory` for `command` (creating it, and its parents, when missing): an exclusive
  // lock held until the last handle is gone. Taking a folder this process already holds returns
  // the same handle. Throws FolderBusy, FolderRefused, or std::runtime_error (cannot create it).
  // With `allow_foreign`, a folder holding other files and no physynth output is accepted (the
  // new files are recorded; nothing else is touched): for commands whose -o names a file's folder.
  static std::shared_ptr<OutputFolder> take(const std::string& directory, const std::string& command,
                                            bool allow_foreign = false);
  ~OutputFolder();
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  const std::string& directory() const;          // as the command was given it
  const std::string& canonical_directory() const;  // absolute, symlinks resolved: what paths are matched against
  // Whether the ledger lists anything (physynth wrote here before).
  bool has_physynth_output() const;
  // Up to `limit` files (relative paths, sorted) that physynth did not write; nested folders that
  // are physynth output folders of their own are not looked into.
  std::vector<std::string> foreign_files(std::size_t limit) const;
  // Removes every file the ledger lists (and "<file>.partial" beside it), nested physynth
  // folders it made (their own physynth files only), and folders left empty by that; then
  // empties the ledger. Files physynth did not write are never touched. Returns how many were removed.
  std::size_t remove_physynth_files();
  // Removes one listed path (file, or a "name/" folder physynth made) the same way; false if
  // the ledger does not list it.
  bool remove_physynth_path(const std::string& relative);
  // Removes "<file>.partial" of every listed file: what a killed writer left (before a resume).
  void remove_partial_files();
  // Whether the ledger lists `relative` (a path relative to the folder).
  bool lists(const std::string& relative) const;
  // Records `path` (inside the folder) as physynth's; no check.
  void record(const std::string& path);

  struct Impl;

 private:
  explicit OutputFolder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Called by every writer before it creates or replaces `path`: in a folder this process holds
// (the innermost that contains `path`), records it in the ledger; throws FolderRefused when
// `path` exists there and physynth did not write it. Outside held folders it does nothing.
void note_output_file(const std::string& path);

// "a, b, c and 4 more": a few of the names, for messages.
std::string few_names(const std::vector<std::string>& names, std::size_t total, std::size_t shown = 4);

}  // namespace physynth::engine
