// Splitting one line of a delimited text file (CSV, PEtab's TSV) into fields.
#pragma once

#include <string>
#include <vector>

namespace physynth::core {

// The fields of `line` separated by `sep`, each without surrounding spaces or
// a trailing '\r'; a separator inside double quotes does not split (the quotes
// are dropped). A trailing separator gives a last, empty field.
std::vector<std::string> split_fields(const std::string& line, char sep);

}  // namespace physynth::core
