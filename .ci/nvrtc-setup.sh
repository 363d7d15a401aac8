#!/usr/bin/env bash
# CUDA's run-time compiler (Debian 12's libnvrtc11.2, in the non-free component), so that CI compiles every fused
# kernel's source for sm_80 and sm_90 (FusedKernelsTests), not only the GPU machine. No GPU is needed to compile.
set -euo pipefail
log() { echo "nvrtc-setup: $*"; }
if ls /usr/lib/x86_64-linux-gnu/libnvrtc.so.* >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs "non-free" /etc/apt/sources.list /etc/apt/sources.list.d/; then
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
