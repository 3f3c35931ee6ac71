// The umbrella header: tensors, every core op, and the backends.
#pragma once

#include <hci/cuda/driver.hpp>
#include <hci/dlpack.hpp>
#include <hci/print.hpp>
#include <hci/tensor.hpp>
