#include "server/metrics.h"

#include <gtest/gtest.h>

#include "server/access_log.h"
#include "server/framing.h"

namespace hearth::server {
namespace {

TEST(Histogram, CumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string out;
  h.render("x", out);
  EXPECT_NE(out.find("x_bucket{le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_sum 5.55\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count 3\n"), std::string::npos) << out;
}

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.record_request("/v1/chat/completions", 200);
  m.record_request("/v1/chat/completions", 200);
  m.record_request("/api/chat", 400);
  m.add_tokens(10, 4, 7);
  m.observe_ttft(0.02);
  m.observe_token_latency(0.003);
  LiveGauges g;
  g.slots = 4;
  g.slots_busy = 1;
  g.queue_depth = 2;
  g.ready = true;
  const std::string text = m.render(g);
  EXPECT_NE(text.find("# TYPE hearth_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("hearth_requests_total{endpoint=\"/api/chat\",status=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_prompt_tokens_total 10\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_completion_tokens_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_time_to_first_token_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_token_latency_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_slots_busy 1\n"), std::string::npos);
  EXPECT_NE(text.find("hearth_queue_depth 2\n"), std::string::npos);
  EXPECT_EQ(m.request_count("/v1/chat/completions", 200), 2u);
  // Every line is a comment or "name{labels} value".
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "text must end with a newline";
    const std::string line = text.substr(start, end - start);
    if (line[0] != '#') {
      EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    }
    start = end + 1;
  }
}

TEST(Metrics, EscapesLabelValues) { EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

TEST(Framing, SseAndNdjson) {
  EXPECT_EQ(sse_event({{"a", "x\ny"}}), "data: {\"a\":\"x\\ny\"}\n\n");
  EXPECT_EQ(std::string(kSseDone), "data: [DONE]\n\n");
  EXPECT_EQ(ndjson_line({{"done", true}}), "{\"done\":true}\n");
}

TEST(Framing, Rfc3339WithNanoseconds) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1714566896123456789LL));
  EXPECT_EQ(rfc3339(t), "2024-05-01T12:34:56.123456789Z");
}

TEST(Framing, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(floats_base64({1.0f}), "AACAPw==");
  EXPECT_NE(random_id("chatcmpl-"), random_id("chatcmpl-"));
  EXPECT_EQ(random_id("x-").size(), 26u);
}

TEST(AccessLog, PromptTextOnlyWhenAsked) {
  AccessLogEntry e;
  e.method = "POST";
  e.path = "/v1/chat/completions";
  e.status = 200;
  e.generation = true;
  e.prompt_tokens = 12;
  e.prompt = "my secret prompt";
  e.output = "the secret answer";
  const std::string quiet = format_access_log(e, false, "T");
  EXPECT_EQ(quiet.find("secret"), std::string::npos) << quiet;
  EXPECT_NE(quiet.find("\"prompt_tokens\":12"), std::string::npos) << quiet;
  const std::string loud = format_access_log(e, true, "T");
  EXPECT_NE(loud.find("my secret prompt"), std::string::npos) << loud;
  EXPECT_NE(loud.find("the secret answer"), std::string::npos) << loud;

  e.error = "invalid JSON ...; last read: 'secret'";
  e.error_is_private = true;
  EXPECT_EQ(format_access_log(e, false, "T").find("secret"), std::string::npos);
  EXPECT_NE(format_access_log(e, true, "T").find("last read"), std::string::npos);
  const json parsed = json::parse(format_access_log(e, false, "2024"));
  EXPECT_EQ(parsed["time"], "2024");
  EXPECT_EQ(parsed["status"], 200);
}

}  // namespace
}  // namespace hearth::server
