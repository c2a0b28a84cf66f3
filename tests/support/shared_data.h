// Locating the shared test data (../shared beside the project root) and the
// built binaries. Tests that need ../shared skip with a message when it is
// absent, so a checkout without it still runs the self-contained tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hearth::testing {

// $HEARTH_SHARED_DIR if set, else <source>/../shared; nullopt when missing.
std::optional<std::filesystem::path> shared_dir();

// The hearth executable built alongside the tests.
std::filesystem::path hearth_binary();

// Whole file as bytes; fails the test (ADD_FAILURE) and returns empty on error.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);
std::vector<float> read_f32_file(const std::filesystem::path& path);

// Runs a shell command, capturing stdout (and its exit status).
struct CommandResult {
  int exit_code = -1;
  std::string out;
};
CommandResult run_command(const std::string& command);

}  // namespace hearth::testing

// Skips the current test when ../shared is absent; otherwise binds `var` to it.
#define HEARTH_REQUIRE_SHARED(var)                                                   \
  const auto var##_opt = ::hearth::testing::shared_dir();                           \
  if (!var##_opt) {                                                                  \
    GTEST_SKIP() << "shared test data not found (../shared or $HEARTH_SHARED_DIR); " \
                    "skipping";                                                      \
  }                                                                                  \
  const std::filesystem::path var = *var##_opt
