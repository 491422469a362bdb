#!/usr/bin/env bash
# Installs the Debian 12 packages yoco builds and tests with. Safe to rerun: it does nothing when every
# package is already installed (so it also works offline then). Arguments name more packages to install with
# them (tools/train/train.sh: python3-torch python3-numpy).
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git
  libopenblas-dev nlohmann-json3-dev libgtest-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libzmq3-dev cppzmq-dev python3-zmq
  libopencv-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-libav
  clang libclang-rt-14-dev  # libFuzzer, ASan and UBSan for tools/fuzz.sh
)
PKGS+=("$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
