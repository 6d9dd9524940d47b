// What every client command shares: the connection to the server (from the
// config, see common/client_config.h), paging through lists, error output.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "common/client_config.h"
#include "common/http_client.h"
#include "common/result.h"

namespace allot::cli {

struct Session {
  ClientConfig config;
  std::unique_ptr<HttpClient> http;
};

// The server and token from config and environment. Without a token: an
// error that says how to get one.
Result<Session> Connect();

// Prints "allot <command>: <message>" (and the field) to stderr; returns the
// exit status: 2 for a refused request, 1 for anything else.
int ReportError(const std::string& command, const Error& error);

// Adds -o/--output table|json|yaml.
void AddOutputOption(CLI::App* command, std::string& output);

int64_t NowMs();

}  // namespace allot::cli
