#!/usr/bin/env bash
# Installs, with apt, whatever minidp's build needs and this machine lacks
# (through sudo when not root). Quiet when everything is there already.
set -euo pipefail
pkgs=(cmake g++ make ninja-build libeigen3-dev libopenblas-dev libdnnl-dev doctest-dev zlib1g-dev libcli11-dev nlohmann-json3-dev
      libopenmpi-dev openmpi-bin dataset-fashion-mnist python3
      python3-numpy python3-sklearn    # the metrics test compares minidp-metrics with scikit-learn
      python3-matplotlib               # the plotting test draws the metrics' figures
      clang libclang-rt-14-dev)        # the fuzz harnesses (libFuzzer: -fsanitize=fuzzer)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "minidp: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "minidp: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
