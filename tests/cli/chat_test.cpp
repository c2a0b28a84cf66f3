// `hearth chat` driven through a pseudo-terminal, as a person types: two
// turns, /reset, /save, /exit. The stats line after each reply says how many
// prompt tokens were processed; the second turn must not process the first
// again (its tokens come from the KV cache).
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "shared_data.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using testing::hearth_binary;
using testing::run_command;

// A child process on a pty; everything it prints is collected.
class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      setenv("TERM", "dumb", 1);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0; }

  void type(const std::string& s) { ASSERT_EQ(write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }

  // Reads until `pattern` matches the output after `from`; returns the match
  // start or npos after the timeout.
  size_t wait_for(const std::regex& pattern, size_t from, std::smatch* m = nullptr, int timeout_s = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
      std::smatch local;
      std::smatch& match = m ? *m : local;
      out_tail_ = out_.substr(std::min(from, out_.size()));
      if (std::regex_search(out_tail_, match, pattern)) return from + match.position(0);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::string::npos;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return std::string::npos;  // the child closed the terminal
      out_.append(buf, n);
    }
  }

  int wait_exit() {
    int status = 0;
    for (int i = 0; i < 600; ++i) {
      char buf[4096];
      while (read(fd_, buf, sizeof buf) > 0) {}  // drain so the child can finish writing
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(50000);
    }
    return -2;
  }

  const std::string& output() const { return out_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string out_, out_tail_;
};

struct TurnStats {
  int prompt = -1, cached = -1, processed = -1;
};

TurnStats next_stats(Terminal& term, size_t& from) {
  static const std::regex stats(R"(prompt (\d+) tokens \((\d+) cached, (\d+) processed\)[^\n]*\n)");
  std::smatch m;
  const size_t at = term.wait_for(stats, from, &m);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no stats line; output so far:\n" << term.output();
    return {};
  }
  from = at + m.length(0);
  return {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
}

// A synthetic model (random weights, byte-level BPE, no chat template: the
// ChatML fallback) and the real stories260K (SentencePiece).
class ChatCommand : public ::testing::TestWithParam<const char*> {};

TEST_P(ChatCommand, TwoTurnsReuseTheCacheAndResetForgets) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path save = fs::temp_directory_path() / ("hearth_chat_test_" + std::to_string(getpid()) + ".json");
  Terminal term({hearth_binary().string(), "chat", "-m", (shared / "models" / GetParam()).string(),
                 "--temp", "0", "-n", "8", "-t", "1", "--system", "You tell stories."});
  ASSERT_TRUE(term.started());
  const std::regex prompt(">>> ");
  size_t from = 0;
  ASSERT_NE(term.wait_for(prompt, from), std::string::npos) << term.output();

  term.type("Once upon a time\r");
  const TurnStats first = next_stats(term, from);
  EXPECT_EQ(first.cached, 0);
  EXPECT_EQ(first.processed, first.prompt);
  ASSERT_GT(first.prompt, 10);

  ASSERT_NE(term.wait_for(prompt, from), std::string::npos);
  term.type("Tell me more\r");
  const TurnStats second = next_stats(term, from);
  // The second prompt holds the whole first turn; only what follows it (the
  // reply as the template lays it out and the new message) is processed.
  EXPECT_GT(second.prompt, first.prompt);
  EXPECT_GE(second.cached, first.prompt);
  EXPECT_EQ(second.processed, second.prompt - second.cached);
  EXPECT_LT(second.processed, second.prompt - first.prompt + 8);

  ASSERT_NE(term.wait_for(prompt, from), std::string::npos);
  term.type("/save " + save.string() + "\r");
  ASSERT_NE(term.wait_for(std::regex("saved 5 messages"), from), std::string::npos) << term.output();
  term.type("/reset\r");
  ASSERT_NE(term.wait_for(std::regex("conversation cleared"), from), std::string::npos) << term.output();
  ASSERT_NE(term.wait_for(prompt, from), std::string::npos);
  term.type("Once upon a time\r");
  const TurnStats after_reset = next_stats(term, from);
  EXPECT_EQ(after_reset.prompt, first.prompt);  // the conversation is forgotten

  ASSERT_NE(term.wait_for(prompt, from), std::string::npos);
  term.type("/exit\r");
  EXPECT_EQ(term.wait_exit(), 0);

  std::ifstream in(save);
  const auto saved = nlohmann::json::parse(in);
  ASSERT_EQ(saved.size(), 5u);
  EXPECT_EQ(saved[0]["role"], "system");
  EXPECT_EQ(saved[1]["content"], "Once upon a time");
  EXPECT_EQ(saved[2]["role"], "assistant");
  EXPECT_EQ(saved[3]["content"], "Tell me more");
  fs::remove(save);
}

