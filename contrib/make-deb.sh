#!/usr/bin/env bash
# make-deb.sh - `make deb`: a Debian package of this source tree in build/deb/, built with
# debhelper (dpkg-buildpackage -b) from a copy of the tree (build/deb/pgpitr-VERSION/, the
# packaging files of contrib/debian/ as its debian/), so that nothing is created or changed
# in the tree itself. debian/changelog is written here from VERSION, so the package version
# never disagrees with `pgpitr --version`. Needs debhelper and the build dependencies of
# contrib/debian/control (contrib/install-deps.sh installs them). Prints the .deb's path.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
version=$(cat VERSION)
out=$top/build/deb
src=$out/pgpitr-$version
rm -rf "$out"
mkdir -p "$src"
tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
rm -rf "$src/debian"
cp -r contrib/debian "$src/debian"
# The changelog's date is the last commit's (reproducible), else now.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
cat >"$src/debian/changelog" <<CHANGELOG
pgpitr ($version) unstable; urgency=medium

  * Package built from the source tree (make deb).

 -- pgpitr developers <pgpitr@example.org>  $(LC_ALL=C date -u -R -d "@$epoch")
CHANGELOG
if ! (cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    echo "make-deb: error: dpkg-buildpackage failed (the whole log: $out/build.log)" >&2
    exit 1
fi
ls "$out"/pgpitr_"$version"_*.deb
