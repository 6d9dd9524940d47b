#include "agent/container_task.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include "agent/container_image.h"
#include "agent/oci_bundle.h"
#include "agent/run_program.h"
#include "agent/task_files.h"
#include "cuda/gpu_board.h"
#include "cuda/gpu_limits.h"
#include "wire/isolation.h"

namespace allot::agent {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kDriverDir = "/usr/local/allot/driver";
constexpr const char* kInterposerPath = "/usr/local/allot/lib/liballot-cuda.so";
// The driver libraries a CUDA program loads (the NVIDIA container toolkit's
// list, shortened to what CUDA and NVML programs open).
const std::vector<std::string> kDriverLibraries = {"libcuda.so", "libnvidia-ml.so",
                                                   "libnvidia-ptxjitcompiler.so",
                                                   "libnvidia-nvvm.so", "libcudadebugger.so"};

std::string EnvValue(const std::vector<std::string>& env, const std::string& key) {
  for (const std::string& entry : env) {
    if (entry.rfind(key + "=", 0) == 0) return entry.substr(key.size() + 1);
  }
  return "";
}

void SetEnv(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  for (std::string& entry : env) {
    if (entry.rfind(key + "=", 0) == 0) {
      entry = key + "=" + value;
      return;
    }
  }
  env.push_back(key + "=" + value);
}

// The character devices of the assigned GPUs (/dev/nvidiaN by position)
// and the driver's control devices, where the node has them.
std::vector<DeviceNode> GpuDevices(const json& spec) {
  std::vector<std::string> paths;
  for (const json& position : spec.value("gpu_positions", json::array())) {
    paths.push_back("/dev/nvidia" + std::to_string(position.get<int>()));
  }
  if (!paths.empty()) {
    for (const char* control :
         {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"}) {
      paths.push_back(control);
    }
  }
  std::vector<DeviceNode> out;
  for (const std::string& path : paths) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISCHR(info.st_mode)) {
      out.push_back({path, major(info.st_rdev), minor(info.st_rdev)});
    }
  }
  return out;
}

// The driver's libraries on this node: in the agent's LD_LIBRARY_PATH,
// then the system's library directories; the first of each name wins.
// Never the task's LD_LIBRARY_PATH: the shim binds as root, and a task
// could name a directory of links to the agent's files.
std::vector<BindMount> DriverLibraries() {
  std::vector<std::string> dirs;
  const char* agent_paths = std::getenv("LD_LIBRARY_PATH");
  std::stringstream parts(agent_paths ? agent_paths : "");
  for (std::string dir; std::getline(parts, dir, ':');) {
    if (!dir.empty()) dirs.push_back(dir);
  }
  for (const char* dir :
       {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"}) {
    dirs.push_back(dir);
  }
  std::vector<BindMount> out;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string name = entry.path().filename().string();
      bool wanted = false;
      for (const std::string& library : kDriverLibraries) {
        wanted = wanted || name.rfind(library, 0) == 0;
      }
      if (!wanted || seen.count(name) || !fs::exists(entry.path(), ec)) continue;
      seen.insert(name);
      out.push_back(
          {fs::canonical(entry.path(), ec).string(), std::string(kDriverDir) + "/" + name, true});
    }
  }
  return out;
}

// Each volume's host path as it really is: a symbolic link in it could
// point anywhere on the host (the agent's files included), so it is refused.
Status CheckVolumePaths(const std::vector<wire::Volume>& volumes) {
  for (const wire::Volume& volume : volumes) {
    std::error_code ec;
    fs::path real = fs::canonical(volume.host, ec);
    if (ec) return Error::Coded("not_found", "volume " + volume.host + ": " + ec.message());
    if (real.string() != volume.host) {
      return Error::Coded("permission_denied", "volume " + volume.host + " leads elsewhere (" +
                                                   real.string() +
                                                   ") through a symbolic link: bind the real path");
    }
  }
  return Status::Ok();
}

std::string ContainerId(const std::string& dir) {
  std::string key = fs::path(dir).filename().string();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(fs::absolute(dir).string()));
  return "allot-" + key + "-" + std::string(hash, 8);
}

