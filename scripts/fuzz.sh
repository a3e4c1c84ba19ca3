#!/usr/bin/env bash
# Builds the request-parsing fuzz target with clang's libFuzzer (+ASan/UBSan) and runs it
# for the given number of seconds (default 60). Installs clang-14 when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! command -v clang++-14 >/dev/null || [ ! -d /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev
fi
mkdir -p build-fuzz/corpus
clang++-14 -std=c++17 -O1 -g -I. -fsanitize=fuzzer,address,undefined \
  fuzz/requests_fuzz.cpp gateway/requests.cpp actors/order/saga.cpp -o build-fuzz/requests_fuzz -lcrypto
# seed corpus: one valid request per parser
printf '\x00{"customer_id":"c","items":[{"sku":"A","quantity":2}]}' > build-fuzz/corpus/order
printf '\x01{"order_id":"o","payment_id":"p","status":"succeeded","signature":"ab"}' > build-fuzz/corpus/verify
printf '\x02{"order_id":"o"}' > build-fuzz/corpus/complete
printf '\x03{"on_hand":1,"price_cents":2}' > build-fuzz/corpus/stock
build-fuzz/requests_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 build-fuzz/corpus
