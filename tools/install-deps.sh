#!/bin/sh
# install-deps.sh - the one list of Debian packages ringtracker needs to
# build, test and run. Installs only what is missing; says what to do when it
# cannot (not root). Used by `make run`, `make test` and CI.
set -eu

PACKAGES="
gcc make pkg-config
liburing-dev
libjemalloc-dev
libsodium-dev
libinih-dev
libcriterion-dev
libbpf-dev bpftool clang llvm libelf-dev zlib1g-dev
libclang-rt-14-dev
iproute2
prometheus
python3 mandoc
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: not root; run as root, or: sudo apt-get install -y$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
echo "install-deps: installed:$missing"
