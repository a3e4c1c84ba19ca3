#include "runtime/invariant.hpp"

#include <cstdio>
#include <cstdlib>

namespace saga {

void invariant_violated(const char* what, const char* file, int line) {
  // stderr, unbuffered: the line is out before the abort, whatever the logger holds.
  std::fprintf(stderr, "invariant violated: %s (%s:%d); stopping the node\n", what, file, line);
  std::abort();
}

} // namespace saga
