#include "server/openai_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace hearth::server {
namespace {

// The message of the 400 parsing `body` gives ("" if it parses).
std::string chat_error(const std::string& body) {
  try {
    parse_chat_request(json::parse(body), RequestLimits{100});
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.what();
  }
  return "";
}

const char* kMsgs = R"("messages": [{"role": "user", "content": "hi"}])";

std::string with(const std::string& fields) { return std::string("{") + kMsgs + (fields.empty() ? "" : ", " + fields) + "}"; }

TEST(ParseChatRequest, SamplingFieldsReachTheRequest) {
  const ChatRequest r = parse_chat_request(
      json::parse(with(R"("temperature": 0, "top_p": 0.5, "max_tokens": 7, "stop": ["a", "b"], "seed": 42,
                         "presence_penalty": 1.5, "frequency_penalty": -1, "stream": true,
                         "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 3,
                         "top_k": 5, "min_p": 0.1, "n": 1, "user": "u", "logit_bias": {})")),
      RequestLimits{100});
  EXPECT_EQ(r.gen.sampling.temperature, 0.0f);
  EXPECT_EQ(r.gen.sampling.top_p, 0.5f);
  EXPECT_EQ(r.gen.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(r.gen.sampling.min_p, 0.1f);
  EXPECT_EQ(r.gen.sampling.seed, 42u);
  EXPECT_EQ(r.gen.sampling.presence_penalty, 1.5f);
  EXPECT_EQ(r.gen.sampling.frequency_penalty, -1.0f);
  EXPECT_EQ(r.gen.max_tokens, 7);
  EXPECT_EQ(r.gen.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.gen.top_logprobs, 3);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.messages, json::parse(R"([{"role": "user", "content": "hi"}])"));
}

TEST(ParseChatRequest, DefaultsAndMaxCompletionTokens) {
  ChatRequest r = parse_chat_request(json::parse(with("")), RequestLimits{100});
  EXPECT_EQ(r.gen.max_tokens, 100) << "no max_tokens: the cap";
  EXPECT_EQ(r.gen.top_logprobs, -1);
  EXPECT_FALSE(r.stream);
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, SamplingParams{}.temperature);
  r = parse_chat_request(json::parse(with(R"("max_tokens": 5, "max_completion_tokens": 9)")), RequestLimits{100});
  EXPECT_EQ(r.gen.max_tokens, 9);
  // Two requests without a seed get different ones.
  const auto a = parse_chat_request(json::parse(with("")), RequestLimits{100}).gen.sampling.seed;
  const auto b = parse_chat_request(json::parse(with("")), RequestLimits{100}).gen.sampling.seed;
  EXPECT_NE(a, b);
}

TEST(ParseChatRequest, RejectsBadValuesNamingTheField) {
  EXPECT_EQ(chat_error(with(R"("temperature": "hot")")), "temperature: must be a number between 0 and 2, not a string");
  EXPECT_EQ(chat_error(with(R"("temperature": 3)")), "temperature: must be a number between 0 and 2, got 3");
  EXPECT_EQ(chat_error(with(R"("max_tokens": -1)")), "max_tokens: must be an integer between 1 and 100, got -1");
  EXPECT_EQ(chat_error(with(R"("max_tokens": 101)")), "max_tokens: must be an integer between 1 and 100, got 101");
  EXPECT_EQ(chat_error(with(R"("max_tokens": 1e12)")).substr(0, 11), "max_tokens:");
  EXPECT_EQ(chat_error(with(R"("n": 2)")), "n: only n = 1 is supported (got 2)");
  EXPECT_EQ(chat_error(with(R"("top_logprobs": 2)")), "top_logprobs: needs \"logprobs\": true");
  EXPECT_EQ(chat_error(with(R"("logprobs": true, "top_logprobs": 21)")).substr(0, 13), "top_logprobs:");
  EXPECT_EQ(chat_error(with(R"("stream": "yes")")), "stream: must be true or false, not a string");
  EXPECT_EQ(chat_error(with(R"("stop": 5)")), "stop: must be a string or a list of strings, not a number");
  EXPECT_EQ(chat_error(with(R"("seed": 1.5)")).substr(0, 5), "seed:");
  EXPECT_EQ(chat_error(with(R"("stream_options": {"include_usage": true})")),
            "stream_options: is only allowed with \"stream\": true");
  EXPECT_EQ(chat_error(with(R"("tools": [{"type": "function"}])")), "tools: tool calling is not supported");
  EXPECT_EQ(chat_error(with(R"("response_format": {"type": "json_object"})")),
            "response_format: only {\"type\": \"text\"} is supported");
  EXPECT_EQ(chat_error(with(R"("logit_bias": {"5": 1})")), "logit_bias: is not supported (send {} or leave it out)");
  EXPECT_EQ(chat_error(with(R"("model": 5)")), "model: must be a string, not a number");
}

TEST(ParseChatRequest, ValidatesMessages) {
  EXPECT_EQ(chat_error("{}"), "messages: is required");
  EXPECT_EQ(chat_error(R"({"messages": []})"), "messages: must contain at least one message");
  EXPECT_EQ(chat_error(R"({"messages": "hi"})"), "messages: must be an array of messages, not a string");
  EXPECT_EQ(chat_error(R"({"messages": [{"content": "x"}]})"), "messages[0].role: is required");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "wizard", "content": "x"}]})").substr(0, 17), "messages[0].role:");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user", "content": 5}]})"),
            "messages[0].content: must be a string or a list of text parts, not a number");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"),
            "messages[0].content[0].type: only text parts are supported (got \"image_url\")");
  const json normal = normalize_messages(json::parse(
      R"([{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
          {"role": "assistant", "content": null, "tool_calls": []}])"));
  EXPECT_EQ(normal, json::parse(R"([{"role": "system", "content": "ab"}, {"role": "assistant", "content": ""}])"));
}

