// What hci-bench records about the machine beside its results: the CPU, memory, each device with
// its measured bandwidth and energy counter, and the versions of what ran (hci, LLVM, drivers,
// BLAS), written as the "machine" object of the output (tools/hci_bench_schema.json).
#pragma once

#include <hci/device.hpp>

#include <string>
#include <vector>

namespace hci_bench {

struct DeviceInfo {
  hci::Device device;
  std::string name;              // "AMD EPYC 9654 96-Core Processor", "NVIDIA H200 (sm_90, ...)"
  double bandwidth_bps = 0;      // measured: the roofline of memory-bound cases
  std::string bandwidth_method;  // how it was measured
  std::string energy;            // the energy counter's provider, or why there is none
};

struct MachineInfo {
  std::string hci_version, hostname, date, cpu_model, llvm, blas, cuda_driver, hip_runtime;
  int cpu_cores = 0, logical_cpus = 0, threads = 0;
  long long memory_bytes = 0;
  bool quick = false;
  std::vector<DeviceInfo> devices;
};

// The CPU's model, physical cores and memory, and the versions of what hci found.
MachineInfo describe_machine(bool quick);

std::string to_json(const MachineInfo& machine);
std::string json_string(const std::string& text);

}  // namespace hci_bench
