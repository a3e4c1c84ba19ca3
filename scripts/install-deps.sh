#!/usr/bin/env bash
# Installs every system package the project needs (Debian 12). Idempotent: when every
# package is already present it only checks and returns in well under a second.
set -euo pipefail
pkgs=(
  libcaf-dev librocksdb-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev
  libboost-dev libboost-system-dev libssl-dev librdkafka-dev kcat
  cmake ninja-build g++ make pkg-config curl openssl python3
  libbenchmark-dev gnuplot-nox wrk
)
# The real Kafka broker of the tests runs on the JDK with jars fetched by Maven.
command -v java >/dev/null || pkgs+=(default-jre-headless)
command -v mvn >/dev/null || pkgs+=(maven)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
