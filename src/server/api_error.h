// Errors a request handler reports to the client: an HTTP status plus the
// fields of OpenAI's error object ({"error": {message, type, param, code}}).
// Ollama routes render the same error as Ollama does ({"error": message}).
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace hearth::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string code = "",
           std::string type = "");

  int status() const { return status_; }
  const std::string& param() const { return param_; }  // the offending field, "" if none
  const std::string& code() const { return code_; }
  // OpenAI's error types: invalid_request_error (4xx), authentication_error,
  // permission_error, not_found_error, rate_limit_error, server_error (5xx).
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string param_, code_, type_;
};

// 400 naming a field: "temperature: must be a number between 0 and 2".
ApiError invalid_field(const std::string& field, const std::string& what);

// The default OpenAI error type for a status.
std::string error_type_for_status(int status);

// {"error": {"message", "type", "param", "code"}} (param and code null when empty).
nlohmann::ordered_json openai_error_body(const ApiError& e);
// {"error": "message"}, as Ollama answers.
nlohmann::ordered_json ollama_error_body(const ApiError& e);

}  // namespace hearth::server
