// `hearth inspect` driven as a user would: text and JSON on a real model, and
// broken or hostile files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "shared_data.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using hearth::testing::hearth_binary;
using hearth::testing::run_command;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth_inspect_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `hearth inspect ARGS`; stdout in .out, stderr in `err`.
  hearth::testing::CommandResult inspect(const std::string& args, std::string* err = nullptr) {
    const fs::path err_path = dir_ / "stderr.txt";
    auto r = run_command(shell_quote(hearth_binary().string()) + " inspect " + args + " 2>" +
                         shell_quote(err_path.string()));
    if (err) {
      std::ifstream in(err_path);
      std::stringstream ss;
      ss << in.rdbuf();
      *err = ss.str();
    }
    return r;
  }

  fs::path dir_;
};

TEST_F(InspectTest, TextShowsHeaderMetadataAndTensorTable) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path model = shared / "models" / "stories260K.gguf";
  const auto r = inspect(shell_quote(model.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string& out = r.out;
  EXPECT_NE(out.find(model.string()), std::string::npos);
  EXPECT_NE(out.find(std::to_string(fs::file_size(model))), std::string::npos);

  std::istringstream lines(out);
  std::string line;
  bool arch = false, tokens = false, table_header = false;
  size_t tensor_rows = 0;
  const gguf::File f = gguf::File::open(model.string());
  while (std::getline(lines, line)) {
    if (line.find("general.architecture") != std::string::npos) {
      arch = line.find("\"llama\"") != std::string::npos;
    }
    if (line.find("tokenizer.ggml.tokens") != std::string::npos) {
      // 512 tokens: shortened, with the count.
      tokens = line.find("\"<unk>\"") != std::string::npos &&
               line.find("...") != std::string::npos &&
               line.find("512 strings") != std::string::npos;
    }
    if (line.find("name") != std::string::npos && line.find("type") != std::string::npos &&
        line.find("shape") != std::string::npos && line.find("bytes") != std::string::npos &&
        line.find("offset") != std::string::npos) {
      table_header = true;
    }
    // A row per tensor: name, type, shape, size and offset on one line.
    std::istringstream words(line);
    std::string name;
    words >> name;
    if (const gguf::TensorInfo* t = f.find_tensor(name)) {
      ++tensor_rows;
      EXPECT_NE(line.find(" F32 "), std::string::npos) << line;
      EXPECT_NE(line.find(t->shape_string()), std::string::npos) << line;
      EXPECT_NE(line.find(" " + std::to_string(t->n_bytes) + " "), std::string::npos) << line;
      EXPECT_EQ(line.substr(line.size() - std::to_string(t->offset).size()),
                std::to_string(t->offset))
          << line;
    }
  }
  EXPECT_TRUE(arch);
  EXPECT_TRUE(tokens);
  EXPECT_TRUE(table_header);
  EXPECT_EQ(tensor_rows, 48u);
  EXPECT_NE(out.find("48 tensors"), std::string::npos);
}

TEST_F(InspectTest, JsonIsOneValidObject) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path model = shared / "models" / "stories260K.gguf";
  const auto r = inspect(shell_quote(model.string()) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out.substr(0, 2000);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.at("version"), 3);
  EXPECT_EQ(j.at("size"), fs::file_size(model));
  EXPECT_EQ(j.at("tensor_count"), 48);
  ASSERT_EQ(j.at("tensors").size(), 48u);

  const gguf::File f = gguf::File::open(model.string());
  for (size_t k = 0; k < f.tensors().size(); ++k) {
    const auto& t = f.tensors()[k];
    const auto& jt = j.at("tensors")[k];
    EXPECT_EQ(jt.at("name"), t.name);
    EXPECT_EQ(jt.at("type"), "F32");
    EXPECT_EQ(jt.at("shape").get<std::vector<int64_t>>(), t.dims);
    EXPECT_EQ(jt.at("bytes"), t.n_bytes);
    EXPECT_EQ(jt.at("offset"), t.offset);
  }
  uint64_t params = 0;
  for (const auto& t : f.tensors()) params += static_cast<uint64_t>(t.n_elements);
  EXPECT_EQ(j.at("totals").at("parameters"), params);

  EXPECT_EQ(j.at("metadata").size(), f.metadata().size());
  bool embd = false, tokens = false;
  for (const auto& m : j.at("metadata")) {
    if (m.at("key") == "llama.embedding_length") embd = m.at("value") == 64;
    if (m.at("key") == "tokenizer.ggml.tokens") {
      EXPECT_EQ(m.at("count"), 512);
      EXPECT_EQ(m.at("element_type"), "string");
      EXPECT_LT(m.at("value").size(), 512u);  // shortened
      EXPECT_EQ(m.at("value")[0], "<unk>");
      tokens = true;
    }
  }
  EXPECT_TRUE(embd);
  EXPECT_TRUE(tokens);
}

