#!/bin/sh
# deps.sh - install the Debian packages portiso needs to build, test and
# benchmark, if any are missing. Runs `apt-get update` once, only when
# something must be installed, and only as root; otherwise it names what is
# missing and fails.
set -eu

PKGS="meson ninja-build pkg-config gcc clang llvm libmnl-dev libevent-dev libjansson-dev \
libbpf-dev libhttp-parser-dev libcurl4-openssl-dev bpftool libcmocka-dev python3 curl iproute2 netcat-openbsd procps util-linux \
gnuplot-nox \
debhelper build-essential dpkg-dev fakeroot help2man lintian mmdebstrap systemd bash-completion \
prometheus libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf nginx-light \
podman runc docker.io"

missing=""
for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
        echo "deps: missing Debian packages:$missing (run 'make deps' as root, or apt-get install them)" >&2
        exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
