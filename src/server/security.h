// The checks that make `hearth serve` safe to leave running on a laptop:
// API-key comparison, the Host-header check (a web page cannot reach the
// server through DNS rebinding, because its requests carry the attacker's
// host name) and the CORS origin list. Pure functions, so they are tested
// without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// Compares in time that depends only on `expected`'s length, so response
// timing does not reveal how much of a guessed key was right.
bool constant_time_equals(std::string_view given, std::string_view expected);

// Whether an Authorization header value is "Bearer <key>" (scheme
// case-insensitive, as RFC 7235 says).
bool bearer_matches(std::string_view authorization, std::string_view key);

// The host name of a Host header, lower-cased, without port or IPv6
// brackets or a trailing dot: "LocalHost:8080" -> "localhost",
// "[::1]:80" -> "::1". nullopt when malformed (empty, bad port, stray
// characters).
std::optional<std::string> host_from_header(std::string_view header);

// "localhost", "*.localhost" (RFC 6761), 127.0.0.0/8, ::1 and
// ::ffff:127.x.x.x.
bool is_loopback_name(std::string_view host);

// Which Host headers are accepted: loopback names always, plus configured
// names (compared without port); "*" accepts any.
class HostPolicy {
 public:
  explicit HostPolicy(std::vector<std::string> extra_names = {});
  bool allows(std::string_view host_header) const;

 private:
  std::vector<std::string> names_;
  bool any_ = false;
};

// Which browser origins get CORS headers. Empty: none (closed). "*": any.
// Origins compare exactly after lower-casing the scheme and host
// ("http://localhost:3000").
class CorsPolicy {
 public:
  explicit CorsPolicy(std::vector<std::string> origins = {});
  bool allows(std::string_view origin) const;
  bool enabled() const { return any_ || !origins_.empty(); }

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

}  // namespace hearth::server
