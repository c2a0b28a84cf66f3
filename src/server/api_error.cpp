#include "server/api_error.h"

namespace hearth::server {

ApiError::ApiError(int status, std::string message, std::string param, std::string code, std::string type)
    : std::runtime_error(std::move(message)),
      status_(status),
      param_(std::move(param)),
      code_(std::move(code)),
      type_(type.empty() ? error_type_for_status(status) : std::move(type)) {}

ApiError invalid_field(const std::string& field, const std::string& what) {
  // append() rather than operator+: GCC 12 warns falsely (-Wrestrict) on the latter here.
  std::string message;
  message.reserve(field.size() + 2 + what.size());
  message.append(field).append(": ").append(what);
  return ApiError(400, std::move(message), field);
}

std::string error_type_for_status(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

nlohmann::ordered_json openai_error_body(const ApiError& e) {
  nlohmann::ordered_json err;
  err["message"] = e.what();
  err["type"] = e.type();
  err["param"] = e.param().empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.param());
  err["code"] = e.code().empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.code());
  return {{"error", err}};
}

nlohmann::ordered_json ollama_error_body(const ApiError& e) { return {{"error", e.what()}}; }

}  // namespace hearth::server
