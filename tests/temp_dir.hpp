#pragma once
// A fresh directory for one test (a RocksDB data directory, usually), removed with
// everything in it when the test ends.

#include <filesystem>
#include <random>
#include <string>

namespace saga_test {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path()
           / ("saga-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

} // namespace saga_test
