// Reading a whole file named on the command line (templates, messages,
// saved conversations). Throws hearth::Error naming the path.
#pragma once

#include <string>

namespace hearth::cli {

std::string read_file(const std::string& path);
// The same, with "-" meaning standard input.
std::string read_input(const std::string& path);

}  // namespace hearth::cli
