// lindiff kernel: umbrella header.
#pragma once
#include "common.hpp"
#include "spectrum.hpp"
#include "roots.hpp"
#include "fixed_point.hpp"
#include "kappa.hpp"
#include "sampler.hpp"
#include "contour.hpp"
#include "lapack.hpp"
#include "rng.hpp"
#include "simulate.hpp"
#include "memorization.hpp"
