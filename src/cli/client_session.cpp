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
  Result<std::unique_ptr<HttpClient>> http =
      HttpClient::Create(config->server, config->token, config->ca);
  if (!http) return http.error();
  return Session{std::move(*config), std::move(*http)};
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
