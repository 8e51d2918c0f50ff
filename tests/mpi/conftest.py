import os
import sys

# tests/tolerances.py, the one tolerance table (it reads tests/tolerances.h).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
