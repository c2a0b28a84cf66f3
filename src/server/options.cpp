#include "server/options.h"

#include "server/security.h"
#include "util/error.h"

namespace hearth::server {

bool is_loopback_bind_address(const std::string& host) {
  // A bare name or address, possibly bracketed IPv6.
  const auto parsed = host_from_header(host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host);
  return parsed && is_loopback_name(*parsed);
}

std::string check_exposure(const ServerOptions& options) {
  if (is_loopback_bind_address(options.host)) return "";
  if (!options.api_key.empty()) return "";
  if (!options.no_auth) {
    throw Error("--host " + options.host +
                " is not a loopback address: other machines could use this server, so it needs --api-key KEY "
                "(or --no-auth to run it open, at your own risk)");
  }
  return "warning: serving on " + options.host +
         " without an API key (--no-auth): anyone who can reach this address can use the model";
}

}  // namespace hearth::server
