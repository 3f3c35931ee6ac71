#include "suite.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <utility>

namespace hci_bench {

namespace {

struct Input {
  hci::Tensor tensor;
  uint64_t last_case = 0;  // the case that used it last
};

struct Inputs {
  std::map<std::string, Input> made;
  uint64_t current_case = 1;
};

Inputs& inputs() {
  static Inputs state;
  return state;
}

std::function<double()>& energy_source() {
  static std::function<double()> read;
  return read;
}

}  // namespace

hci::Tensor input(const std::string& name, const std::function<hci::Tensor()>& make) {
  Inputs& state = inputs();
  auto [it, inserted] = state.made.try_emplace(name);
  if (inserted) {
    try {
      it->second.tensor = make();
      hci::eval(it->second.tensor);
      if (!it->second.tensor.device().is_cpu()) hci::synchronize(it->second.tensor.device());
    } catch (...) {
      state.made.erase(it);
      throw;
    }
  }
  it->second.last_case = state.current_case;
  return it->second.tensor;
}

hci::Tensor random_on(const std::string& name, hci::IntList shape, hci::Device device, hci::DType dtype) {
  const std::vector<int64_t> sizes(shape.begin(), shape.end());
  return input(fmt::format("{} {} {} {}", name, fmt::join(sizes, "x"), hci::dtype_name(dtype), device.str()),
               [&] { return hci::randn(sizes).to(dtype).to(device); });
}

void next_case() {
  Inputs& state = inputs();
  std::erase_if(state.made, [&](const auto& entry) { return entry.second.last_case < state.current_case; });
  ++state.current_case;
}

void set_energy_source(std::function<double()> read) { energy_source() = std::move(read); }

double energy_joules() {
  try {
    return energy_source() ? energy_source()() : NAN;
  } catch (const hci::Error&) {  // a counter that cannot be read any more counts nothing
    return NAN;
  }
}

EnergyScope::EnergyScope(benchmark::State& state) : state_(state), start_j_(energy_joules()) {}

EnergyScope::~EnergyScope() {
  const double used = energy_joules() - start_j_;
  if (std::isfinite(used) && used >= 0 && state_.iterations() > 0)
    state_.counters["joules_per_iter"] = used / double(state_.iterations());
}

}  // namespace hci_bench
