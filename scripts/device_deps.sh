#!/usr/bin/env bash
# Downloads the Debian packages of the header-only and test/benchmark dependencies into .devdeps/,
# for a GPU machine that has no package registry: scripts/device_check.sh unpacks them into a
# private prefix there when its own copies are missing (carry .devdeps with the call).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .devdeps && cd .devdeps
apt-get download libcli11-dev nlohmann-json3-dev libstb-dev libeigen3-dev libgtest-dev \
  libbenchmark-dev libbenchmark1debian googletest
ls -la
