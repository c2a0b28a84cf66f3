// `hearth template` driven as a user would: a template file or a GGUF
// model's tokenizer.chat_template, messages from JSON, the prompt on stdout
// byte for byte, template errors as one line on stderr with the line number.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "shared_data.h"
#include "tokenizer/gguf_test_writer.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using hearth::testing::hearth_binary;
using hearth::testing::run_command;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TemplateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth_template_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  // Runs `hearth template ARGS`; stdout in .out, stderr in `err`.
  hearth::testing::CommandResult run(const std::string& args, std::string* err = nullptr) {
    const fs::path err_path = dir_ / "stderr.txt";
    auto r = run_command(shell_quote(hearth_binary().string()) + " template " + args + " 2>" +
                         shell_quote(err_path.string()));
    if (err) *err = read_text(err_path);
    return r;
  }

  fs::path dir_;
};

const char* kSimpleTemplate =
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}";

TEST_F(TemplateCliTest, RendersTemplateFileExactly) {
  const fs::path tmpl = write("t.jinja", kSimpleTemplate);
  const fs::path msgs = write("m.json", R"([{"role": "user", "content": "Hi"}])");
  auto r = run("--template " + shell_quote(tmpl.string()) + " --messages " + shell_quote(msgs.string()) +
               " --bos '<s>' --eos '</s>'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "<s><|user|>Hi</s>\n");  // no newline added after the prompt's own

  r = run("--template " + shell_quote(tmpl.string()) + " --messages " + shell_quote(msgs.string()) +
          " --add-generation-prompt");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "<|user|>Hi\n<|assistant|>");  // no --bos/--eos: empty
}

TEST_F(TemplateCliTest, ToolsVarsAndClock) {
  const fs::path tmpl = write(
      "t.jinja",
      "{{ tools|map(attribute='name')|join(',') }}|{{ enable_thinking }}|{{ strftime_now('%d %b %Y') }}");
  const fs::path msgs = write("m.json", R"({"messages": [], "tools": [{"name": "a"}, {"name": "b"}]})");
  auto r = run("--template " + shell_quote(tmpl.string()) + " --messages " + shell_quote(msgs.string()) +
               " --var enable_thinking=false --now 2026-01-15");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "a,b|False|15 Jan 2026");
}

TEST_F(TemplateCliTest, ReadsTemplateAndSpecialTokensFromModel) {
  testing::GgufTestWriter w;
  testing::write_vocab(w, testing::spm_test_tokens(false, {{"hello"}}))
      .u32("tokenizer.ggml.bos_token_id", 1)
      .u32("tokenizer.ggml.eos_token_id", 2)
      .string("tokenizer.chat_template", kSimpleTemplate);
  const auto bytes = w.bytes();
  const fs::path model = dir_ / "model.gguf";
  std::ofstream(model, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
  const fs::path msgs = write("m.json", R"([{"role": "user", "content": "é\n"}])");
  auto r = run("--model " + shell_quote(model.string()) + " --messages " + shell_quote(msgs.string()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "<s><|user|>é\n</s>\n");
  // --bos/--eos override the model's tokens.
  r = run("--model " + shell_quote(model.string()) + " --messages " + shell_quote(msgs.string()) + " --eos X");
  EXPECT_EQ(r.out, "<s><|user|>é\nX\n");

  // A model without a chat template is a clear error.
  testing::GgufTestWriter bare;
  testing::write_vocab(bare, testing::spm_test_tokens(false, {}));
  const auto bare_bytes = bare.bytes();
  const fs::path bare_model = dir_ / "bare.gguf";
  std::ofstream(bare_model, std::ios::binary)
      .write(reinterpret_cast<const char*>(bare_bytes.data()), static_cast<std::streamsize>(bare_bytes.size()));
  std::string err;
  r = run("--model " + shell_quote(bare_model.string()) + " --messages " + shell_quote(msgs.string()), &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(err.find("no tokenizer.chat_template"), std::string::npos) << err;
}

TEST_F(TemplateCliTest, TemplateErrorsAreOneLineWithLineNumber) {
  const fs::path msgs = write("m.json", R"([{"role": "user", "content": "Hi"}])");
  std::string err;
  // raise_exception from the template, with a newline in its message.
  const fs::path raising = write("r.jinja", "ok\n{% if messages %}\n{{ raise_exception('bad\\nrole') }}{% endif %}");
  auto r = run("--template " + shell_quote(raising.string()) + " --messages " + shell_quote(msgs.string()), &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");  // nothing half-rendered on stdout
  EXPECT_EQ(err, "hearth: error: chat template (template line 3): TemplateError: bad\\nrole\n");

  // A syntax error names its line too.
  const fs::path broken = write("b.jinja", "line one\n{% for x in %}\n");
  r = run("--template " + shell_quote(broken.string()) + " --messages " + shell_quote(msgs.string()), &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(err.find("template line 2"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;

  // Bad inputs: missing file, bad JSON, bad --var.
  r = run("--template " + shell_quote((dir_ / "missing.jinja").string()) + " --messages " +
              shell_quote(msgs.string()),
          &err);
  EXPECT_NE(r.exit_code, 0);
  const fs::path bad_json = write("bad.json", "[{");
  r = run("--template " + shell_quote(raising.string()) + " --messages " + shell_quote(bad_json.string()), &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
  r = run("--template " + shell_quote(raising.string()) + " --messages " + shell_quote(msgs.string()) +
              " --var novalue",
          &err);
  EXPECT_NE(r.exit_code, 0);
}

// One real template end to end, against the Jinja2 golden.
TEST_F(TemplateCliTest, MatchesGoldenForRealTemplate) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path root = shared / "chat_templates";
  if (!fs::exists(root / "golden" / "meta-llama-Llama-3.2-3B-Instruct.json")) GTEST_SKIP() << "no goldens";
  const json golden = json::parse(read_text(root / "golden" / "meta-llama-Llama-3.2-3B-Instruct.json"));
  const json conversations = json::parse(read_text(root / "conversations.json"))["conversations"];
  for (const auto& c : golden["cases"]) {
    if (!c.contains("output") || c.contains("extra_vars")) continue;
    json conv;
    for (const auto& cv : conversations) {
      if (cv["id"] == c["conversation_id"]) conv = cv;
    }
    json input = {{"messages", conv["messages"]}};
    if (c["tools"].get<bool>()) input["tools"] = conv["tools"];
    const fs::path msgs = write("m.json", input.dump());
    auto r = run("--template " + shell_quote((root / golden["template_file"].get<std::string>()).string()) +
                 " --messages " + shell_quote(msgs.string()) +
                 (c["add_generation_prompt"].get<bool>() ? " --add-generation-prompt" : "") + " --bos " +
                 shell_quote(golden["bos_token"].get<std::string>()) + " --eos " +
                 shell_quote(golden["eos_token"].get<std::string>()) + " --now '2026-01-15 00:00:00'");
    EXPECT_EQ(r.exit_code, 0) << c["conversation_id"];
    EXPECT_EQ(r.out, c["output"].get<std::string>()) << c["conversation_id"];
  }
}

}  // namespace
}  // namespace hearth
