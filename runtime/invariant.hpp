#pragma once
// Invariants that hold in every build, Release included (TigerBeetle's rule): a violation
// means memory is wrong, and going on would write that to disk and answer clients from it.
// So the process stops at once, naming the invariant; a restart recovers from what is
// durable. Cheap by design: a comparison on values already in hand (BENCHMARKS.md).
//   SAGA_INVARIANT(s.available >= 0, "no oversell: available stock never negative");

namespace saga {

/// Writes "invariant violated: <what> (<file>:<line>)" to stderr and aborts.
[[noreturn]] void invariant_violated(const char* what, const char* file, int line);

} // namespace saga

#define SAGA_INVARIANT(cond, what)                                                           \
  do {                                                                                       \
    if (__builtin_expect(!(cond), 0))                                                        \
      ::saga::invariant_violated(what, __FILE__, __LINE__);                                  \
  } while (false)
