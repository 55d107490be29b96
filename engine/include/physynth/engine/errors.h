// What the engine's tools throw, by whose doing, so every subcommand maps it to one exit code:
// 2 for what the user asked (FolderBusy, FolderRefused and plain std::runtime_error from input
// checks), 1 for what failed while doing it (IoError, DamagedData).
#pragma once

#include <stdexcept>

namespace physynth::engine {

// The output folder is held by another physynth process; the message names it and the holder.
struct FolderBusy : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The output folder cannot be written as asked: not a directory, or it holds files physynth did
// not write and no physynth output, or a write would replace such a file.
struct FolderRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Reading or writing a file failed (full or read-only disk, file-size limit, permissions).
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A file a run folder's manifest lists is missing or differs from its SHA-256.
struct DamagedData : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace physynth::engine
