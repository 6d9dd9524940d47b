// What the interposer's two test programs share (cuda_probe.cpp, a driver API
// program, and cudart_probe.cu, a CUDA runtime one): byte counts on the
// command line and the loop that keeps the GPU busy to measure a share.
// C++17, as nvcc builds cudart_probe.cu.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace probe {

// "64Mi", "1Gi", "4096": bytes.
inline uint64_t Bytes(const char* text) {
  char* end = nullptr;
  uint64_t value = std::strtoull(text, &end, 10);
  std::string suffix = end;
  if (suffix == "Ki") value <<= 10;
  if (suffix == "Mi") value <<= 20;
  if (suffix == "Gi") value <<= 30;
  return value;
}

// Launches 1 ms kernels (`launch(i)` launches the i-th) for `seconds`, two in
// flight as a training loop keeps the GPU fed: after each, `record(i % 2)`
// records that slot's event and `wait(slot)` waits for the one before the
// last. Then `finish()`. Prints "kernels N share S", S the percent of the
// time the kernels ran. With `start_ms` (Unix time, ms) it starts then, so
// that processes side by side measure the same span (one started late would
// see an idle GPU).
template <typename Launch, typename Record, typename Wait, typename Finish>
void Spin(double seconds, long long start_ms, Launch launch, Record record, Wait wait,
          Finish finish) {
  if (start_ms > 0) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(start_ms)));
  }
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  int kernels = 0;
  while (std::chrono::steady_clock::now() < end) {
    launch(kernels);
    record(kernels % 2);
    ++kernels;
    if (kernels >= 2) wait(kernels % 2);
  }
  finish();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("kernels %d share %.1f\n", kernels, 100.0 * kernels * 0.001 / wall);
}

}  // namespace probe
