import os
import sys

# ctest sets PYTHONPATH to <build>/python; this makes `pytest tests/python` work from a
# default build tree too.
here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "build", "release", "python"))

# tests/tolerances.py, the one tolerance table (it reads tests/tolerances.h).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
