// A fake NVML (built as libnvidia-ml.so.1 next to the fake driver) on the
// fake GPUs of fake_gpu.h: what the agent's inventory and the interposer's
// memory reporting call. As the real NVML, it sees every GPU of the machine,
// whatever CUDA_VISIBLE_DEVICES says.
#include <cstdio>
#include <cstring>

#include "cuda/fake/fake_gpu.h"
#include "cuda/nvml_types.h"

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace fg = allot::fake_gpu;

namespace {

bool initialized = false;

// A device handle is its ordinal plus one, so that no handle is null.
nvmlDevice_t Handle(int ordinal) {
  return reinterpret_cast<nvmlDevice_t>(static_cast<intptr_t>(ordinal) + 1);
}

int Ordinal(nvmlDevice_t device) {
  auto ordinal = static_cast<int>(reinterpret_cast<intptr_t>(device) - 1);
  return ordinal >= 0 && ordinal < fg::GetConfig().device_count ? ordinal : -1;
}

}  // namespace

FAKE_EXPORT nvmlReturn_t nvmlInit_v2() {
  initialized = true;
  return NVML_SUCCESS;
}
FAKE_EXPORT nvmlReturn_t nvmlInit() {
  return nvmlInit_v2();
}
FAKE_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int) {
  return nvmlInit_v2();
}

FAKE_EXPORT nvmlReturn_t nvmlShutdown() {
  initialized = false;
  return NVML_SUCCESS;
}

FAKE_EXPORT const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS:
      return "Success";
    case NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case NVML_ERROR_NOT_FOUND:
      return "Not Found";
    default:
      return "Unknown Error";
  }
}

FAKE_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::snprintf(version, length, "580.00.fake");
  return NVML_SUCCESS;
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = static_cast<unsigned>(fg::GetConfig().device_count);
  return NVML_SUCCESS;
}
FAKE_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) {
  return nvmlDeviceGetCount_v2(count);
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (device == nullptr || index >= static_cast<unsigned>(fg::GetConfig().device_count)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  *device = Handle(static_cast<int>(index));
  return NVML_SUCCESS;
}
FAKE_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByIndex_v2(index, device);
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  for (int i = 0; i < fg::GetConfig().device_count; ++i) {
    char text[64];
    fg::DeviceUuidText(i, text, sizeof text);
    if (std::strcmp(text, uuid) == 0) {
      *device = Handle(i);
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  int ordinal = Ordinal(device);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (ordinal < 0 || uuid == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (length < 41) return NVML_ERROR_INSUFFICIENT_SIZE;
  fg::DeviceUuidText(ordinal, uuid, length);
  return NVML_SUCCESS;
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (Ordinal(device) < 0 || name == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::snprintf(name, length, "NVIDIA H100 80GB HBM3");
  return NVML_SUCCESS;
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  int ordinal = Ordinal(device);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (ordinal < 0 || memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  memory->total = fg::GetConfig().memory_bytes;
  memory->used = fg::GetState().devices[ordinal].used_bytes.load();
  memory->free = memory->used > memory->total ? 0 : memory->total - memory->used;
  return NVML_SUCCESS;
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlMemory_t v1{};
  if (nvmlReturn_t result = nvmlDeviceGetMemoryInfo(device, &v1); result != NVML_SUCCESS)
    return result;
  memory->total = v1.total;
  memory->reserved = 0;
  memory->free = v1.free;
  memory->used = v1.used;
  return NVML_SUCCESS;
}

FAKE_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                       nvmlUtilization_t* utilization) {
  int ordinal = Ordinal(device);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (ordinal < 0 || utilization == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  // Busy now if the device's timeline reaches past this instant.
  bool busy = fg::GetState().devices[ordinal].busy_until_ns.load() > fg::NowNs();
  utilization->gpu = busy ? 100 : 0;
  utilization->memory = 0;
  return NVML_SUCCESS;
}
