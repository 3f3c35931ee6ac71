// Shared libraries found at run time (LLVM, GPU drivers): opened RTLD_NOW | RTLD_LOCAL, so none
// of their symbols joins the process's namespace, and never closed, so no function pointer taken
// from them dangles.
#pragma once

#include <hci/config.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <initializer_list>
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

// A library of a vendor's found as hci looks for them: the path the environment variable
// `variable` names, alone, when it is set; else the first of `candidates` that opens. Returns a
// Library (an `api` pointer and a `reason`) whose api is `load(path, handle, reason)`'s, or null
// with the reason: `missing` where nothing opens, prefixed by the variable's name where it chose.
template <class Library, class Load>
Library load_vendor_library(const char* variable, std::initializer_list<const char*> candidates, const char* missing,
                            Load load) {
  Library result;
  if (const char* chosen = std::getenv(variable); chosen && *chosen) {
    if (void* handle = open_shared_library(chosen, result.reason)) result.api = load(chosen, handle, result.reason);
    if (!result.api) result.reason = std::string(variable) + ": " + result.reason;
    return result;
  }
  std::string not_opened;
  for (const char* path : candidates)
    if (void* handle = open_shared_library(path, not_opened)) {
      result.api = load(path, handle, result.reason);
      return result;
    }
  result.reason = missing;
  return result;
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
