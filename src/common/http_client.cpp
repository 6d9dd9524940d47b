#include "common/http_client.h"

#include <httplib.h>
#include <unistd.h>

#include <cctype>

namespace allot {

struct HttpClient::Impl {
  std::vector<std::unique_ptr<httplib::Client>> clients;  // one per server
  std::vector<std::string> servers;
  size_t current = 0;  // the server that answered last
  httplib::Headers headers;

  httplib::Client& client() { return *clients[current]; }
  // Runs `send` against the current server, then the others in turn while
  // it could not connect (or, when `idempotent`, got no reply), or answered
  // 503: a server that cannot reach its store, where another may. Callers
  // retry an unavailable call anyway; allot's creations are named, so one
  // that did land before the 503 answers already_exists, not twice.
  template <typename Send>
  httplib::Result Try(bool idempotent, Send send) {
    httplib::Result res = send(client());
    for (size_t tried = 1; tried < clients.size() && TryNext(res, idempotent); ++tried) {
      current = (current + 1) % clients.size();
      res = send(client());
    }
    return res;
  }
  static bool TryNext(const httplib::Result& res, bool idempotent) {
    if (res) return res->status == 503;
    return res.error() == httplib::Error::Connection ||
           res.error() == httplib::Error::ConnectionTimeout ||
           (idempotent && res.error() != httplib::Error::Canceled);
  }
  std::string Names() const {
    std::string names;
    for (const std::string& server : servers) names += (names.empty() ? "" : ", ") + server;
    return names;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const std::string& server,
                                                       const std::string& token,
                                                       const std::string& ca_file) {
  auto impl = std::make_unique<Impl>();
  impl->servers = SplitServers(server);
  if (impl->servers.empty()) {
    return Error::Coded("invalid", "server: no address given: use a form like http://host:7070",
                        "server");
  }
  for (const std::string& base : impl->servers) {
    if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) {
      return Error::Coded("invalid",
                          "server: '" + base + "' is not a URL: use a form like http://host:7070",
                          "server");
    }
    auto client = std::make_unique<httplib::Client>(base);
    if (!client->is_valid()) {
      return Error::Coded("invalid", "server: '" + base + "' cannot be used", "server");
    }
    client->set_connection_timeout(std::chrono::seconds(5));
    client->set_read_timeout(std::chrono::seconds(30));
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    if (!ca_file.empty()) {
      if (::access(ca_file.c_str(), R_OK) != 0) {
        return Error::Coded("invalid", "ca: cannot read the CA file '" + ca_file + "'", "ca");
      }
      client->set_ca_cert_path(ca_file.c_str());
    }
    impl->clients.push_back(std::move(client));
  }
  if (!token.empty()) impl->headers.emplace("Authorization", "Bearer " + token);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

void HttpClient::SetReadTimeout(std::chrono::seconds timeout) {
  for (auto& client : impl_->clients) client->set_read_timeout(timeout);
}

namespace {

Error Unreachable(const std::string& server, httplib::Error error) {
  if (error == httplib::Error::SSLServerVerification) {
    return Error::Coded("unreachable",
                        "the allot server at " + server +
                            " showed a certificate that is not trusted or does not name it: "
                            "give the CA that signed it with --ca, ALLOT_CA or allot login --ca");
  }
  if (error == httplib::Error::SSLConnection) {
    return Error::Coded("unreachable", "cannot make a TLS connection to the allot server at " +
                                           server + ": does it serve https (--tls-cert)?");
  }
  return Error::Coded("unreachable", "cannot reach the allot server at " + server + " (" +
                                         httplib::to_string(error) +
                                         "): is it running (allot up)? Set the address with "
                                         "ALLOT_SERVER or allot login --server");
}

}  // namespace

Result<HttpReply> HttpClient::GetRaw(const std::string& path) {
  httplib::Result res =
      impl_->Try(true, [&](httplib::Client& c) { return c.Get(path, impl_->headers); });
  if (!res) return Unreachable(impl_->Names(), res.error());
  return HttpReply{res->status, res->get_header_value("Content-Type"), res->body};
}

Result<int> HttpClient::Stream(const std::string& path,
                               const std::function<bool(const char*, size_t)>& receive) {
  int status = 0;
  std::string error_body;
  httplib::Result res = impl_->Try(false, [&](httplib::Client& c) {
    return c.Get(
        path, impl_->headers,
        [&](const httplib::Response& response) {
          status = response.status;
          return true;
        },
        [&](const char* data, size_t length) {
          if (status >= 200 && status < 300) return receive(data, length);
          error_body.append(data, length);
          return true;
        });
  });
  if (!res && status == 0) return Unreachable(impl_->Names(), res.error());
  if (status >= 200 && status < 300) return status;
  nlohmann::json parsed = nlohmann::json::parse(error_body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const auto& e = parsed["error"];
    return Error::Coded(e.value("code", "internal"), e.value("message", ""), e.value("field", ""));
  }
  return Error::Coded("internal", "HTTP " + std::to_string(status) + ": " + error_body);
}

void HttpClient::Cancel() {
  for (auto& client : impl_->clients) client->stop();
}

Result<nlohmann::json> HttpClient::Call(const std::string& method, const std::string& path,
                                        const nlohmann::json* body) {
  std::string text = body ? body->dump() : std::string();
  const char* type = "application/json";
  const httplib::Headers& h = impl_->headers;
  bool idempotent = method == "GET" || method == "PUT" || method == "DELETE";
  httplib::Result res = impl_->Try(idempotent, [&](httplib::Client& c) {
    return method == "GET"     ? c.Get(path, h)
           : method == "POST"  ? c.Post(path, h, text, type)
           : method == "PUT"   ? c.Put(path, h, text, type)
           : method == "PATCH" ? c.Patch(path, h, text, type)
                               : c.Delete(path, h, text, type);
  });
  if (!res) return Unreachable(impl_->Names(), res.error());
  nlohmann::json parsed = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status >= 200 && res->status < 300) {
    if (parsed.is_discarded()) {
      return Error::Coded("internal", "the server sent a reply that is not JSON: " + res->body);
    }
    return parsed;
  }
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const nlohmann::json& error = parsed["error"];
    return Error::Coded(error.value("code", "internal"), error.value("message", res->body),
                        error.value("field", ""));
  }
  return Error::Coded("internal",
                      "HTTP " + std::to_string(res->status) + " from the server: " + res->body);
}

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<std::vector<nlohmann::json>> ListAll(HttpClient& http, const std::string& path, int64_t max,
                                            int64_t* revision) {
  std::vector<nlohmann::json> items;
  std::string separator = path.find('?') == std::string::npos ? "?" : "&";
  std::string after;
  while (static_cast<int64_t>(items.size()) < max) {
    std::string page_path = path + separator + "limit=1000";
    if (!after.empty()) page_path += "&after=" + UrlEncode(after);
    Result<nlohmann::json> page = http.Call("GET", page_path);
    if (!page) return page.error();
    if (revision && after.empty()) *revision = page->value("revision", int64_t{0});
    for (auto& item : (*page)["items"]) {
      if (static_cast<int64_t>(items.size()) >= max) break;
      items.push_back(std::move(item));
    }
    const nlohmann::json& next = (*page)["next"];
    if (!next.is_string()) break;
    after = next.get<std::string>();
  }
  return items;
}

}  // namespace allot
