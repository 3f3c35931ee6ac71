#include "suite.hpp"

#include <cmath>
#include <map>
#include <utility>

namespace hci_bench {

namespace {
std::function<double()>& energy_source() {
  static std::function<double()> read;
  return read;
}
}  // namespace

namespace {
std::map<std::string, hci::Tensor>& inputs() {
  static std::map<std::string, hci::Tensor> made;
  return made;
}
}  // namespace

hci::Tensor input(const std::string& name, const std::function<hci::Tensor()>& make) {
  auto [it, inserted] = inputs().try_emplace(name);
  if (inserted) {
    try {
      it->second = make();
      hci::eval(it->second);
      if (!it->second.device().is_cpu()) hci::synchronize(it->second.device());
    } catch (...) {
      inputs().erase(it);
      throw;
    }
  }
  return it->second;
}

void forget_inputs() { inputs().clear(); }

void set_energy_source(std::function<double()> read) { energy_source() = std::move(read); }
double energy_joules() { return energy_source() ? energy_source()() : NAN; }

EnergyScope::EnergyScope(benchmark::State& state) : state_(state), start_j_(energy_joules()) {}

EnergyScope::~EnergyScope() {
  const double used = energy_joules() - start_j_;
  if (std::isfinite(used) && used >= 0 && state_.iterations() > 0)
    state_.counters["joules_per_iter"] = used / double(state_.iterations());
}

}  // namespace hci_bench
