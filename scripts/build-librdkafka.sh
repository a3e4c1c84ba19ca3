#!/usr/bin/env bash
# Builds the project's one librdkafka: Debian's own source package of librdkafka 2.8.0-1 (the
# next Debian release's; its binary package needs a newer glibc than Debian 12's), pinned by
# the SHA-256 of its two files, into .deps/librdkafka of the checkout. CMake links only this
# one (README, "Why librdkafka 2.8.0"). Idempotent: when the pinned version is
# installed it returns at once.
#
# The source comes through apt with a private configuration under .deps/apt that adds one
# deb-src line for that release on the archive this machine's apt already uses (read from
# /etc/apt); the system's own sources are left alone. SAGA_DEBIAN_ARCHIVE=URI overrides the
# archive; a copy of the two files in .deps/src skips the download.
#
# After Debian's own patches, the project's (scripts/librdkafka-patches/*.patch, in name
# order; each says what it fixes and which test shows it). Their SHA-256 is part of the
# stamp: changing one rebuilds the library.
set -euo pipefail
version=2.8.0
debian_rev=1
orig_sha256=5bd1c46f63265f31c6bfcedcde78703f77d28238eadf23821c2b43fc30be3e25
debian_sha256=85381d3e0f2f8a5f871a408df59ed7ee3071a7bdbce9adefabfc5d3324418ed1
suite=trixie

here="$(cd "$(dirname "$0")/.." && pwd)"
deps="$here/.deps"
prefix="$deps/librdkafka"
stamp="$prefix/.installed"
patches=("$here"/scripts/librdkafka-patches/*.patch)
want="librdkafka $version-$debian_rev $orig_sha256 patches $(cat "${patches[@]}" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$prefix/lib/librdkafka.so.1" ]; then
  exit 0
fi

src="$deps/src"
orig="librdkafka_$version.orig.tar.gz"
debtar="librdkafka_$version-$debian_rev.debian.tar.xz"
mkdir -p "$src"
checked() { echo "$2  $src/$1" | sha256sum -c --status 2>/dev/null; }
if ! checked "$orig" "$orig_sha256" || ! checked "$debtar" "$debian_sha256"; then
  archive="${SAGA_DEBIAN_ARCHIVE:-}"
  if [ -z "$archive" ]; then # the archive of the system's own Debian sources
    archive=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$archive" ] || archive=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' \
                                     /etc/apt/sources.list 2>/dev/null || true)
  fi
  if [ -z "$archive" ]; then
    echo "build-librdkafka: no Debian archive found in /etc/apt; set SAGA_DEBIAN_ARCHIVE=URI" >&2
    exit 1
  fi
  apt_dir="$deps/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive $suite main" \
    > "$apt_dir/sources.list"
  cat > "$apt_dir/apt.conf" <<EOF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$apt_dir/lists";
Dir::Cache "$apt_dir/cache";
EOF
  echo "build-librdkafka: fetching Debian's source package librdkafka $version-$debian_rev ($suite)"
  APT_CONFIG="$apt_dir/apt.conf" apt-get update -qq
  (cd "$src" && APT_CONFIG="$apt_dir/apt.conf" apt-get source -qq --download-only \
      "librdkafka=$version-$debian_rev" 2>&1 | grep -v "unsandboxed" || true)
  for f in "$orig:$orig_sha256" "$debtar:$debian_sha256"; do
    if ! checked "${f%%:*}" "${f#*:}"; then
      echo "build-librdkafka: $src/${f%%:*} is missing or does not match its pinned SHA-256" >&2
      exit 1
    fi
  done
fi

echo "build-librdkafka: building librdkafka $version into $prefix (about 40 s on 2 cores)"
work="$deps/build-librdkafka"
rm -rf "$work" "$prefix"
mkdir -p "$work"
tar -xzf "$src/$orig" -C "$work"
tar -xJf "$src/$debtar" -C "$work"
srcdir="$work/librdkafka-$version"
if [ -f "$work/debian/patches/series" ]; then # Debian's own patches, in its order
  while read -r p; do
    case "$p" in ''|'#'*) continue ;; esac
    patch -d "$srcdir" -p1 -s < "$work/debian/patches/$p"
  done < "$work/debian/patches/series"
fi
for p in "${patches[@]}"; do # the project's own, after Debian's
  echo "build-librdkafka: applying $(basename "$p")"
  patch -d "$srcdir" -p1 -s < "$p"
done
(
  cd "$srcdir"
  ./configure --prefix="$prefix" --disable-curl --disable-gssapi > "$work/configure.log" 2>&1 \
    || { tail -20 "$work/configure.log"; exit 1; }
  make -j"$(nproc)" libs > "$work/make.log" 2>&1 || { tail -30 "$work/make.log"; exit 1; }
  make install-subdirs > "$work/install.log" 2>&1 || { tail -20 "$work/install.log"; exit 1; }
)
# Only the shared libraries are linked (static archives would need every dependency listed).
rm -f "$prefix"/lib/*.a "$prefix"/lib/pkgconfig/*-static.pc
rm -rf "$work"
echo "$want" > "$stamp"
echo "build-librdkafka: librdkafka $version installed in $prefix"
