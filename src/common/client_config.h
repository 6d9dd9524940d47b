// Where the CLI finds the server and its token. In order, later wins:
//   1. defaults: http://127.0.0.1:7070, project "default";
//   2. the config file, $XDG_CONFIG_HOME/allot/config or ~/.config/allot/config
//      (YAML: server, token, project, ca), written by `allot login`;
//   3. ALLOT_SERVER, ALLOT_TOKEN, ALLOT_PROJECT and ALLOT_CA.
// With no token from these and a server on this machine, the admin token
// that `allot up` wrote to its data directory is used, so that a newcomer on
// a standalone install can submit at once.
#pragma once

#include <string>

#include "common/result.h"

namespace allot {

struct ClientConfig {
  std::string server = "http://127.0.0.1:7070";
  std::string token;
  std::string project = "default";
  std::string token_source;  // where the token came from, for messages
  // The CA (PEM file) that an https server's certificate must chain to;
  // empty: the system's store.
  std::string ca;
};

// allot up's data directory: $XDG_DATA_HOME/allot when set, else
// /var/lib/allot for root (its tasks run as other users, who must pass
// through it) and ~/.local/share/allot for anyone else.
std::string DefaultDataDir();
// The config file's path.
std::string ClientConfigPath();

// Reads defaults, the file and the environment. A malformed file is an
// error naming the file and the field.
Result<ClientConfig> LoadClientConfig();
// Writes server, token and project to the config file, readable by the
// owner only (it holds a secret).
Status SaveClientConfig(const ClientConfig& config);

}  // namespace allot
