// hci's math library, written once as generic C++ over a value type (see math/value.hpp).
#pragma once

#include <hci/math/erf.hpp>
#include <hci/math/exp_log.hpp>
#include <hci/math/float16.hpp>
#include <hci/math/pow.hpp>
#include <hci/math/trig.hpp>
#include <hci/math/value.hpp>
