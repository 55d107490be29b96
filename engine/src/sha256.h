#pragma once

#include <string>

namespace physynth::engine {

// Lower-case hex SHA-256 of a file's bytes; throws std::runtime_error if it cannot be read.
std::string sha256_file(const std::string& path);
// Lower-case hex SHA-256 of bytes in memory.
std::string sha256_hex(const std::string& bytes);

}  // namespace physynth::engine
