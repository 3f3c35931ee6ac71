"""The C++ extension: the module's bindings and hci's runtime (../src/runtime.cpp), built with
the headers of this checkout. Everything else is in pyproject.toml."""
import os

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
from setuptools import setup

ParallelCompile("HCI_BUILD_JOBS", default=0).install()  # every core, or HCI_BUILD_JOBS of them

root = os.path.dirname(os.path.abspath(__file__))
project = os.path.dirname(root)
includes = [os.path.join(project, d) for d in
            ("include", "backends/cpu/include", "backends/cuda/include", "backends/rocm/include", "jit/include")]

extension = Pybind11Extension(
    "hci._hci",
    # Relative to this directory, as setuptools wants them.
    sources=["src/module.cpp", "src/ops.cpp", "src/indexing.cpp", "src/dlpack.cpp", "src/kernels.cpp",
             os.path.relpath(os.path.join(project, "src", "runtime.cpp"), root)],
    include_dirs=includes,
    define_macros=[("HCI_SEPARATE_RUNTIME", None), ("FMT_HEADER_ONLY", None)],
    extra_compile_args=["-O2"],
    libraries=["dl"],
    cxx_std=20,
)

setup(ext_modules=[extension])
