// The umbrella header <lindiff/lindiff.hpp> (every kernel header, Eigen included) compiles with the
// Eigen that lindiff::eigen found; a separate translation unit of test_headers_eigen so the
// two heavy compilations run in parallel.
#include <lindiff/lindiff.hpp>

int lindiff_umbrella_num_threads() { return lindiff::num_threads(); }
