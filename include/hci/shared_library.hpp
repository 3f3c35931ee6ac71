// Shared libraries found at run time (LLVM, GPU drivers): opened RTLD_NOW | RTLD_LOCAL, so none
// of their symbols joins the process's namespace, and never closed, so no function pointer taken
// from them dangles.
#pragma once

#include <hci/config.hpp>

#include <dlfcn.h>

#include <string>

HCI_BEGIN_NAMESPACE

namespace detail {

// The library's handle, or null with `reason` set to dlopen's one-line error. `extra_flags`:
// RTLD_NOLOAD finds a copy something else loaded and opens nothing new.
inline void* open_shared_library(const std::string& path, std::string& reason, int extra_flags = 0) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | extra_flags);
  if (!handle) {
    const char* error = dlerror();
    reason = error ? error : path + ": cannot be opened";
  }
  return handle;
}

// Points `function` at the library's symbol `name`; false when the library lacks it.
template <class Function>
bool resolve_symbol(void* handle, const char* name, Function& function) {
  function = reinterpret_cast<Function>(dlsym(handle, name));
  return function != nullptr;
}

}  // namespace detail

HCI_END_NAMESPACE

// Resolves every entry point an X-macro list names (X(name, result, parameters...)) into the
// function-pointer members of the same names of `table`: the first name `handle` lacks, or null
// when all resolved. As in
//   if (const char* missing = HCI_RESOLVE_ALL(HCI_CUDA_FUNCTIONS, handle, *api)) ...
#define HCI_RESOLVE_ENTRY_POINT(name, ...) \
  if (!::hci::detail::resolve_symbol(hci_handle_, #name, hci_table_.name)) return #name;
#define HCI_RESOLVE_ALL(list, handle, table) \
  [hci_handle_ = (handle), &hci_table_ = (table)]() -> const char* { list(HCI_RESOLVE_ENTRY_POINT) return nullptr; }()
