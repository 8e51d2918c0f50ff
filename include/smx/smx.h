// Umbrella header: everything a user of smx needs.
#pragma once

#include "smx/cross_entropy.h"
#include "smx/device.h"
#include "smx/dlpack.h"
#include "smx/dtype.h"
#include "smx/errors.h"
#include "smx/half.h"
#include "smx/masked_softmax.h"
#include "smx/memory.h"
#include "smx/nn.h"
#include "smx/op.h"
#include "smx/simd.h"
#include "smx/size.h"
#include "smx/softmax.h"
#include "smx/tensor.h"
#include "smx/threading.h"
#include "smx/version.h"
