"""Developer helper: compile one or more core modules in place (src/spinstream/_core/NAME.so).

    python tools/build_ext_dev.py book candles ring

Each module gets its own build directory, so concurrent builds of different modules don't collide.
The wheel build (setup.py) is what users and CI get; this is only for the edit-test loop.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension
from setuptools.dist import Distribution

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(name: str) -> None:
    os.chdir(ROOT)
    ext = Extension(
        f"spinstream._core.{name}",
        [f"_ext/spinstream/_core/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    debug = os.environ.get("SPINSTREAM_DEBUG_EXT") == "1"
    mods = cythonize(
        [ext],
        include_path=["_ext"],
        build_dir=f"build/dev-{name}/cython",
        compiler_directives={
            "language_level": "3",
            "boundscheck": debug,
            "wraparound": debug,
            "cdivision": True,
            "initializedcheck": debug,
            "embedsignature": True,
        },
        quiet=True,
    )
    dist = Distribution({"ext_modules": mods, "package_dir": {"": "src"}})
    cmd = dist.get_command_obj("build_ext")
    cmd.inplace = True
    cmd.build_temp = f"build/dev-{name}/temp"
    cmd.ensure_finalized()
    cmd.run()


if __name__ == "__main__":
    for n in sys.argv[1:] or ["book", "candles", "ring"]:
        build(n)
