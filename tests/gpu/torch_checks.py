"""PyTorch under the GPU interposer, on a real GPU (tests/gpu/run.sh; never in CI).

  python3 torch_checks.py report            total memory PyTorch sees, and mem_get_info
  python3 torch_checks.py oom BYTES         allocating BYTES must raise torch.cuda.OutOfMemoryError
  python3 torch_checks.py train SECONDS     a small training loop: prints iterations per second
  python3 torch_checks.py spin SECONDS      matmuls back to back: prints GPU milliseconds per second
"""
import sys
import time

import torch


def main() -> int:
    command = sys.argv[1]
    if command == "report":
        free, total = torch.cuda.mem_get_info()
        properties = torch.cuda.get_device_properties(0)
        print(f"mem_get_info free {free} total {total}")
        print(f"total_memory {properties.total_memory}")
        return 0
    if command == "oom":
        try:
            torch.empty(int(sys.argv[2]), dtype=torch.uint8, device="cuda")
        except torch.cuda.OutOfMemoryError as error:
            print(f"out of memory: {str(error).splitlines()[0]}")
            return 0
        print("allocated past the limit")
        return 1
    seconds = float(sys.argv[2])
    if command == "train":
        model = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.ReLU(), torch.nn.Linear(4096, 4096)).cuda()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        data = torch.randn(256, 4096, device="cuda")
        for _ in range(20):  # warm up
            optimizer.zero_grad()
            model(data).square().mean().backward()
            optimizer.step()
        torch.cuda.synchronize()
        start, iterations = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            optimizer.zero_grad()
            model(data).square().mean().backward()
            optimizer.step()
            iterations += 1
        torch.cuda.synchronize()
        print(f"iterations_per_s {iterations / (time.perf_counter() - start):.2f}")
        return 0
    if command == "spin":
        a = torch.randn(4096, 4096, device="cuda")
        start_event, end_event = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            start_event.record()
            a @ a
            end_event.record()
            end_event.synchronize()
            done += 1
        wall = time.perf_counter() - start
        print(f"matmuls {done} per_s {done / wall:.1f}")
        return 0
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