// The GPU ledgers of a fraction's GPUs, made on the host (so that the
// agent and the GPU's other tenants share them) and bound at the path the
// interposer in the container opens.
Result<std::vector<BindMount>> LedgerBinds(const json& spec) {
  const char* configured = std::getenv("ALLOT_GPU_LEDGER_DIR");
  std::string directory = configured && *configured ? configured : "/dev/shm";
  std::vector<BindMount> out;
  for (const json& uuid : spec.value("gpus", json::array())) {
    auto board = cuda::GpuBoard::Open(uuid.get<std::string>(), directory);
    if (!board) return Error::Coded("internal", board.error().message);
    out.push_back({cuda::BoardPath(uuid.get<std::string>(), directory),
                   cuda::BoardPath(uuid.get<std::string>(), "/dev/shm"), false});
  }
  return out;
}

}  // namespace

Result<std::string> InterposerLibraryFor(const json& spec) {
  std::string kept = spec.value("interposer_library", std::string());
  if (!kept.empty() && ::access(kept.c_str(), R_OK) == 0) return kept;
  auto library = cuda::FindInterposerLibrary();
  if (!library) {
    return Error::Coded("failed_precondition",
                        "a GPU fraction needs the GPU interposer: " + library.error().message);
  }
  return *library;
}

void ReleaseContainerRoot(const std::string& dir) {
  struct stat bundle {
  }, root{};
  std::string rootfs = dir + "/bundle/rootfs";
  if (::stat((dir + "/bundle").c_str(), &bundle) != 0 || ::stat(rootfs.c_str(), &root) != 0) {
    return;
  }
  if (bundle.st_dev != root.st_dev) ::umount2(rootfs.c_str(), MNT_DETACH);
}

std::string OciRuntime() {
  if (const char* configured = std::getenv("ALLOT_OCI_RUNTIME"); configured && *configured) {
    return configured;
  }
  return FindOnPath("runc").empty() ? "crun" : "runc";
}

