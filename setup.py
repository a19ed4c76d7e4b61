"""Build the Cython core: _ext/spinstream/_core/*.pyx -> spinstream._core.<name>.

The _ext tree mirrors the import path so that `cimport spinstream._core.book` works.
SPINSTREAM_CYTHON_TRACE=1 builds with line tracing (coverage), SPINSTREAM_DEBUG_EXT=1 turns
bounds checks back on.
"""

import os
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("SPINSTREAM_DEBUG_EXT") == "1"

extensions = [
    Extension(
        "spinstream._core." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=[np.get_include(), "_ext/spinstream/_core"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"] if not DEBUG else ["-O0", "-g"],
    )
    for path in sorted(glob("_ext/spinstream/_core/*.pyx"))
]

directives = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["_ext"],
        compiler_directives=directives,
        build_dir="build/cython",
    ),
)
