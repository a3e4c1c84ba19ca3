#!/usr/bin/env bash
# Installs every system package the project needs (Debian 12). Idempotent: when every
# package is already present it only checks and returns in well under a second.
set -euo pipefail
pkgs=(
  libcaf-dev librocksdb-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev
  libboost-dev libboost-system-dev libssl-dev librdkafka-dev kcat
  cmake ninja-build g++ make pkg-config curl openssl python3 python3-venv
  libbenchmark-dev gnuplot-nox wrk chromium rocksdb-tools
  iproute2 iptables  # network namespaces and the cuts between them (e2e and fault tests)
)
# The real Kafka broker of the tests runs on the JDK with jars fetched by Maven.
command -v java >/dev/null || pkgs+=(default-jre-headless)
command -v mvn >/dev/null || pkgs+=(maven)
# The console's browser test runs playwright-core (npm registry) on Node.js 20+.
command -v node >/dev/null || pkgs+=(nodejs npm)
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
