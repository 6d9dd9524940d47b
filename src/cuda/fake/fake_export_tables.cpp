// cuGetExportTable for the fake driver: the private tables the CUDA runtime
// (cudart) asks the driver for while it starts, so that programs built with
// the CUDA runtime (CUDA C++ compiled by nvcc, PyTorch) run on the fake.
//
// cuGetExportTable is public, but what its tables hold is not documented.
// The layouts below are the ones independent driver implementations agree on
// (ZLUDA and others), and only the slots cudart 12 and 13 call are filled;
// every filled slot is built on the fake's public entry points. A table is an
// array of pointer-sized slots; most start with their own size in bytes. An
// unknown table is refused with CUDA_ERROR_NOT_FOUND: cudart treats that as
// "not offered", where a success without a table would make it call through
// garbage.
#include <cuda.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/fake/fake_driver.h"
#include "cuda/fake/md2.h"

namespace {

using Slot = const void*;

template <typename Function>
Slot AsSlot(Function* function) {
  return reinterpret_cast<Slot>(function);
}

bool SameUuid(const CUuuid* id, const unsigned char (&bytes)[16]) {
  return std::memcmp(id->bytes, bytes, 16) == 0;
}

// --- the runtime's interface: primary contexts and its embedded modules ---

const unsigned char kCudartInterface[16] = {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a,
                                            0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9};

// How nvcc wraps a program's fat binary (__fatBinC_Wrapper_t).
struct FatbinWrapper {
  uint32_t magic;  // kFatbinWrapperMagic
  uint32_t version;
  const void* data;
  const void* filename_or_fatbins;
};
constexpr uint32_t kFatbinWrapperMagic = 0x466243b1;

CUresult ModuleFromWrapper(CUmodule* module, const FatbinWrapper* wrapper) {
  if (module == nullptr || wrapper == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (wrapper->magic != kFatbinWrapperMagic || wrapper->data == nullptr) {
    return CUDA_ERROR_INVALID_IMAGE;
  }
  return cuModuleLoadData(module, wrapper->data);
}

CUresult CudartPrimaryContext(CUcontext* context, CUdevice device) {
  return cuDevicePrimaryCtxRetain(context, device);
}

CUresult CudartModuleFromWrapperEx(CUmodule* module, const FatbinWrapper* wrapper, void*, void*,
                                   unsigned int) {
  return ModuleFromWrapper(module, wrapper);
}

void CudartNoOp(uintptr_t) {}

CUresult CudartModuleFromImage(const void* image, CUmodule* module, void*, void*, unsigned int) {
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return cuModuleLoadData(module, image);
}

CUresult CudartLoadCompilers() {
  return CUDA_SUCCESS;
}

const Slot kCudartInterfaceTable[13] = {
    reinterpret_cast<Slot>(13 * sizeof(Slot)),
    AsSlot(&ModuleFromWrapper),          // 1
    AsSlot(&CudartPrimaryContext),       // 2
    nullptr,                             // 3
    nullptr,                             // 4
    nullptr,                             // 5
    AsSlot(&CudartModuleFromWrapperEx),  // 6
    AsSlot(&CudartNoOp),                 // 7
    AsSlot(&CudartModuleFromImage),      // 8
    nullptr,                             // 9
    nullptr,                             // 10
    nullptr,                             // 11
    AsSlot(&CudartLoadCompilers),        // 12
};

// --- hooks for profiling tools: no tool is attached to the fake ---

const unsigned char kToolsCallbackHooks[16] = {0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74,
                                               0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66};

void ToolsEvent(unsigned int, void*) {}
void ToolsSpan(void*, void*) {}

// Two scratch buffers the runtime asks for by pointer and size.
template <size_t kBytes>
void ToolsBuffer(void** buffer, size_t* size) {
  static unsigned char storage[kBytes] = {};
  if (buffer != nullptr) *buffer = storage;
  if (size != nullptr) *size = kBytes;
}

const Slot kToolsCallbackHooksTable[7] = {
    reinterpret_cast<Slot>(7 * sizeof(Slot)),
    AsSlot(&ToolsEvent),         // 1
    AsSlot(&ToolsBuffer<1024>),  // 2
    nullptr,                     // 3
    AsSlot(&ToolsSpan),          // 4
    nullptr,                     // 5
    AsSlot(&ToolsBuffer<14>),    // 6
};

const unsigned char kToolsTls[16] = {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47,
                                     0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc};

void ToolsTlsCallback(void*) {}

const Slot kToolsTlsTable[4] = {
    reinterpret_cast<Slot>(4 * sizeof(Slot)),
    nullptr,                    // 1
    AsSlot(&ToolsTlsCallback),  // 2
    nullptr,                    // 3
};

// --- values the runtime keeps per context (this table has no size slot) ---

const unsigned char kContextLocalStorage[16] = {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11,
                                                0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93};

std::mutex storage_mu;
std::map<std::pair<CUcontext, void*>, void*>& Storage() {
  static auto* storage = new std::map<std::pair<CUcontext, void*>, void*>();
  return *storage;
}

// The context a call names, or the calling thread's current one.
CUresult ContextOrCurrent(CUcontext* context) {
  if (*context != nullptr) return CUDA_SUCCESS;
  CUresult status = cuCtxGetCurrent(context);
  if (status != CUDA_SUCCESS) return status;
  return *context == nullptr ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

CUresult StoragePut(CUcontext context, void* key, void* value, void*) {
  if (CUresult status = ContextOrCurrent(&context); status != CUDA_SUCCESS) return status;
  std::lock_guard lock(storage_mu);
  Storage()[{context, key}] = value;
  return CUDA_SUCCESS;
}

CUresult StorageDelete(CUcontext context, void* key) {
  if (CUresult status = ContextOrCurrent(&context); status != CUDA_SUCCESS) return status;
  std::lock_guard lock(storage_mu);
  Storage().erase({context, key});
  return CUDA_SUCCESS;
}

CUresult StorageGet(void** value, CUcontext context, void* key) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *value = nullptr;
  if (CUresult status = ContextOrCurrent(&context); status != CUDA_SUCCESS) return status;
  std::lock_guard lock(storage_mu);
  auto found = Storage().find({context, key});
  if (found == Storage().end()) return CUDA_ERROR_NOT_FOUND;
  *value = found->second;
  return CUDA_SUCCESS;
}

const Slot kContextLocalStorageTable[4] = {
    AsSlot(&StoragePut),     // 0
    AsSlot(&StorageDelete),  // 1
    AsSlot(&StorageGet),     // 2
    nullptr,                 // 3
};

// --- the runtime's check of a context it is handed: always usable here ---

const unsigned char kContextChecks[16] = {0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43,
                                          0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e};

CUresult ContextCheck(CUcontext, unsigned int* result, const void**) {
  if (result != nullptr) *result = 0;
  return CUDA_SUCCESS;
}

unsigned int ContextCheckFlags() {
  return 0;
}

const Slot kContextChecksTable[4] = {
    reinterpret_cast<Slot>(4 * sizeof(Slot)),
    nullptr,                     // 1
    AsSlot(&ContextCheck),       // 2
    AsSlot(&ContextCheckFlags),  // 3
};

// --- the runtime's check that it runs on a genuine driver ---
//
// The runtime asks for a 16-byte answer for a version number it picks and
// the current time, and compares it with its own. For versions ending in 0
// or 1 the answer is fixed; otherwise it is an HMAC-MD2 under a fixed key
// over what both sides can see: the driver's version, the arguments, the
// calling process and thread, the addresses of this table, of the runtime
// interface table and of this function, and each device's UUID and PCI
// location.

const unsigned char kIntegrityCheck[16] = {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b,
                                           0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2};

const allot::fake_gpu::Md2Digest kIntegrityKey = {0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
                                                  0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f};

#pragma pack(push, 1)
struct IntegrityCall {
  uint32_t driver_version;
  uint32_t version;
  uint32_t process;
  uint32_t thread;
  const void* cudart_table;
  const void* integrity_table;
  const void* function;
  uint64_t unix_seconds;
};
struct IntegrityDevice {
  CUuuid uuid;
  int32_t pci_domain;
  int32_t pci_bus;
  int32_t pci_device;
};
#pragma pack(pop)
static_assert(sizeof(IntegrityCall) == 48 && sizeof(IntegrityDevice) == 28);

CUresult IntegrityCheck(unsigned int version, uint64_t unix_seconds, uint64_t (*result)[2]);

const Slot kIntegrityCheckTable[3] = {
    reinterpret_cast<Slot>(3 * sizeof(Slot)),
    AsSlot(&IntegrityCheck),  // 1
    nullptr,                  // 2
};

CUresult AppendDevice(std::vector<unsigned char>& message, int ordinal) {
  CUdevice device = 0;
  IntegrityDevice entry{};
  CUresult status = cuDeviceGet(&device, ordinal);
  if (status == CUDA_SUCCESS) status = cuDeviceGetUuid(&entry.uuid, device);
  if (status == CUDA_SUCCESS) {
    status = cuDeviceGetAttribute(&entry.pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, device);
  }
  if (status == CUDA_SUCCESS) {
    status = cuDeviceGetAttribute(&entry.pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, device);
  }
  if (status == CUDA_SUCCESS) {
    status = cuDeviceGetAttribute(&entry.pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, device);
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(&entry);
  message.insert(message.end(), bytes, bytes + sizeof entry);
  return status;
}

CUresult IntegrityCheck(unsigned int version, uint64_t unix_seconds, uint64_t (*result)[2]) {
  if (result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (version % 10 < 2) {
    (*result)[0] = version % 10 == 0 ? 0x3341181c03cb675cULL : 0x1841181c03cb675cULL;
    (*result)[1] = 0x8ed383aa1f4cd1e8ULL;
    return CUDA_SUCCESS;
  }
  int driver_version = 0;
  int devices = 0;
  if (CUresult status = cuDriverGetVersion(&driver_version); status != CUDA_SUCCESS) return status;
  if (CUresult status = cuDeviceGetCount(&devices); status != CUDA_SUCCESS) return status;
  IntegrityCall call{static_cast<uint32_t>(driver_version),
                     version,
                     static_cast<uint32_t>(getpid()),
                     static_cast<uint32_t>(pthread_self()),
                     kCudartInterfaceTable,
                     kIntegrityCheckTable,
                     reinterpret_cast<const void*>(&IntegrityCheck),
                     unix_seconds};
  const auto* bytes = reinterpret_cast<const unsigned char*>(&call);
  std::vector<unsigned char> message(bytes, bytes + sizeof call);
  for (int ordinal = 0; ordinal < devices; ++ordinal) {
    if (CUresult status = AppendDevice(message, ordinal); status != CUDA_SUCCESS) return status;
  }
  allot::fake_gpu::Md2Digest digest =
      allot::fake_gpu::HmacMd2(kIntegrityKey, message.data(), message.size());
  std::memcpy(*result, digest.data(), digest.size());
  return CUDA_SUCCESS;
}

}  // namespace

FAKE_EXPORT CUresult cuGetExportTable(const void** table, const CUuuid* id) {
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *table = nullptr;
  const std::pair<const unsigned char(*)[16], const Slot*> tables[] = {
      {&kCudartInterface, kCudartInterfaceTable},
      {&kToolsCallbackHooks, kToolsCallbackHooksTable},
      {&kToolsTls, kToolsTlsTable},
      {&kContextLocalStorage, kContextLocalStorageTable},
      {&kContextChecks, kContextChecksTable},
      {&kIntegrityCheck, kIntegrityCheckTable},
  };
  for (const auto& [uuid, slots] : tables) {
    if (SameUuid(id, *uuid)) {
      *table = slots;
      return CUDA_SUCCESS;
    }
  }
  if (allot::fake_gpu::GetConfig().trace_misses) {
    std::fprintf(stderr, "fake GPU: no export table");
    for (unsigned char byte : id->bytes) std::fprintf(stderr, " %02x", byte);
    std::fprintf(stderr, "\n");
  }
  return CUDA_ERROR_NOT_FOUND;
}
