// The simulated devices' parameters, each with where it comes from. They were fixed from these
// sources before any policy ran on the model, and tests/test_energy_model.cpp checks that the
// model reproduces the cited data points; a policy's result on the model is only as good as
// these numbers, and a real device must confirm it.
//
// Tags: [V] the vendor's specification or its tools' output at stock settings; [M] measured by a
// third party; [D] derived here from cited numbers (the arithmetic is given); [A] an assumption
// of the model where no source was found, to be replaced when a measurement exists.
//
// Sources:
//   S1  nvidia-smi -q of 8 H100 80GB HBM3 SXM (driver 565.57.01), github.com/thamada/nvidia-smi,
//       nvsim/H100SXMx8_smi.py and H100SXMx8_deviceQuery.py: power limit 700 W (min 200 W),
//       max clock 1980 MHz, memory clock 2619 MHz, idle 75-100 W at 345 MHz and 28-31 C,
//       685 mV at idle, 132 SMs x 128 FP32 lanes, 5120-bit memory bus.
//   S2  NVIDIA H100 specifications as tabulated at glennklockwood.com/garden/processors/h100:
//       989.4 TFLOP/s dense BF16 (computed at 1830 MHz), 66.9 TFLOP/s FP32, 3.35 TB/s HBM3.
//   S3  github.com/deepseek-ai/DeepGEMM/issues/120: an H800 (the H100 die) running GEMM at its
//       700 W limit is pulled from 1980 to 1575 MHz.
//   S4  github.com/tile-ai/TileOPs/issues/1587: at 700 W an H200 SXM cannot hold 1830 MHz under
//       full load; 1500 MHz is the sustainable lock.
//   S5  github.com/huggingface/gpu-fryer/issues/4: H100 SXM FP32 (non-tensor) burn at 580-650 W.
//   S6  github.com/ModelCloud/GPTQModel/issues/2898: H100 SXM at 697-699 W run at 55-67 C
//       (air-cooled server; inlet not stated, taken as 25 C, the middle of ASHRAE's 18-27 C).
//   S7  github.com/bradrlaw/ai-server/pull/15: after a load step a V100's temperature plateaus
//       within about 60 s.
//   S8  ML.ENERGY benchmark v3.0 as quoted in vllm-semantic-router.com fleet-sim power model:
//       H100 SXM LLM inference draws about 300 W at batch 1 (memory-bound decoding).
//   S9  Ma et al., "The Illusion of Power Capping in LLM Decode", arXiv 2605.11999: H200 decoding
//       saturates HBM and draws 137-300 W; locking the SM clock recovers up to 32% of its energy
//       at minimal throughput loss.
//   S10 O'Connor et al., "Fine-Grained DRAM", MICRO 2017: HBM2 access energy 3.97 pJ/bit.
//   S11 TechPowerUp voltage-frequency tables of NVIDIA GPUs (RTX 3060 Ti, RTX 2060, GTX 1660 Ti
//       reviews): voltage flat at its minimum up to 68-77% of the top clock, then rising
//       0.64-0.92 mV/MHz.
//   S12 D. Kanter (RealWorldTech), quoted at techreport.com forum p=1098947: a chip at 85 C
//       draws about 12% more than at 30 C (leakage).
//   S13 zejia-lin/BulletServe issue 1: an H100 PCIe saturates its memory bandwidth with about
//       40 of its 114 SMs.
//   S14 mredenti/PowerCapping, configuration/OpenCL_benchmark.md: a GH200 (HBM3, 4.0 TB/s peak)
//       streams 3.61 TB/s, 0.90 of its peak.
//   S15 Voltana (supercomputing-system-ai-lab.github.io/projects/voltana): an A100's energy
//       against its clock is U-shaped.
//   S16 AMD EPYC 9004 SKU table (hpctech.co.jp/product/amd-epyc-9004-series): EPYC 9654 has 96
//       cores, 2.4 GHz base, 3.7 GHz boost, 360 W TDP, 12 channels of DDR5-4800.
//   S17 AnandTech EPYC Milan review, page 5: package idle 100-111 W (Milan; Genoa's not found).
//   S18 github.com/cyring/CoreFreq/issues/479: an EPYC 9274F (Genoa) at 1.13-1.14 V with cores
//       up to 4.16 GHz.
#pragma once

#include <hci/config.hpp>

#include <string>

HCI_BEGIN_NAMESPACE

