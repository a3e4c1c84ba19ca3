#!/usr/bin/env bash
# Installs what the project needs on Debian 12. Idempotent: when everything is present it
# only checks and returns in well under a second.
#   bash scripts/install-deps.sh          build + run (the run command): compiler, CMake and
#                                         the libraries sagad links, curl/openssl/kcat
#   bash scripts/install-deps.sh --tests  the above, then what only the tests and benchmarks
#                                         use: Catch2, Google Benchmark, wrk, Chromium, a JDK
#                                         and Maven (the real Kafka broker), Node.js (the
#                                         console's browser test), the tests' Python tools
# Both then build librdkafka 2.8.0 from Debian's source package into .deps (build-librdkafka.sh).
set -euo pipefail
mode=run
case "${1:-}" in
  "") ;;
  --tests) mode=tests ;;
  *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac
pkgs=(
  libcaf-dev librocksdb-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libboost-dev libboost-system-dev libssl-dev
  liblz4-dev libzstd-dev zlib1g-dev patch xz-utils  # librdkafka 2.8.0, built from source below
  libjemalloc-dev  # sagad's allocator (BENCHMARKS.md, "Allocator")
  cmake ninja-build g++ make pkg-config curl openssl kcat
)
if [ "$mode" = tests ]; then
  pkgs+=(
    catch2 libbenchmark-dev gnuplot-nox wrk strace linux-perf chromium rocksdb-tools python3 python3-venv
    iproute2 iptables  # network namespaces and the cuts between them (e2e and fault tests)
  )
  # The real Kafka broker of the tests runs on the JDK with jars fetched by Maven.
  command -v java >/dev/null || pkgs+=(default-jre-headless)
  command -v mvn >/dev/null || pkgs+=(maven)
  # The console's browser test runs playwright-core (npm registry) on Node.js 20+.
  command -v node >/dev/null || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The one librdkafka the project links: 2.8.0 from Debian's source package (quick when built).
bash "$(dirname "$0")/build-librdkafka.sh"
[ "$mode" = tests ] || exit 0
# The tests' Python tools (tests/requirements.txt, pinned) in a virtual environment of the
# checkout: the e2e tests run with .venv/bin/python3.
here="$(cd "$(dirname "$0")/.." && pwd)"
# Re-run when tests/requirements.txt changes (its copy in .venv says what was installed).
if ! cmp -s "$here/tests/requirements.txt" "$here/.venv/requirements.installed"; then
  [ -x "$here/.venv/bin/pip" ] || python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/tests/requirements.txt"
  cp "$here/tests/requirements.txt" "$here/.venv/requirements.installed"
fi
# playwright-core and @asyncapi/parser for tests/browser (pinned by its package-lock.json;
# no browser download: the test drives Debian's /usr/bin/chromium).
if [ ! -d "$here/tests/browser/node_modules/playwright-core" ] \
   || [ ! -d "$here/tests/browser/node_modules/@asyncapi/parser" ]; then
  (cd "$here/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
