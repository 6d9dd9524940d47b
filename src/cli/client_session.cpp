#include "cli/client_session.h"

#include <chrono>
#include <iostream>

#include "cli/output.h"

namespace allot::cli {

Result<Session> Connect() {
  Result<ClientConfig> config = LoadClientConfig();
  if (!config) return config.error();
  if (config->token.empty()) {
    return Error::Coded("unauthenticated",
                        "no token for " + config->server +
                            ": run allot login (or set ALLOT_TOKEN); on a standalone install the "
                            "admin token is in " +
                            DefaultDataDir() + "/admin-token");
  }
  Result<std::unique_ptr<HttpClient>> http = HttpClient::Create(config->server, config->token);
  if (!http) return http.error();
  return Session{std::move(*config), std::move(*http)};
}

Result<std::vector<nlohmann::json>> ListAll(HttpClient& http, const std::string& path,
                                            int64_t max) {
  std::vector<nlohmann::json> items;
  std::string separator = path.find('?') == std::string::npos ? "?" : "&";
  std::string after;
  while (static_cast<int64_t>(items.size()) < max) {
    std::string page_path = path + separator + "limit=1000";
    if (!after.empty()) page_path += "&after=" + UrlEncode(after);
    Result<nlohmann::json> page = http.Call("GET", page_path);
    if (!page) return page.error();
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

int ReportError(const std::string& command, const Error& error) {
  std::cerr << "allot " << command << ": " << error.message;
  if (!error.field.empty() && error.message.find(error.field) == std::string::npos) {
    std::cerr << " (field: " << error.field << ")";
  }
  std::cerr << "\n";
  return error.code == "unreachable" || error.code == "internal" ? 1 : 2;
}

void AddOutputOption(CLI::App* command, std::string& output) {
  command->add_option("-o,--output", output, "Output: table (default), json or yaml")
      ->check(CLI::IsMember(OutputFormatNames()));
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace allot::cli
