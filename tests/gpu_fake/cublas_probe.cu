// cuBLAS on the fake driver (cuda_runtime_test.sh, where nvcc and cuBLAS are
// installed): cuBLAS reads the driver's functions with dlsym and checks the
// device before it starts, so starting it exercises what the fake offers a
// library beyond the CUDA runtime. Prints "cublas started" when a handle was
// created on a stream and destroyed.
#include <cublas_v2.h>

#include <cstdio>

int main() {
  cudaStream_t stream = nullptr;
  if (cudaStreamCreate(&stream) != cudaSuccess) {
    std::fprintf(stderr, "FAIL: cudaStreamCreate\n");
    return 1;
  }
  cublasHandle_t handle = nullptr;
  cublasStatus_t status = cublasCreate(&handle);
  if (status == CUBLAS_STATUS_SUCCESS) status = cublasSetStream(handle, stream);
  if (status == CUBLAS_STATUS_SUCCESS) status = cublasDestroy(handle);
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "FAIL: cuBLAS: %s\n", cublasGetStatusName(status));
    return 1;
  }
  std::printf("cublas started\n");
  return 0;
}
