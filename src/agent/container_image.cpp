#include "agent/container_image.h"

#include <nlohmann/json.hpp>

#include "agent/run_program.h"

namespace allot::agent {

using nlohmann::json;

namespace {

std::vector<std::string> Strings(const json& config, const char* key) {
  std::vector<std::string> out;
  if (!config.contains(key) || !config[key].is_array()) return out;
  for (const json& item : config[key]) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

std::string RegistryOf(const std::string& image) {
  size_t slash = image.find('/');
  if (slash != std::string::npos) {
    std::string first = image.substr(0, slash);
    if (first == "localhost" || first.find('.') != std::string::npos ||
        first.find(':') != std::string::npos) {
      return first;
    }
  }
  return "podman's search registries (/etc/containers/registries.conf)";
}

Result<ImageConfig> MountImage(const std::string& image) {
  if (FindOnPath("podman").empty()) {
    return Error::Coded("failed_precondition",
                        "image " + image +
                            ": container tasks need podman on the node for their images "
                            "(apt-get install podman runc)");
  }
  // Inspect first (one podman call when the node has the image, as it
  // mostly does); pull only when it does not.
  ProgramResult inspected = RunProgram({"podman", "image", "inspect", image});
  if (inspected.exit_code != 0) {
    ProgramResult pulled = RunProgram({"podman", "pull", "--quiet", image});
    if (pulled.exit_code != 0) {
      return Error::Coded("not_found", "image " + image +
                                           " is not on this node, and pulling it from " +
                                           RegistryOf(image) + " failed: " + pulled.LastLine());
    }
    inspected = RunProgram({"podman", "image", "inspect", image});
  }
  json described = json::parse(inspected.out, nullptr, false);
  if (inspected.exit_code != 0 || !described.is_array() || described.empty()) {
    return Error::Coded(
        "internal", "image " + image + ": podman image inspect failed: " + inspected.LastLine());
  }
  ImageConfig config;
  const json& settings = described[0].value("Config", json::object());
  config.env = Strings(settings, "Env");
  config.entrypoint = Strings(settings, "Entrypoint");
  config.cmd = Strings(settings, "Cmd");
  config.working_dir = settings.value("WorkingDir", "");
  ProgramResult mounted = RunProgram({"podman", "image", "mount", image});
  std::string path = mounted.out.substr(0, mounted.out.find('\n'));
  if (mounted.exit_code != 0 || path.empty()) {
    return Error::Coded("internal",
                        "image " + image + ": podman image mount failed: " + mounted.LastLine());
  }
  config.rootfs = path;
  return config;
}

void UnmountImage(const std::string& image) {
  (void)RunProgram({"podman", "image", "unmount", image});
}

}  // namespace allot::agent
