#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Configure and build out of tree: scripts/build.sh BUILDDIR [configure options...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] || [ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
	(cd "$top" && autoreconf -fi >/dev/null)
fi
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ]; then
	"$top/configure" -q "$@"
fi
make -j"$(nproc)" >/dev/null
