#pragma once
// sagactl's shared pieces: its options, its failures (an exit code and a message), one
// request to the node, and printing helpers. The commands live in sagactl.cpp, the
// cluster's in cluster.cpp.

#include "client/http_client.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace sagactl {

namespace http = saga_client::http;
using nlohmann::json;

struct options {
  saga_client::endpoint ep;
  std::string token;
  bool raw_json = false;
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> flags;
};

/// Ends the command: `main` prints the message and exits with the code (0 ok, 1 the node
/// answered an error, 2 usage or connection error).
struct failure {
  int exit_code;
  std::string message;
};

[[noreturn]] inline void fail(int code, const std::string& message) { throw failure{code, message}; }

void set_url(options& o, const std::string& url);
/// One request; returns the parsed JSON body or fails with the node's error message.
json call(const options& o, http::verb verb, const std::string& target,
          const std::string& body_text = {});
json get(const options& o, const std::string& target);
std::string human_ms(int64_t ms);
std::string str(const json& j);
/// Prints rows as aligned columns (numbers right-aligned).
void table(std::ostream& out, const std::vector<std::string>& head,
           const std::vector<std::vector<std::string>>& rows);

// ---- the cluster (cluster.cpp) ----
/// Each node's state, addresses and the partitions it owns and holds (GET /cluster).
int cmd_cluster(const options& o);
/// `cluster --watch`: a line per ownership move as it happens.
int cmd_cluster_watch(const options& o);

} // namespace sagactl
