// lindiff kernel: umbrella header.
#pragma once
#include "common.hpp"
#include "spectrum.hpp"
#include "roots.hpp"
#include "fixed_point.hpp"
#include "kappa.hpp"
#include "lapack.hpp"
