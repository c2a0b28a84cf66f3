#include "server/security.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace hearth::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Strict dotted quad with the first octet 127.
bool is_ipv4_loopback(std::string_view s) {
  int parts = 0;
  int first = -1;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!all_digits(part) || part.size() > 3) return false;
    const int value = std::stoi(std::string(part));
    if (value > 255) return false;
    if (parts == 0) first = value;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4 && first == 127;
}

}  // namespace

bool constant_time_equals(std::string_view given, std::string_view expected) {
  // Walk `expected` whatever `given` is; fold a length mismatch into the result.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = given.empty() ? 0 : static_cast<unsigned char>(given[i % given.size()]);
    diff = diff | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool bearer_matches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() < scheme.size() || lower(authorization.substr(0, scheme.size())) != scheme) {
    // Still spend the comparison's time so a missing header is not faster.
    constant_time_equals("", key);
    return false;
  }
  std::string_view token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return constant_time_equals(token, key);
}

std::optional<std::string> host_from_header(std::string_view header) {
  if (header.empty()) return std::nullopt;
  std::string host;
  std::string_view rest;
  if (header.front() == '[') {
    const size_t close = header.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    host = lower(header.substr(1, close - 1));
    rest = header.substr(close + 1);
    if (host.find_first_not_of("0123456789abcdef:.") != std::string::npos) return std::nullopt;
  } else {
    const size_t colon = header.find(':');
    host = lower(header.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : header.substr(colon);
    if (host.empty() || host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-_") != std::string::npos) {
      return std::nullopt;
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':' || !all_digits(rest.substr(1)) || rest.size() > 6) return std::nullopt;
  }
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return std::nullopt;
  return host;
}

bool is_loopback_name(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  constexpr std::string_view local_suffix = ".localhost";
  if (host.size() > local_suffix.size() && host.substr(host.size() - local_suffix.size()) == local_suffix) {
    return true;
  }
  constexpr std::string_view mapped = "::ffff:";
  if (host.substr(0, mapped.size()) == mapped) host.remove_prefix(mapped.size());
  return is_ipv4_loopback(host);
}

HostPolicy::HostPolicy(std::vector<std::string> extra_names) {
  for (auto& name : extra_names) {
    if (name == "*") {
      any_ = true;
      continue;
    }
    // Configured as a bare name or with a port: compare names only.
    const auto parsed = host_from_header(name);
    names_.push_back(parsed ? *parsed : lower(name));
  }
}

bool HostPolicy::allows(std::string_view host_header) const {
  if (any_) return true;
  const auto host = host_from_header(host_header);
  if (!host) return false;
  if (is_loopback_name(*host)) return true;
  return std::find(names_.begin(), names_.end(), *host) != names_.end();
}

namespace {

// Lower-cases "scheme://host[:port]" (paths are not part of an origin).
std::string normalize_origin(std::string_view origin) {
  std::string out = lower(origin);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
  for (const auto& o : origins) {
    if (o == "*") {
      any_ = true;
    } else if (!o.empty()) {
      origins_.push_back(normalize_origin(o));
    }
  }
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  const std::string o = normalize_origin(origin);
  return std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

}  // namespace hearth::server
