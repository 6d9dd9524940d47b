#include "common/client_config.h"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace allot {
namespace {

std::string Home() {
  const char* home = std::getenv("HOME");
  return home && *home ? home : ".";
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool IsLocal(const std::string& server) {
  for (const char* local : {"http://127.0.0.1", "http://localhost", "http://[::1]"}) {
    if (server.rfind(local, 0) == 0) return true;
  }
  return false;
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

std::string DefaultDataDir() {
  std::string xdg = Env("XDG_DATA_HOME");
  if (!xdg.empty()) return xdg + "/allot";
  // Root's tasks run as other users, who must pass through the data
  // directory to theirs: not under /root (mode 0700).
  if (::geteuid() == 0) return "/var/lib/allot";
  return Home() + "/.local/share/allot";
}

std::string ClientConfigPath() {
  std::string xdg = Env("XDG_CONFIG_HOME");
  return (xdg.empty() ? Home() + "/.config" : xdg) + "/allot/config";
}

Result<ClientConfig> LoadClientConfig() {
  ClientConfig config;
  std::string path = ClientConfigPath();
  if (std::filesystem::exists(path)) {
    try {
      YAML::Node file = YAML::LoadFile(path);
      if (!file.IsNull() && !file.IsMap()) {
        return Error::Coded("invalid", path + ": expected server, token and project keys",
                            "config");
      }
      for (const auto& entry : file) {
        std::string key = entry.first.as<std::string>();
        if (!entry.second.IsScalar()) {
          return Error::Coded("invalid", path + ": " + key + ": expected a text value", key);
        }
        std::string value = entry.second.as<std::string>();
        if (key == "server") {
          config.server = value;
        } else if (key == "token") {
          config.token = value;
          config.token_source = path;
        } else if (key == "project") {
          config.project = value;
        } else if (key == "ca") {
          config.ca = value;
        } else {
          return Error::Coded(
              "invalid", path + ": unknown key '" + key + "': use server, token, project or ca",
              key);
        }
      }
    } catch (const YAML::Exception& e) {
      return Error::Coded("invalid",
                          path + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg +
                              ": fix the file or run allot login again",
                          "config");
    }
  }
  if (std::string server = Env("ALLOT_SERVER"); !server.empty()) config.server = server;
  if (std::string project = Env("ALLOT_PROJECT"); !project.empty()) config.project = project;
  if (std::string ca = Env("ALLOT_CA"); !ca.empty()) config.ca = ca;
  if (std::string token = Env("ALLOT_TOKEN"); !token.empty()) {
    config.token = token;
    config.token_source = "ALLOT_TOKEN";
  }
  if (config.token.empty() && IsLocal(config.server)) {
    std::string admin_token = DefaultDataDir() + "/admin-token";
    if (std::filesystem::exists(admin_token)) {
      config.token = FirstLine(admin_token);
      config.token_source = admin_token;
    }
  }
  return config;
}

Status SaveClientConfig(const ClientConfig& config) {
  std::filesystem::path path = ClientConfigPath();
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    return Error::Coded("internal",
                        "cannot create " + path.parent_path().string() + ": " + error.message());
  }
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "server" << YAML::Value << config.server << YAML::Key
      << "token" << YAML::Value << config.token << YAML::Key << "project" << YAML::Value
      << config.project;
  if (!config.ca.empty()) out << YAML::Key << "ca" << YAML::Value << config.ca;
  out << YAML::EndMap;
  // Written beside and renamed, so that a crash never leaves half a file;
  // created 0600 since it holds the token.
  std::string temp = path.string() + ".tmp";
  {
    mode_t old_mask = umask(077);
    std::ofstream file(temp, std::ios::trunc);
    umask(old_mask);
    file << out.c_str() << "\n";
    if (!file.flush()) return Error::Coded("internal", "cannot write " + temp);
  }
  std::filesystem::rename(temp, path, error);
  if (error)
    return Error::Coded("internal", "cannot write " + path.string() + ": " + error.message());
  return Status::Ok();
}

}  // namespace allot
