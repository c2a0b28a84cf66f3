#include "server/ollama_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace hearth::server {
namespace {

std::string error_of(const std::string& body, bool chat) {
  try {
    if (chat) parse_ollama_chat(json::parse(body), RequestLimits{100});
    else parse_ollama_generate(json::parse(body), RequestLimits{100});
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.what();
  }
  return "";
}

TEST(ParseOllama, StreamsByDefaultWithOllamaDefaults) {
  const auto g = parse_ollama_generate(json::parse(R"({"model": "m", "prompt": "hi"})"), RequestLimits{100});
  EXPECT_TRUE(g.stream);
  EXPECT_FALSE(g.raw);
  EXPECT_EQ(g.prompt, "hi");
  EXPECT_FLOAT_EQ(g.gen.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(g.gen.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(g.gen.max_tokens, 100);
}

TEST(ParseOllama, OptionsReachTheRequest) {
  const auto c = parse_ollama_chat(json::parse(R"({"model": "m", "stream": false,
      "messages": [{"role": "user", "content": "hi"}],
      "options": {"temperature": 0, "top_k": 3, "top_p": 0.5, "min_p": 0.2, "num_predict": 9, "num_ctx": 99999,
                  "seed": 7, "stop": ["x"], "repeat_penalty": 1.0, "mirostat": 0}})"),
                                   RequestLimits{100});
  EXPECT_FALSE(c.stream);
  EXPECT_EQ(c.gen.sampling.temperature, 0.0f);
  EXPECT_EQ(c.gen.sampling.top_k, 3);
  EXPECT_FLOAT_EQ(c.gen.sampling.min_p, 0.2f);
  EXPECT_EQ(c.gen.sampling.seed, 7u);
  EXPECT_EQ(c.gen.max_tokens, 9);
  EXPECT_EQ(c.gen.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(c.messages.size(), 1u);
  // num_predict -1 / -2: as much as allowed.
  const auto g = parse_ollama_generate(json::parse(R"({"prompt": "x", "options": {"num_predict": -2}})"),
                                       RequestLimits{100});
  EXPECT_EQ(g.gen.max_tokens, 100);
}

TEST(ParseOllama, RejectsBadValuesNamingTheField) {
  EXPECT_EQ(error_of(R"({"prompt": "x", "options": {"num_predict": -5}})", false),
            "options.num_predict: must be an integer between -2 and 100, got -5");
  EXPECT_EQ(error_of(R"({"prompt": "x", "options": {"num_ctx": -1}})", false).substr(0, 16), "options.num_ctx:");
  EXPECT_EQ(error_of(R"({"prompt": "x", "options": {"temperature": "warm"}})", false).substr(0, 20),
            "options.temperature:");
  EXPECT_EQ(error_of(R"({"prompt": "x", "options": []})", false), "options: must be an object, not an array");
  EXPECT_EQ(error_of(R"({"prompt": 5})", false), "prompt: must be a string, not a number");
  EXPECT_EQ(error_of(R"({"prompt": "x", "format": "json"})", false),
            "format: structured output (\"json\" or a schema) is not supported");
  EXPECT_EQ(error_of(R"({"prompt": "x", "images": ["aGk="]})", false), "images: images are not supported by this server");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": "x", "images": ["aGk="]}]})", true),
            "messages[0].images: images are not supported by this server");
  EXPECT_EQ(error_of(R"({"messages": "x"})", true), "messages: must be an array, not a string");
  EXPECT_EQ(error_of(R"({"messages": [], "stream": 1})", true), "stream: must be true or false, not a number");
}

TEST(ParseOllama, EmptyMessagesMeanLoad) {
  const auto c = parse_ollama_chat(json::parse(R"({"model": "m"})"), RequestLimits{100});
  EXPECT_TRUE(c.messages.empty());
}

TEST(ParseOllama, Embed) {
  EXPECT_EQ(parse_ollama_embed(json::parse(R"({"input": ["a", "b"]})"), false).inputs.size(), 2u);
  EXPECT_EQ(parse_ollama_embed(json::parse(R"({"prompt": "a"})"), true).inputs.size(), 1u);
  EXPECT_THROW(parse_ollama_embed(json::parse(R"({"input": [1]})"), false), ApiError);
}

}  // namespace
}  // namespace hearth::server
