"""Tags the wheel for the platform of the library it holds.

The package has no Python extension module, so setuptools would call it pure
(py3-none-any) and install it as such; the library inside runs only where it
was built. build.sh reads that platform from the library's symbol versions
into PLATFORM.
"""

from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel

PLATFORM_FILE = Path(__file__).resolve().parent / "PLATFORM"


class BinaryDistribution(Distribution):
    # A compiled library inside: installed as platform-specific (platlib).
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        if not PLATFORM_FILE.is_file():
            raise SystemExit("no PLATFORM file: build the wheel with sqlite_ext/python/build.sh")
        # Any Python 3 can use it: SQLite loads the library, not the interpreter.
        return "py3", "none", PLATFORM_FILE.read_text().strip()


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
