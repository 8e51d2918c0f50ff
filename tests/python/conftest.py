import os
import sys

# ctest sets PYTHONPATH to <build>/python; this makes `pytest tests/python` work from a
# default build tree too.
here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "build", "release", "python"))
