#include "agent/inventory.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <mutex>
#include <sstream>

namespace allot::agent {
namespace {

// The few NVML entry points the agent uses, with their C signatures
// (nvml.h); resolved by name from libnvidia-ml.so.1.
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
using NvmlDevice = void*;

struct Nvml {
  int (*init)() = nullptr;
  int (*count)(unsigned int*) = nullptr;
  int (*handle)(unsigned int, NvmlDevice*) = nullptr;
  int (*uuid)(NvmlDevice, char*, unsigned int) = nullptr;
  int (*name)(NvmlDevice, char*, unsigned int) = nullptr;
  int (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  int (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  bool ready = false;
  std::string error;
};

template <typename F>
bool Resolve(void* library, const char* symbol, F& out) {
  out = reinterpret_cast<F>(dlsym(library, symbol));
  return out != nullptr;
}

// Loaded and initialised once per process.
Nvml& LoadNvml() {
  static Nvml nvml;
  static std::once_flag once;
  std::call_once(once, [] {
    void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      nvml.error = "no NVML (libnvidia-ml.so.1): no NVIDIA driver on this machine";
      return;
    }
    bool resolved = Resolve(library, "nvmlInit_v2", nvml.init) &&
                    Resolve(library, "nvmlDeviceGetCount_v2", nvml.count) &&
                    Resolve(library, "nvmlDeviceGetHandleByIndex_v2", nvml.handle) &&
                    Resolve(library, "nvmlDeviceGetUUID", nvml.uuid) &&
                    Resolve(library, "nvmlDeviceGetName", nvml.name) &&
                    Resolve(library, "nvmlDeviceGetMemoryInfo", nvml.memory);
    Resolve(library, "nvmlDeviceGetUtilizationRates", nvml.utilization);  // optional
    if (!resolved) {
      nvml.error = "libnvidia-ml.so.1 lacks the NVML entry points the agent needs";
      return;
    }
    if (int rc = nvml.init(); rc != 0) {
      nvml.error = "nvmlInit failed with NVML error " + std::to_string(rc);
      return;
    }
    nvml.ready = true;
  });
  return nvml;
}

// "NVIDIA H100 80GB HBM3" -> "H100-80GB": the model names the scheduler
// filters on, with the memory in GB when NVML names it.
std::string ModelName(std::string name) {
  const std::string vendor = "NVIDIA ";
  if (name.rfind(vendor, 0) == 0) name = name.substr(vendor.size());
  std::istringstream words(name);
  std::string model;
  std::string word;
  while (words >> word) {
    if (!model.empty()) model += '-';
    model += word;
    if (word.size() > 2 && word.substr(word.size() - 2) == "GB") break;
  }
  return model.empty() ? "unknown" : model;
}

}  // namespace

Result<std::vector<core::GpuSpec>> DiscoverGpus() {
  Nvml& nvml = LoadNvml();
  if (!nvml.ready) return Error::Coded("unavailable", nvml.error);
  unsigned int count = 0;
  if (int rc = nvml.count(&count); rc != 0) {
    return Error::Coded("internal",
                        "nvmlDeviceGetCount failed with NVML error " + std::to_string(rc));
  }
  std::vector<core::GpuSpec> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    char uuid[96] = {};
    char name[96] = {};
    NvmlMemory memory{};
    if (nvml.handle(i, &device) != 0 || nvml.uuid(device, uuid, sizeof uuid) != 0 ||
        nvml.name(device, name, sizeof name) != 0 || nvml.memory(device, &memory) != 0) {
      return Error::Coded("internal", "NVML could not describe GPU " + std::to_string(i));
    }
    gpus.push_back({static_cast<int32_t>(i), uuid, ModelName(name),
                    static_cast<int64_t>(memory.total / (1024 * 1024))});
  }
  return gpus;
}

std::vector<GpuUsage> ReadGpuUsage() {
  Nvml& nvml = LoadNvml();
  std::vector<GpuUsage> usage;
  unsigned int count = 0;
  if (!nvml.ready || nvml.count(&count) != 0) return usage;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    NvmlMemory memory{};
    NvmlUtilization utilization{};
    if (nvml.handle(i, &device) != 0 || nvml.memory(device, &memory) != 0) continue;
    if (nvml.utilization) nvml.utilization(device, &utilization);
    char uuid[96] = {};
    if (nvml.uuid(device, uuid, sizeof uuid) != 0) uuid[0] = '\0';
    usage.push_back({static_cast<int32_t>(i), uuid,
                     static_cast<int64_t>(memory.used / (1024 * 1024)),
                     static_cast<int32_t>(utilization.gpu)});
  }
  return usage;
}

int64_t CpuMilli() {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return (cpus > 0 ? cpus : 1) * 1000;
}

int64_t MemoryMib() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib / 1024;
  }
  long pages = sysconf(_SC_PHYS_PAGES);
  return static_cast<int64_t>(pages) * sysconf(_SC_PAGE_SIZE) / (1024 * 1024);
}

std::string BootId() {
  std::ifstream file("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(file, id);
  return id;
}

std::string DefaultNodeName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string name;
  for (char c : std::string(host)) {
    if (c == '.') break;  // the short name
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    name += ok ? lower : '-';
  }
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  if (name.size() > 63) name.resize(63);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "node" : name;
}

Result<std::string> LocalAddressToward(const std::string& server_url) {
  std::string rest = server_url;
  if (size_t scheme = rest.find("://"); scheme != std::string::npos) rest = rest.substr(scheme + 3);
  std::string host = rest.substr(0, rest.find_first_of(":/"));
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), "9", &hints, &found) != 0 || !found) {
    return Error::Coded("invalid", "cannot resolve the server's host '" + host + "'", "server");
  }
  // A UDP "connection" sends nothing; it only picks the route and source.
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  std::string address;
  if (sock >= 0 && connect(sock, found->ai_addr, found->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (getsockname(sock, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
      address = text;
    }
  }
  if (sock >= 0) close(sock);
  freeaddrinfo(found);
  if (address.empty()) {
    return Error::Coded("unavailable",
                        "no route to the server's host '" + host + "': give --address");
  }
  return address;
}

}  // namespace allot::agent
