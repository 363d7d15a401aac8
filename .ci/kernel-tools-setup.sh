#!/usr/bin/env bash
# What CI needs to check the fused CUDA kernels without a GPU: CUDA's run-time compiler (Debian 12's libnvrtc11.2, in
# the non-free component), which compiles every kernel's source for sm_80 and sm_90 (FusedKernelsTests), and g++, which
# builds the elementwise kernels' sources for the host to run them on CPU tensors (HostKernels).
set -euo pipefail
log() { echo "kernel-tools-setup: $*"; }
export DEBIAN_FRONTEND=noninteractive
if [ ! -x /usr/bin/g++ ]; then
    log "installing g++"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi
if ls /usr/lib/x86_64-linux-gnu/libnvrtc.so.* >/dev/null 2>&1; then exit 0; fi
# non-free itself, not non-free-firmware, which Debian 12 often lists alone.
if ! grep -rqsE '(^|[[:space:]])non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding Debian's non-free component"
    cat > /etc/apt/sources.list.d/xtuner-nonfree.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
log "installing libnvrtc11.2"
apt-get update -qq
apt-get install -y -qq --no-install-recommends libnvrtc11.2 >/dev/null