namespace energy {

// The physics of one simulated device (see simulated_device.hpp for the equations).
struct SimulatedDeviceParameters {
  std::string name;
  // Core clocks the device supports: min_core_mhz + k * core_step_mhz up to max_core_mhz.
  double min_core_mhz = 0, max_core_mhz = 0, core_step_mhz = 0;
  double memory_mhz = 0;  // fixed: the governor sets core clocks only
  // Voltage: min_volts up to flat_until_mhz, then rising volts_per_mhz.
  double min_volts = 0, flat_until_mhz = 0, volts_per_mhz = 0;
  // Power P = idle_w + leakage_w_per_c * (T - idle_reference_c) + u * switched_w * V^2 * f[MHz]
  //           + memory_joules_per_byte * bytes per second.
  double idle_w = 0, idle_reference_c = 0, leakage_w_per_c = 0;
  double switched_w = 0;  // W per V^2 MHz at activity 1
  double memory_joules_per_byte = 0;
  // Activity u of the core while its time goes to each kind of work (1 = the busiest it gets).
  double matrix_activity = 0, vector_activity = 0, memory_activity = 0;
  double default_power_limit_w = 0, min_power_limit_w = 0;
  // Throughput: FLOPs per core clock cycle, and memory bandwidth, which falls in proportion to
  // the core clock below bandwidth_knee_mhz (too few requests in flight to cover the latency).
  double matrix_flops_per_cycle = 0, vector_flops_per_cycle = 0;
  double bandwidth_bytes_per_s = 0, bandwidth_knee_mhz = 0;
  // Thermal: one RC stage from the die to the inlet air.
  double thermal_resistance_c_per_w = 0, thermal_capacitance_j_per_c = 0, ambient_c = 0;
  double max_operating_c = 0, shutdown_c = 0;  // the default behaviour throttles at max_operating_c
  // Sensors: read every sensor_period_s, reporting what was true sensor_delay_s before;
  // temperature in steps of temperature_step_c, power averaged over power_window_s with a
  // relative error of power_noise (one standard deviation), energy in steps of energy_step_j.
  double sensor_period_s = 0, sensor_delay_s = 0, temperature_step_c = 0, power_window_s = 0, power_noise = 0,
         energy_step_j = 0;
};

// An H100 SXM5 80 GB.
inline SimulatedDeviceParameters h100_sxm() {
  SimulatedDeviceParameters p;
  p.name = "sim:h100";
  p.min_core_mhz = 345;   // [M] S1: the clock it idles at; the lowest clock the model offers
  p.max_core_mhz = 1980;  // [V] S1
  p.core_step_mhz = 15;   // [M] NVML lists supported clocks 15 MHz apart (A100; H100's seen on that grid)
  p.memory_mhz = 2619;    // [V] S1
  p.min_volts = 0.685;    // [M] S1, at 345 MHz
  // [D] S11: the curve is flat up to 0.68-0.77 of the top clock (0.73 * 1980), then rises
  // 0.64-0.92 mV/MHz (0.75 taken), reaching 1.086 V at 1980 MHz.
  p.flat_until_mhz = 0.73 * 1980;
  p.volts_per_mhz = 0.75e-3;
  p.idle_w = 80;             // [M] S1: 75-100 W idle
  p.idle_reference_c = 30;   // [M] S1: at 28-31 C
  p.leakage_w_per_c = 1.54;  // [D] S12: 12% over 55 C, 0.22% of the 700 W limit per degree
  // [D] S3, S6: GEMM (activity 1) at 1575 MHz draws the 700 W limit at its steady temperature
  // (61.1 C), so switched_w = (700 - 80 - 1.54 * 31.1 - 10 for memory) / (0.7822^2 * 1575).
  p.switched_w = 0.5833;
  p.memory_joules_per_byte = 8 * 4.0e-12;  // [M] S10: about 4 pJ per bit of HBM (HBM2's 3.97)
  p.matrix_activity = 1;                   // the definition of activity 1
  p.vector_activity = 0.36;                // [D] S5: FP32 burn at 1980 MHz draws 615 W (580-650), so 0.36
  // [D] S8: streaming at 1980 MHz draws 300 W. What a lower clock saves on memory-bound work
  // depends on it most (at 0.04 a stream saves 20%, at 0.15 44%, against 31.5%).
  p.memory_activity = 0.079;
  p.default_power_limit_w = 700;                 // [V] S1
  p.min_power_limit_w = 200;                     // [V] S1
  p.matrix_flops_per_cycle = 989.4e12 / 1830e6;  // [V] S2: dense BF16 tensor FLOPs
  p.vector_flops_per_cycle = 132 * 128 * 2;      // [V] S1: FP32 FMA lanes, 66.9 TFLOP/s at 1980 MHz (S2)
  p.bandwidth_bytes_per_s = 0.9 * 3.35e12;       // [V] S2, [M] S14: streams reach 0.90 of the peak
  // [D] S13: 40 of 114 SMs (0.35) saturate the bandwidth; taking request rate as proportional to
  // the clock as to the SM count, the knee is put at 0.45 of the top clock. The least certain
  // parameter: it decides how low a memory-bound phase's clock can go.
  p.bandwidth_knee_mhz = 0.45 * 1980;
  p.thermal_resistance_c_per_w = (61 - 25) / 698.0;                   // [D] S6: 61 C (55-67) at 698 W over a 25 C inlet
  p.thermal_capacitance_j_per_c = 15 / p.thermal_resistance_c_per_w;  // [D] S7: plateau in ~60 s: tau 15 s
  p.ambient_c = 25;                                                   // [V] ASHRAE's recommended inlet, 18-27 C (S6)
  // [D] S1's margins (T.Limit 57 C at 30 C; slowdown -2, shutdown -8): 87 C, shutdown 95 C.
  p.max_operating_c = 87;
  p.shutdown_c = 95;
  p.sensor_period_s = 0.1;   // [M] NVML's energy counter updates every 20-100 ms (PETSc's notes)
  p.sensor_delay_s = 0.1;    // [A] one update behind
  p.temperature_step_c = 1;  // [V] nvmlDeviceGetTemperature reports whole degrees
  p.power_window_s = 1;      // [V] nvmlDeviceGetPowerUsage averages over 1 s on Ampere and later
  p.power_noise = 0.015;     // [D] NVML's documented accuracy of +-5%, taken as 3 standard deviations
  p.energy_step_j = 1e-3;    // [V] nvmlDeviceGetTotalEnergyConsumption counts millijoules
  return p;
}

// An AMD EPYC 9654 socket (96 cores). Thinner than the GPU's: where a parameter is an
// assumption it says so.
inline SimulatedDeviceParameters epyc_9654() {
  SimulatedDeviceParameters p;
  p.name = "sim:epyc9654";
  p.min_core_mhz = 1500;                           // [A] the lowest P-state cpufreq typically offers on EPYC
  p.max_core_mhz = 3700;                           // [V] S16: boost
  p.core_step_mhz = 100;                           // [A]
  p.memory_mhz = 2400;                             // [V] S16: DDR5-4800
  p.min_volts = 0.8;                               // [A]
  p.flat_until_mhz = 2000;                         // [A]
  p.volts_per_mhz = (1.14 - 0.8) / (3700 - 2000);  // [M] S18: 1.14 V near the top clock
  p.idle_w = 100;                                  // [M] S17: Milan's 100-111 W, as Genoa's was not found
  p.idle_reference_c = 40;                         // [A]
  p.leakage_w_per_c = 0.79;                        // [D] S12: 0.22% of the 360 W TDP per degree
  // [D] S16: all cores computing at the 2.4 GHz base clock draw the 360 W TDP at their steady
  // temperature (70 C): (360 - 100 - 0.79 * 30) / (0.88^2 * 2400).
  p.switched_w = 0.1271;
  p.memory_joules_per_byte = 8 * 15e-12;  // [A] DDR5 with its controller, ~15 pJ/bit
  p.matrix_activity = 1;
  p.vector_activity = 1;               // the CPU's FLOPs are all vector FLOPs
  p.memory_activity = 0.3;             // [A] cores stalled on memory still clock their caches and fabric
  p.default_power_limit_w = 360;       // [V] S16
  p.min_power_limit_w = 240;           // [A]
  p.matrix_flops_per_cycle = 96 * 32;  // [A] AVX-512 in two 256-bit halves: 16 FP32 FMA per cycle per core
  p.vector_flops_per_cycle = 96 * 32;
  p.bandwidth_bytes_per_s = 0.8 * 460.8e9;           // [D] S16: 12 x 4800 MT/s x 8 B, 0.8 of it reached [A]
  p.bandwidth_knee_mhz = 1500;                       // [A] the memory fabric has its own clock
  p.thermal_resistance_c_per_w = (70 - 25) / 360.0;  // [A] 70 C at TDP over a 25 C inlet
  p.thermal_capacitance_j_per_c = 20 / p.thermal_resistance_c_per_w;  // [A] tau 20 s
  p.ambient_c = 25;
  p.max_operating_c = 95;     // [A] Ryzen 7000's Tjmax; EPYC's not found
  p.shutdown_c = 105;         // [A]
  p.sensor_period_s = 0.1;    // [A]
  p.sensor_delay_s = 0.001;   // [V] RAPL updates every ~1 ms (Intel SDM 14.9)
  p.temperature_step_c = 1;   // [V] thermal zones in millidegrees, drivers report whole degrees [A]
  p.power_window_s = 0.1;     // RAPL power is computed from the energy counter over the period read
  p.power_noise = 0.01;       // [A]
  p.energy_step_j = 15.3e-6;  // [V] AMD's energy status unit (PPR)
  return p;
}

}  // namespace energy

HCI_END_NAMESPACE
