// hci::Tensor with its evaluation runtime and every core operation.
#pragma once

#include <hci/ops/access.hpp>
#include <hci/ops/elementwise.hpp>
#include <hci/ops/factories.hpp>
#include <hci/ops/indexing.hpp>
#include <hci/ops/inplace.hpp>
#include <hci/ops/join.hpp>
#include <hci/ops/linalg.hpp>
#include <hci/ops/reduce.hpp>
#include <hci/ops/softmax.hpp>
#include <hci/ops/sort.hpp>
#include <hci/ops/views.hpp>
#include <hci/runtime.hpp>
#include <hci/tensor_decl.hpp>
