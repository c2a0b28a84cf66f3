#include "server/security.h"

#include <gtest/gtest.h>

#include "server/options.h"
#include "util/error.h"

namespace hearth::server {
namespace {

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equals("secret", "secret"));
  EXPECT_FALSE(constant_time_equals("secreT", "secret"));
  EXPECT_FALSE(constant_time_equals("secret2", "secret"));
  EXPECT_FALSE(constant_time_equals("secre", "secret"));
  EXPECT_FALSE(constant_time_equals("", "secret"));
  // A prefix repeated to the key's length must not match either.
  EXPECT_FALSE(constant_time_equals("ab", "abab"));
}

TEST(BearerMatches, NeedsTheSchemeAndTheExactKey) {
  EXPECT_TRUE(bearer_matches("Bearer k3y", "k3y"));
  EXPECT_TRUE(bearer_matches("bearer k3y", "k3y"));
  EXPECT_FALSE(bearer_matches("k3y", "k3y"));
  EXPECT_FALSE(bearer_matches("Basic k3y", "k3y"));
  EXPECT_FALSE(bearer_matches("Bearer k3", "k3y"));
  EXPECT_FALSE(bearer_matches("", "k3y"));
}

TEST(HostFromHeader, StripsPortBracketsAndCase) {
  EXPECT_EQ(host_from_header("LocalHost:8080"), "localhost");
  EXPECT_EQ(host_from_header("[::1]:80"), "::1");
  EXPECT_EQ(host_from_header("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(host_from_header("example.com."), "example.com");
  EXPECT_FALSE(host_from_header(""));
  EXPECT_FALSE(host_from_header("evil.com:80:80"));
  EXPECT_FALSE(host_from_header("a b"));
  EXPECT_FALSE(host_from_header("[::1"));
  EXPECT_FALSE(host_from_header("localhost:http"));
}

TEST(IsLoopbackName, KnowsLoopbackNamesOnly) {
  EXPECT_TRUE(is_loopback_name("localhost"));
  EXPECT_TRUE(is_loopback_name("app.localhost"));
  EXPECT_TRUE(is_loopback_name("127.0.0.1"));
  EXPECT_TRUE(is_loopback_name("127.1.2.3"));
  EXPECT_TRUE(is_loopback_name("::1"));
  EXPECT_TRUE(is_loopback_name("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback_name("localhost.evil.com"));
  EXPECT_FALSE(is_loopback_name("127.0.0.1.nip.io"));
  EXPECT_FALSE(is_loopback_name("128.0.0.1"));
  EXPECT_FALSE(is_loopback_name("127.0.0.256"));
  EXPECT_FALSE(is_loopback_name("0.0.0.0"));
  EXPECT_FALSE(is_loopback_name("evil.com"));
}

TEST(HostPolicy, LoopbackPlusConfiguredNames) {
  HostPolicy p({"My-Box.lan"});
  EXPECT_TRUE(p.allows("localhost:8080"));
  EXPECT_TRUE(p.allows("my-box.lan:8080"));
  EXPECT_FALSE(p.allows("evil.com"));
  EXPECT_FALSE(p.allows(""));
  EXPECT_TRUE(HostPolicy({"*"}).allows("anything.example"));
}

TEST(CorsPolicy, ClosedByDefault) {
  EXPECT_FALSE(CorsPolicy().allows("http://localhost:3000"));
  CorsPolicy p({"http://localhost:3000"});
  EXPECT_TRUE(p.allows("http://LOCALHOST:3000"));
  EXPECT_FALSE(p.allows("http://localhost:3001"));
  EXPECT_FALSE(p.allows("null"));
  EXPECT_TRUE(CorsPolicy({"*"}).allows("https://x.example"));
}

TEST(CheckExposure, NonLoopbackNeedsAKeyOrNoAuth) {
  ServerOptions o;
  EXPECT_EQ(check_exposure(o), "");
  o.host = "::1";
  EXPECT_EQ(check_exposure(o), "");
  o.host = "0.0.0.0";
  EXPECT_THROW(check_exposure(o), Error);
  try {
    check_exposure(o);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--api-key"), std::string::npos);
  }
  o.api_key = std::string(1, 'k');
  EXPECT_EQ(check_exposure(o), "");
  o.api_key.clear();
  o.no_auth = true;
  EXPECT_NE(check_exposure(o).find("warning"), std::string::npos);
}

}  // namespace
}  // namespace hearth::server