INSTANTIATE_TEST_SUITE_P(Models, ChatCommand, ::testing::Values("qwen2-Q8_0.gguf", "stories260K.gguf"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find_first_of(".-"));
                         });

TEST(ChatCommandContext, AFullContextDropsTheOldestTurnsAndKeepsTheSystemPrompt) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path dir = fs::temp_directory_path() / ("hearth_chat_ctx_" + std::to_string(getpid()));
  fs::create_directories(dir);
  // A saved conversation far longer than a 200-token context.
  nlohmann::json conv = nlohmann::json::array({{{"role", "system"}, {"content", "Be brief."}}});
  for (int i = 0; i < 6; ++i) {
    conv.push_back({{"role", "user"}, {"content", "Tell me the story number " + std::to_string(i) + " about a cat and a dog."}});
    conv.push_back({{"role", "assistant"}, {"content", "The cat and the dog played in the park all day long."}});
  }
  std::ofstream(dir / "long.json") << conv.dump();
  Terminal term({hearth_binary().string(), "chat", "-m", (shared / "models" / "stories260K.gguf").string(), "--temp",
                 "0", "-n", "4", "-t", "1", "--ctx-size", "200", "--system", "Be brief."});
  ASSERT_TRUE(term.started());
  const std::regex prompt(">>> ");
  size_t from = 0;
  ASSERT_NE(term.wait_for(prompt, from), std::string::npos) << term.output();
  term.type("/load " + (dir / "long.json").string() + "\r");
  ASSERT_NE(term.wait_for(std::regex("loaded 13 messages"), from), std::string::npos) << term.output();
  term.type("And now?\r");
  std::smatch m;
  ASSERT_NE(term.wait_for(std::regex(R"(dropped the (\d+) oldest messages \(the system prompt is kept\))"), from, &m),
            std::string::npos)
      << term.output();
  const int dropped = std::stoi(m[1]);
  EXPECT_EQ(dropped % 2, 0);  // whole turns
  const TurnStats stats = next_stats(term, from);
  EXPECT_LE(stats.prompt + 4, 200);
  ASSERT_NE(term.wait_for(prompt, from), std::string::npos);
  term.type("/save " + (dir / "after.json").string() + "\r");
  ASSERT_NE(term.wait_for(std::regex("saved"), from), std::string::npos) << term.output();
  term.type("/exit\r");
  EXPECT_EQ(term.wait_exit(), 0);
  std::ifstream in(dir / "after.json");
  const auto after = nlohmann::json::parse(in);
  ASSERT_GE(after.size(), 3u);
  EXPECT_EQ(after[0]["content"], "Be brief.");
  EXPECT_EQ(after.size(), 13u - dropped + 2);
  EXPECT_EQ(after[after.size() - 2]["content"], "And now?");
  fs::remove_all(dir);
}

TEST(ChatCommandPiped, PipedMessageIsAnsweredOnce) {
  HEARTH_REQUIRE_SHARED(shared);
  const std::string model = (shared / "models" / "stories260K.gguf").string();
  const auto r = run_command("echo 'Once upon a time' | " + hearth_binary().string() + " chat -q --temp 0 -n 12 -m " +
                             model + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  // stories260K continues the ChatML-wrapped message; greedy is deterministic.
  const auto again = run_command("echo 'Once upon a time' | " + hearth_binary().string() +
                                 " chat -q --temp 0 -n 12 -t 1 -m " + model + " 2>/dev/null");
  EXPECT_EQ(r.out, again.out);
  EXPECT_FALSE(r.out.empty());
  const auto empty = run_command("printf '' | " + hearth_binary().string() + " chat -m " + model + " 2>&1");
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.out.find("no message"), std::string::npos) << empty.out;
}

}  // namespace
}  // namespace hearth
