#!/usr/bin/env bash
# Installs, from Debian's packages, everything decant needs to build, test and benchmark.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config \
  libpq-dev libcli11-dev nlohmann-json3-dev libfmt-dev libssl-dev libzstd-dev libxxhash-dev zlib1g-dev libcurl4-openssl-dev \
  libmongoc-dev libbson-dev python3-pymongo \
  libgtest-dev googletest \
  postgresql-15 postgresql-client-15 postgresql-contrib postgresql-15-partman postgresql-server-dev-15 \
  pgcopydb openssl curl iproute2 bsdutils python3 python3-botocore age zstd ccache \
  runc containernetworking-plugins iptables debootstrap umoci buildah >/dev/null
# (The last line: the test cluster's real node and its images, scripts/k8s/real-node.sh and image.sh.)
# The Debian postgresql package starts a cluster on port 5432; decant's tests and demo start their own.
