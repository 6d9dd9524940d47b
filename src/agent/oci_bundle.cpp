#include "agent/oci_bundle.h"

#include <map>

namespace allot::agent {

using nlohmann::json;

namespace {

// The capabilities a granted root keeps (the OCI runtimes' defaults).
const std::vector<std::string> kRootCapabilities = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

json Mount(const std::string& destination, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return {{"destination", destination}, {"type", type}, {"source", source}, {"options", options}};
}

json Mounts(const ContainerInputs& in) {
  int64_t shm_bytes = (in.shm_mib > 0 ? in.shm_mib : 64) * 1024 * 1024;
  json mounts = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      Mount("/dev/shm", "tmpfs", "shm",
            {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm_bytes)}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1777"}),
  });
  for (const BindMount& bind : in.binds) {
    std::vector<std::string> options = {"rbind", "nosuid", "nodev"};
    options.push_back(bind.read_only ? "ro" : "rw");
    mounts.push_back(Mount(bind.container, "bind", bind.host, options));
  }
  return mounts;
}

json Process(const ContainerInputs& in) {
  std::vector<std::string> args = in.command;
  if (args.empty()) {
    args = in.image.entrypoint;
    args.insert(args.end(), in.image.cmd.begin(), in.image.cmd.end());
  }
  json user = {{"uid", in.identity.uid}, {"gid", in.identity.gid}};
  if (!in.identity.groups.empty()) user["additionalGids"] = in.identity.groups;
  bool root = in.identity.uid == 0;
  std::vector<std::string> capabilities = root ? kRootCapabilities : std::vector<std::string>{};
  std::string cwd = !in.image.working_dir.empty() ? in.image.working_dir
                    : !in.home.empty()            ? in.home
                                                  : "/";
  return {{"terminal", false},
          {"user", user},
          {"args", args},
          {"env", in.env},
          {"cwd", cwd},
          {"noNewPrivileges", true},
          {"capabilities",
           {{"bounding", capabilities}, {"effective", capabilities}, {"permitted", capabilities}}}};
}

json Linux(const ContainerInputs& in) {
  json devices = json::array();
  json allowed = json::array({{{"allow", false}, {"access", "rwm"}}});
  // What every container may use: null, zero, full, random, urandom, tty.
  for (auto [major, minor] : std::vector<std::pair<int, int>>{
           {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}, {136, -1}}) {
    json rule = {{"allow", true}, {"type", "c"}, {"major", major}, {"access", "rwm"}};
    if (minor >= 0) rule["minor"] = minor;
    allowed.push_back(rule);
  }
  for (const DeviceNode& device : in.devices) {
    devices.push_back({{"path", device.path},
                       {"type", "c"},
                       {"major", device.major},
                       {"minor", device.minor},
                       {"fileMode", 0666},
                       {"uid", 0},
                       {"gid", 0}});
    allowed.push_back({{"allow", true},
                       {"type", "c"},
                       {"major", device.major},
                       {"minor", device.minor},
                       {"access", "rwm"}});
  }
  json resources = {{"devices", allowed}, {"pids", {{"limit", 32768}}}};
  if (in.memory_mib > 0) resources["memory"] = {{"limit", in.memory_mib * 1024 * 1024}};
  if (in.cpu_milli > 0) resources["cpu"] = {{"quota", in.cpu_milli * 100}, {"period", 100000}};
  json linux = {
      {"namespaces",
       json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}})},
      {"devices", devices},
      {"resources", resources},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths",
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}};
  if (!in.cgroups_path.empty()) linux["cgroupsPath"] = in.cgroups_path;
  return linux;
}

}  // namespace

std::vector<std::string> MergeEnvironment(const std::vector<std::string>& image,
                                          const std::vector<std::string>& task) {
  std::map<std::string, std::string> merged;
  std::vector<std::string> order;
  for (const auto* list : {&image, &task}) {
    for (const std::string& entry : *list) {
      std::string key = entry.substr(0, entry.find('='));
      if (!merged.count(key)) order.push_back(key);
      merged[key] = entry;
    }
  }
  std::vector<std::string> out;
  for (const std::string& key : order) out.push_back(merged[key]);
  return out;
}

json OciConfig(const ContainerInputs& in) {
  return {{"ociVersion", "1.0.2"},
          {"process", Process(in)},
          {"root", {{"path", in.rootfs}, {"readonly", false}}},
          {"hostname", in.hostname},
          {"mounts", Mounts(in)},
          {"linux", Linux(in)}};
}

}  // namespace allot::agent
