"""`pip install --no-build-isolation .` (with Debian's python3-setuptools): builds the `smx`
Python package through CMake, which needs the Debian packages `make test` installs
(libhwy-dev, pybind11-dev, libdlpack-dev, python3-dev, cmake, g++)."""
import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        source = pathlib.Path(__file__).resolve().parent
        build = pathlib.Path(self.build_temp).resolve() / "cmake"
        build.mkdir(parents=True, exist_ok=True)
        subprocess.check_call([
            "cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DSMX_BUILD_TESTS=OFF", "-DSMX_BUILD_CLI=OFF", "-DSMX_BUILD_EXAMPLES=OFF",
            "-DSMX_BUILD_PYTHON=ON",  # a missing package is a CMake error naming it
            f"-DPython_EXECUTABLE={sys.executable}",
            # Extra CMake arguments, e.g. SMX_CMAKE_ARGS=-DSMX_CUDA=OFF (the CUDA backend is built
            # by default when nvcc is found).
            *os.environ.get("SMX_CMAKE_ARGS", "").split()])
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_smx", "--parallel"])
        built = next((build / "python" / "smx").glob("_smx*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(built, target)


setup(
    name="smx",
    version="0.1.0",
    description="PyTorch's softmax family for NumPy and DLPack, exactly",
    packages=["smx"],
    package_dir={"": "python"},
    ext_modules=[Extension("smx._smx", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
)