TEST(ParseCompletionRequest, PromptFormsAndLegacyFields) {
  const RequestLimits lim{50};
  auto r = parse_completion_request(json::parse(R"({"prompt": "Once", "logprobs": 2, "max_tokens": 3})"), lim);
  EXPECT_EQ(std::get<std::string>(r.prompt), "Once");
  EXPECT_EQ(r.gen.top_logprobs, 2);
  EXPECT_EQ(r.gen.max_tokens, 3);
  r = parse_completion_request(json::parse(R"({"prompt": ["Once"]})"), lim);
  EXPECT_EQ(std::get<std::string>(r.prompt), "Once");
  r = parse_completion_request(json::parse(R"({"prompt": [1, 2, 3]})"), lim);
  EXPECT_EQ(std::get<std::vector<TokenId>>(r.prompt), (std::vector<TokenId>{1, 2, 3}));
  EXPECT_EQ(r.gen.top_logprobs, -1);
  auto err = [&](const char* body) {
    try {
      parse_completion_request(json::parse(body), lim);
    } catch (const ApiError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err(R"({})"), "prompt: is required");
  EXPECT_EQ(err(R"({"prompt": ["a", "b"]})"), "prompt: only one prompt per request is supported");
  EXPECT_EQ(err(R"({"prompt": [1, -2]})"), "prompt[1]: is not a valid token id: -2");
  EXPECT_EQ(err(R"({"prompt": "x", "echo": true})"), "echo: echoing the prompt is not supported");
  EXPECT_EQ(err(R"({"prompt": "x", "best_of": 2})"), "best_of: only best_of = 1 is supported");
  EXPECT_EQ(err(R"({"prompt": "x", "logprobs": 6})").substr(0, 9), "logprobs:");
  EXPECT_EQ(err(R"({"prompt": {"a": 1}})"), "prompt: must be a string or a list of token ids, not an object");
}

TEST(ParseEmbeddingRequest, InputForms) {
  auto r = parse_embedding_request(json::parse(R"({"input": "x"})"));
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_FALSE(r.base64);
  r = parse_embedding_request(json::parse(R"({"input": ["x", "y"], "encoding_format": "base64"})"));
  EXPECT_EQ(r.inputs.size(), 2u);
  EXPECT_TRUE(r.base64);
  r = parse_embedding_request(json::parse(R"({"input": [[1, 2], [3]]})"));
  EXPECT_EQ(std::get<std::vector<TokenId>>(r.inputs[1]), std::vector<TokenId>{3});
  EXPECT_THROW(parse_embedding_request(json::parse(R"({"input": []})")), ApiError);
  EXPECT_THROW(parse_embedding_request(json::parse(R"({"input": [true]})")), ApiError);
  EXPECT_THROW(parse_embedding_request(json::parse(R"({"input": "x", "encoding_format": "hex"})")), ApiError);
  EXPECT_THROW(parse_embedding_request(json::parse(R"({})")), ApiError);
}

}  // namespace
}  // namespace hearth::server
