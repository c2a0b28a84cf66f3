// Every template x case in ../shared/chat_templates/golden, rendered by our
// engine and compared byte for byte with what Python's Jinja2 produced (the
// goldens were made by render_chat.py; see that folder's README). A case
// recorded as an error must fail to render; when the template itself raised
// it (raise_exception), our message must be the same text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "shared_data.h"

namespace hearth::chat {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A short, printable description of where two renderings part ways.
std::string describe_diff(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  auto snippet = [&](const std::string& s) {
    const size_t from = i > 40 ? i - 40 : 0;
    return json(s.substr(from, 100)).dump();
  };
  std::ostringstream os;
  os << "first difference at byte " << i << " (want " << want.size() << " bytes, got " << got.size()
     << ")\n      want: " << snippet(want) << "\n      got:  " << snippet(got);
  return os.str();
}

RenderOptions fixed_clock() {
  RenderOptions o;
  // render_chat.py's FIXED_NOW: 2026-01-15 00:00:00 (a Thursday).
  o.clock = [] {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 15;
    tm.tm_wday = 4;
    tm.tm_yday = 14;
    tm.tm_isdst = -1;
    return tm;
  };
  return o;
}

TEST(ChatTemplateGolden, AllTemplatesMatchJinja2) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path root = shared / "chat_templates";
  if (!fs::is_directory(root / "golden")) GTEST_SKIP() << "no chat_templates goldens in " << root;

  const json conversations = json::parse(read_text(root / "conversations.json"))["conversations"];
  std::map<std::string, json> by_id;
  for (const auto& c : conversations) by_id[c["id"].get<std::string>()] = c;

  std::vector<fs::path> goldens;
  for (const auto& e : fs::directory_iterator(root / "golden")) {
    if (e.path().extension() == ".json") goldens.push_back(e.path());
  }
  std::sort(goldens.begin(), goldens.end());
  ASSERT_FALSE(goldens.empty());

  const RenderOptions options = fixed_clock();
  int total = 0, passed = 0;
  std::vector<std::string> table;
  for (const auto& golden_path : goldens) {
    const json golden = json::parse(read_text(golden_path));
    const std::string name = golden_path.stem().string();
    const std::string source = read_text(root / golden["template_file"].get<std::string>());
    const std::string bos = golden["bos_token"].get<std::string>();
    const std::string eos = golden["eos_token"].get<std::string>();

    int t_total = 0, t_passed = 0;
    std::optional<ChatTemplate> tmpl;
    std::string parse_error;
    try {
      tmpl = ChatTemplate::parse(source);
    } catch (const TemplateError& e) {
      parse_error = e.what();
    }
    for (const auto& c : golden["cases"]) {
      ++t_total;
      const std::string conv_id = c["conversation_id"].get<std::string>();
      const json& conv = by_id.at(conv_id);
      const bool agp = c["add_generation_prompt"].get<bool>();
      const json tools = c["tools"].get<bool>() ? conv["tools"] : json(nullptr);
      const json extra = c.contains("extra_vars") ? c["extra_vars"] : json::object();
      const std::string label = name + " / " + conv_id + (agp ? " agp" : "") +
                                (c.contains("extra_vars") ? " " + extra.dump() : "");
      bool ok = false;
      std::string got;
      std::string error;
      bool raised = false;
      std::string raised_message;
      if (tmpl) {
        try {
          got = render_chat(*tmpl, conv["messages"], tools, agp, bos, eos, extra, options);
        } catch (const TemplateError& e) {
          error = e.what();
          raised = e.kind() == ErrorKind::Raised;
          raised_message = e.message();
        }
      } else {
        error = parse_error;
      }
      if (c.contains("output")) {
        const std::string want = c["output"].get<std::string>();
        ok = error.empty() && got == want;
        if (!ok) {
          ADD_FAILURE() << label << ": "
                        << (error.empty() ? describe_diff(want, got) : "unexpected error: " + error);
        }
      } else {
        ok = !error.empty();
        if (!ok) {
          ADD_FAILURE() << label << ": rendered, but Jinja2 raised " << c["error_type"].get<std::string>() << ": "
                        << c["error"].get<std::string>();
        } else if (c.value("raised_by_template", false)) {
          ok = raised && raised_message == c["error"].get<std::string>();
          if (!ok) ADD_FAILURE() << label << ": want raise_exception(" << c["error"] << "), got: " << error;
        }
      }
      if (ok) ++t_passed;
    }
    total += t_total;
    passed += t_passed;
    char line[256];
    std::snprintf(line, sizeof(line), "  %-52s %3d/%3d%s", name.c_str(), t_passed, t_total,
                  t_passed == t_total ? "" : "  <-- FAIL");
    table.push_back(line);
  }
  std::printf("chat template goldens, per template:\n");
  for (const auto& l : table) std::printf("%s\n", l.c_str());
  std::printf("chat template goldens: %d/%d cases pass (%zu templates)\n", passed, total, goldens.size());
  EXPECT_EQ(passed, total);
}

}  // namespace
}  // namespace hearth::chat
