// `make run`: prints the seed's worked example exactly as PyTorch prints it.
#include <iostream>

#include "seed_demo.h"

int main() { seed_demo(std::cout); }
