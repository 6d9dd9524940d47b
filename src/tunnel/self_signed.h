// A self-signed certificate for one host, made at start: the agent's log
// endpoint serves TLS with it, and the server, which learns the
// certificate at registration over its own TLS, trusts exactly it (a pin,
// not a CA).
#pragma once

#include <string>

#include "common/result.h"

struct x509_store_st;  // OpenSSL's X509_STORE

namespace allot::tunnel {

struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
};

// A P-256 key and a certificate for `host` (its subjectAltName: an IP
// address or a DNS name), valid from an hour ago for ten years.
Result<SelfSigned> MakeSelfSigned(const std::string& host);

// The OpenSSL store that trusts only `cert_pem` (the caller owns it, or
// hands it to httplib, which takes it); null when it does not parse.
::x509_store_st* StoreTrusting(const std::string& cert_pem);

}  // namespace allot::tunnel
