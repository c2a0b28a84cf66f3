// Wire formats shared by the routes: server-sent events (OpenAI streaming),
// newline-delimited JSON (Ollama streaming), timestamps, ids and base64.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/json_fields.h"

namespace hearth::server {

// "data: {...}\n\n" — one SSE event; JSON never contains a raw newline, so
// one data line suffices.
std::string sse_event(const json& payload);
// The terminator OpenAI clients wait for.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
// "{...}\n"
std::string ndjson_line(const json& payload);

// RFC 3339 in UTC with nanoseconds, as Ollama's created_at:
// "2024-05-01T12:34:56.123456789Z".
std::string rfc3339(std::chrono::system_clock::time_point t);
int64_t unix_seconds(std::chrono::system_clock::time_point t);

// "chatcmpl-" + 24 random hex digits.
std::string random_id(std::string_view prefix);

std::string base64_encode(std::string_view bytes);
// The little-endian float32 bytes of `v`, base64-encoded (OpenAI's
// encoding_format "base64").
std::string floats_base64(const std::vector<float>& v);

}  // namespace hearth::server
