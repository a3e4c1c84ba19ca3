#include "runtime/fault_points.hpp"

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

namespace saga::fault {

namespace {

// Written once by arm_from_env before the actor system starts, read only afterwards; the
// hit counter is the one value shared between threads.
struct armed_point {
  bool on = false;
  std::string point;
  std::string step; // empty: any
  int64_t nth = 1;
};
armed_point armed;
std::atomic<int64_t> hits{0};

const char* const known_points[] = {"before_persist", "after_persist", "after_send"};

} // namespace

bool compiled_in() {
#ifdef SAGA_FAULT_POINTS
  return true;
#else
  return false;
#endif
}

std::string arm_from_env() {
  auto* v = std::getenv("SAGA_FAULT_KILL_POINT");
  if (v == nullptr || *v == '\0')
    return {};
  if (!compiled_in())
    throw std::invalid_argument("SAGA_FAULT_KILL_POINT is set, but this sagad was built without "
                                "SAGA_FAULT_POINTS (a test build has them)");
  std::string s = v;
  armed_point a;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    auto n = s.substr(colon + 1);
    char* end = nullptr;
    a.nth = std::strtoll(n.c_str(), &end, 10);
    if (n.empty() || *end != '\0' || a.nth < 1)
      throw std::invalid_argument("SAGA_FAULT_KILL_POINT: the count after ':' must be a number >= 1, not '"
                                  + n + "'");
    s.resize(colon);
  }
  if (auto at = s.find('@'); at != std::string::npos) {
    a.step = s.substr(at + 1);
    s.resize(at);
  }
  bool known = false;
  for (auto* p : known_points)
    known = known || s == p;
  if (!known)
    throw std::invalid_argument("SAGA_FAULT_KILL_POINT: unknown point '" + s
                                + "' (before_persist, after_persist or after_send)");
  a.point = s;
  a.on = true;
  armed = a;
  return "kill -9 at the " + std::to_string(a.nth) + ". " + a.point
         + (a.step.empty() ? std::string{} : " entering " + a.step);
}

void kill_point([[maybe_unused]] const char* point, [[maybe_unused]] const char* step) {
#ifdef SAGA_FAULT_POINTS
  if (!armed.on || armed.point != point || (!armed.step.empty() && armed.step != step))
    return;
  if (hits.fetch_add(1) + 1 == armed.nth) {
    static const char msg[] = "FAULT POINT: kill -9 now\n";
    [[maybe_unused]] auto w = ::write(2, msg, sizeof(msg) - 1);
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
#endif
}

} // namespace saga::fault