Result<PreparedContainer> PrepareContainer(const std::string& dir, const json& spec,
                                           const TaskIdentity& identity,
                                           const std::vector<std::string>& env) {
  if (::geteuid() != 0) {
    return Error::Coded("failed_precondition",
                        "container tasks need an agent running as root (it prepares their "
                        "root file system and devices); this one runs as uid " +
                            std::to_string(::geteuid()));
  }
  std::string runtime = OciRuntime();
  if (FindOnPath(runtime).empty()) {
    return Error::Coded("failed_precondition",
                        "container tasks need an OCI runtime: " + runtime +
                            " is not on PATH (apt-get install runc, or set ALLOT_OCI_RUNTIME)");
  }
  wire::TaskRuntime wanted;
  wanted.image = spec.value("image", "");
  for (const json& text : spec.value("volumes", json::array())) {
    Result<wire::Volume> volume = wire::ParseVolume(text.get<std::string>());
    if (!volume) return volume.error();
    wanted.volumes.push_back(*volume);
  }
  if (Status s = CheckVolumePaths(wanted.volumes); !s) return s.error();
  Result<ImageConfig> image = MountImage(wanted.image);
  if (!image) return image.error();
  PreparedContainer prepared;
  prepared.image = wanted.image;
  prepared.id = ContainerId(dir);
  std::string bundle = dir + "/bundle";
  std::string layer = dir + "/layer";
  prepared.rootfs = bundle + "/rootfs";
  for (const std::string& path :
       {bundle, prepared.rootfs, layer, layer + "/upper", layer + "/work"}) {
    ::mkdir(path.c_str(), 0700);
  }
  ::chmod(bundle.c_str(), 0711);
  ::chmod((layer + "/upper").c_str(), 0755);  // the container's "/" takes its mode
  std::string options =
      "lowerdir=" + image->rootfs + ",upperdir=" + layer + "/upper,workdir=" + layer + "/work";
  if (::mount("overlay", prepared.rootfs.c_str(), "overlay", 0, options.c_str()) != 0) {
    std::string why = std::strerror(errno);
    UnmountImage(wanted.image);
    return Error::Coded("internal",
                        "image " + wanted.image + ": cannot mount its root file system: " + why);
  }

  ContainerInputs in;
  in.image = *image;
  in.command = spec.value("command", std::vector<std::string>{});
  in.identity = identity;
  in.hostname = spec.value("workload", std::string("task"));
  in.rootfs = prepared.rootfs;
  in.cgroups_path = "/allot/" + prepared.id;
  in.cpu_milli = spec.value("cpu_milli", int64_t{0});
  in.memory_mib = spec.value("memory_mib", int64_t{0});
  in.shm_mib = spec.value("shm_mib", int64_t{0});
  in.devices = GpuDevices(spec);
  // The node's name resolution, as host tasks have it (the network is the node's).
  for (const char* file : {"/etc/resolv.conf", "/etc/hosts"}) {
    if (::access(file, R_OK) == 0) in.binds.push_back({file, file, true});
  }
  std::vector<std::string> task_env = env;
  std::string owner = spec.value("owner", std::string());
  std::string user_dir = spec.value("user_dir", std::string());
  if (!user_dir.empty()) {
    in.home = "/home/" + (owner.empty() ? std::string("allot") : owner);
    in.binds.push_back({user_dir, in.home, false});
    SetEnv(task_env, "HOME", in.home);
    SetEnv(task_env, "ALLOT_USER_DIR", in.home);
  }
  for (const wire::Volume& volume : wanted.volumes) {
    in.binds.push_back({volume.host, volume.task, volume.read_only});
  }
  // The agent's hostfile in the task's directory, never a path from the
  // task's environment (the shim binds as root).
  if (std::string hostfile = dir + "/hostfile"; ::access(hostfile.c_str(), R_OK) == 0) {
    in.binds.push_back({hostfile, "/etc/allot/hostfile", true});
    SetEnv(task_env, "ALLOT_HOSTFILE", "/etc/allot/hostfile");
  }
  if (!spec.value("gpus", json::array()).empty()) {
    std::vector<BindMount> libraries = DriverLibraries();
    in.binds.insert(in.binds.end(), libraries.begin(), libraries.end());
    if (!libraries.empty()) {
      std::string paths = EnvValue(task_env, "LD_LIBRARY_PATH");
      SetEnv(task_env, "LD_LIBRARY_PATH", kDriverDir + (paths.empty() ? "" : ":" + paths));
    }
  }
  if (!EnvValue(env, "ALLOT_GPU_MEMORY_LIMIT").empty()) {
    Result<std::string> library = InterposerLibraryFor(spec);
    if (!library) return library.error();
    in.binds.push_back({*library, kInterposerPath, true});
    SetEnv(task_env, "LD_PRELOAD", kInterposerPath);
    SetEnv(task_env, "ALLOT_GPU_LEDGER_DIR", "/dev/shm");
    Result<std::vector<BindMount>> ledgers = LedgerBinds(spec);
    if (!ledgers) return ledgers.error();
    in.binds.insert(in.binds.end(), ledgers->begin(), ledgers->end());
  }
  // Host paths stay on the host: the image's PATH unless the task sets one.
  for (const char* host_only : {"PATH"}) {
    if (spec.value("env", json::object()).contains(host_only)) continue;
    std::erase_if(task_env, [&](const std::string& e) {
      return e.rfind(std::string(host_only) + "=", 0) == 0;
    });
  }
  in.env = MergeEnvironment(image->env, task_env);
  if (EnvValue(in.env, "PATH").empty()) {
    in.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  if (in.command.empty() && in.image.entrypoint.empty() && in.image.cmd.empty()) {
    CleanUpContainer(dir, prepared);
    return Error::Coded("invalid", "image " + wanted.image +
                                       " has no entrypoint or cmd: submit the command after --");
  }
  if (Status s = WriteFileAtomically(bundle + "/config.json", OciConfig(in).dump(2)); !s) {
    CleanUpContainer(dir, prepared);
    return s.error();
  }
  prepared.command = {FindOnPath(runtime),    "run",      "--bundle", bundle, "--pid-file",
                      dir + "/container.pid", prepared.id};
  return prepared;
}

void CleanUpContainer(const std::string& dir, const PreparedContainer& container) {
  bool unmounted = container.rootfs.empty() ||
                   ::umount2(container.rootfs.c_str(), MNT_DETACH) == 0 || errno == EINVAL;
  if (!unmounted) {
    std::fprintf(stderr, "allot task-shim: cannot unmount %s: %s\n", container.rootfs.c_str(),
                 std::strerror(errno));
  }
  if (!container.image.empty()) UnmountImage(container.image);
  if (!unmounted) return;  // never delete through a mount still in place
  std::error_code ec;
  fs::remove_all(dir + "/layer", ec);
  fs::remove(dir + "/bundle/rootfs", ec);
}

}  // namespace allot::agent