TEST_F(InspectTest, BrokenFileGivesOneErrorLineNamingIt) {
  // A truncated copy of a valid file (made here, so no shared data needed).
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.add_tensor("t", GgmlType::F32, {64}, std::vector<uint8_t>(256, 1));
  const auto bytes = w.to_bytes();
  const fs::path broken = dir_ / "broken model.gguf";
  std::ofstream(broken, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size() / 2));

  for (const std::string& args :
       {shell_quote(broken.string()), shell_quote(broken.string()) + " --json",
        shell_quote((dir_ / "missing.gguf").string())}) {
    SCOPED_TRACE(args);
    std::string err;
    const auto r = inspect(args, &err);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");  // nothing half-printed
    ASSERT_FALSE(err.empty());
    EXPECT_EQ(err.back(), '\n');
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    const std::string named = args.find("missing") != std::string::npos
                                  ? (dir_ / "missing.gguf").string()
                                  : broken.string();
    EXPECT_NE(err.find(named + ":"), std::string::npos) << err;
  }
}

// Keys and strings may hold any bytes: text stays printable and JSON valid.
TEST_F(InspectTest, HostileStringsStayPrintableAndValidJson) {
  gguf::Writer w;
  const std::string binary = "bad\xff\xfe utf8 \x1b[31m red \x01\n\"end";
  w.set_string("general.architecture", binary);
  w.set_string(std::string("key\xc3\x28 odd"), "value");
  w.set_array("strings", gguf::make_string_array(std::vector<std::string>(100, binary)));
  w.set_array("nested", gguf::make_array_of_arrays(std::vector<gguf::Array>(
                            20, gguf::make_array(std::vector<uint64_t>(50, ~0ull)))));
  w.set_f32("nan", std::numeric_limits<float>::quiet_NaN());
  const fs::path file = dir_ / "hostile.gguf";
  w.write(file.string());

  auto r = inspect(shell_quote(file.string()));
  ASSERT_EQ(r.exit_code, 0);
  for (const char c : r.out) {
    EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20)
        << "raw control byte " << int(c);
    if (c != '\n' && static_cast<unsigned char>(c) < 0x20) break;
  }
  EXPECT_NE(r.out.find("\\xff"), std::string::npos);
  EXPECT_NE(r.out.find("18446744073709551615"), std::string::npos);  // u64 shown exactly
  EXPECT_NE(r.out.find("(100 strings)"), std::string::npos);
  EXPECT_LT(r.out.size(), 4000u);  // 100 strings and 1000 numbers, shortened

  r = inspect(shell_quote(file.string()) + " --json");
  ASSERT_EQ(r.exit_code, 0);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out.substr(0, 2000);
  EXPECT_EQ(j.at("metadata").size(), 5u);
  EXPECT_EQ(j.at("metadata")[3].at("count"), 20);
  EXPECT_EQ(j.at("metadata")[3].at("value")[0].at("value")[0], ~0ull);
}

}  // namespace
}  // namespace hearth
