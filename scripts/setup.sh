#!/usr/bin/env bash
# aigw setup: installs Debian build dependencies, finds or builds PostgreSQL 18
# (from Debian's postgresql-18 source package), builds pgTAP against it, and
# prints the pg_config to use on its last line as PG_CONFIG=...
#
# Environment:
#   PG_CONFIG        use this pg_config (must be PostgreSQL 18) instead of building
#   AIGW_CACHE       cache directory (default ~/.cache/aigw, /var/cache/aigw as root)
#   AIGW_PG_FLAVOR   "assert" (default: --enable-cassert) or "release"
#   AIGW_DEB_SUITE   Debian suite carrying postgresql-18 sources (default sid)
set -euo pipefail

# Run from `make test` or `make run`, this script inherits that make's MAKELEVEL
# and MAKEFLAGS. PostgreSQL's build makes its generated headers (errcodes.h and
# the like) first only when it is the top-level make (MAKELEVEL 0): the builds
# below are top-level builds of their own.
unset MAKELEVEL MAKEFLAGS MFLAGS

log() { printf '[aigw setup] %s\n' "$*" >&2; }
die() { printf '[aigw setup] error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: install the packages listed in scripts/setup.sh by hand"
  SUDO="sudo -n"
fi

if [ -z "${AIGW_CACHE:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then AIGW_CACHE=/var/cache/aigw; else AIGW_CACHE="$HOME/.cache/aigw"; fi
fi
FLAVOR="${AIGW_PG_FLAVOR:-assert}"
SUITE="${AIGW_DEB_SUITE:-sid}"

# Debian packages: build tools and libraries aigw links against.
DEB_PACKAGES="build-essential pkg-config bison flex libreadline-dev zlib1g-dev libssl-dev uuid-dev
  libipc-run-perl libcurl4-openssl-dev libcivetweb-dev libtap-parser-sourcehandler-pgtap-perl
  ca-certificates curl dpkg-dev xz-utils ${AIGW_EXTRA_PACKAGES:-}"

install_packages() {
  local missing=""
  for p in $DEB_PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing="$missing $p"
    fi
  done
  if [ -n "$missing" ]; then
    log "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2 || log "apt-get update failed; trying with existing lists"
    $SUDO apt-get install -y -qq -o=Dpkg::Use-Pty=0 --no-install-recommends $missing \
      >"${TMPDIR:-/tmp}/aigw-apt.log" 2>&1 || { tail -n 20 "${TMPDIR:-/tmp}/aigw-apt.log" >&2; die "apt-get install failed"; }
  fi
}

pg_major() { "$1" --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p'; }

# A private apt configuration with one deb-src line, leaving the system's alone.
APTDIR="$AIGW_CACHE/apt"
apt_private() {
  apt-get -o Dir::Etc::sourcelist="$APTDIR/sources.list" -o Dir::Etc::sourceparts=/dev/null \
    -o Dir::State::Lists="$APTDIR/lists" -o Dir::Cache="$APTDIR/cache" \
    -o Debug::NoLocking=1 "$@"
}
apt_private_update() {
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" > "$APTDIR/sources.list"
  if [ ! -f "$APTDIR/updated" ] || [ -n "$(find "$APTDIR/updated" -mmin +1440)" ]; then
    log "fetching the $SUITE source index (private apt configuration in $APTDIR)"
    apt_private update -qq >&2
    touch "$APTDIR/updated"
  fi
}
# Downloads the source package $1 into directory $2; prints the upstream version.
fetch_source() {
  local pkg=$1 dir=$2
  mkdir -p "$dir"
  # Only the upstream tarball is used; a mirror missing the .dsc is not fatal.
  ( cd "$dir" && apt_private source --download-only -qq "$pkg" >"$dir/$pkg.fetch.log" 2>&1 ) \
    || log "apt-get source $pkg reported errors (see $dir/$pkg.fetch.log); checking for the tarball"
  local t; t=$(ls "$dir"/"${pkg}"_*.orig.tar.* 2>/dev/null | sort -V | tail -n1)
  [ -n "$t" ] || { cat "$dir/$pkg.fetch.log" >&2; die "could not download the $pkg source package"; }
  echo "$t"
}

find_pg_config() {
  if [ -n "${PG_CONFIG:-}" ]; then
    [ "$(pg_major "$PG_CONFIG")" = 18 ] || die "PG_CONFIG=$PG_CONFIG is not PostgreSQL 18"
    echo "$PG_CONFIG"; return
  fi
  for c in "$(command -v pg_config || true)" /usr/lib/postgresql/18/bin/pg_config; do
    if [ -n "$c" ] && [ -x "$c" ] && [ "$(pg_major "$c")" = 18 ] \
       && [ -x "$("$c" --pgxs | xargs dirname)/../test/isolation/pg_isolation_regress" ]; then
      echo "$c"; return
    fi
  done
  # A cached build of this flavor?
  local d
  for d in $(ls -d "$AIGW_CACHE"/pg-18.*-"$FLAVOR" 2>/dev/null | sort -V -r); do
    if [ -f "$d/.complete" ]; then echo "$d/bin/pg_config"; return; fi
  done
  echo ""
}

build_postgres() {
  apt_private_update
  local src="$AIGW_CACHE/src"
  log "downloading Debian's postgresql-18 source package"
  local tarball; tarball=$(fetch_source postgresql-18 "$src")
  local ver; ver=$(basename "$tarball" | sed 's/^postgresql-18_\(.*\)\.orig\.tar\..*/\1/')
  local prefix="$AIGW_CACHE/pg-$ver-$FLAVOR"
  if [ -f "$prefix/.complete" ]; then echo "$prefix/bin/pg_config"; return; fi
  local bdir="$AIGW_CACHE/build/pg-$ver-$FLAVOR"
  rm -rf "$bdir"; mkdir -p "$bdir"
  log "unpacking PostgreSQL $ver"
  tar -xf "$tarball" -C "$bdir" --strip-components=1
  local extra=""
  [ "$FLAVOR" = assert ] && extra="--enable-cassert --enable-debug"
  log "configuring PostgreSQL $ver ($FLAVOR) into $prefix"
  ( cd "$bdir" && ./configure -q --prefix="$prefix" --with-openssl --without-icu --with-uuid=e2fs \
      --enable-tap-tests $extra CFLAGS="-O2" >"$bdir/configure.log" 2>&1 ) \
    || { tail -n 30 "$bdir/configure.log" >&2; die "configure failed"; }
  log "building PostgreSQL $ver with contrib, isolation tester and TAP modules (takes about 5 minutes on 2 cores)"
  local start=$SECONDS
  ( cd "$bdir" && make -s -j"$(nproc)" world-bin >"$bdir/build.log" 2>&1 ) \
    || { tail -n 40 "$bdir/build.log" >&2; die "build failed"; }
  ( cd "$bdir" && make -s install-world-bin >"$bdir/install.log" 2>&1 \
      && make -s -C src/test/isolation install >>"$bdir/install.log" 2>&1 ) \
    || { tail -n 40 "$bdir/install.log" >&2; die "install failed"; }
  log "PostgreSQL $ver built in $((SECONDS - start)) s"
  touch "$prefix/.complete"
  rm -rf "$bdir"
  echo "$prefix/bin/pg_config"
}

# pgTAP from Debian's pgtap source package, installed into the chosen PostgreSQL.
install_pgtap() {
  local pgc=$1 sharedir; sharedir=$("$pgc" --sharedir)
  if ls "$sharedir"/extension/pgtap.control >/dev/null 2>&1; then return; fi
  [ -w "$sharedir" ] || die "pgTAP is missing from $sharedir and it is not writable; install pgTAP for PostgreSQL 18"
  apt_private_update
  log "downloading and building pgTAP"
  local src="$AIGW_CACHE/src"
  local tarball; tarball=$(fetch_source pgtap "$src")
  local bdir="$AIGW_CACHE/build/pgtap"
  rm -rf "$bdir"; mkdir -p "$bdir"
  tar -xf "$tarball" -C "$bdir" --strip-components=1
  ( cd "$bdir" && make -s PG_CONFIG="$pgc" >"$bdir/build.log" 2>&1 && make -s PG_CONFIG="$pgc" install >>"$bdir/build.log" 2>&1 ) \
    || { tail -n 30 "$bdir/build.log" >&2; die "pgTAP build failed"; }
  rm -rf "$bdir"
}

# --print-pg-config: print an already usable pg_config, install nothing.
if [ "${1:-}" = "--print-pg-config" ]; then
  PGC=$(find_pg_config); [ -n "$PGC" ] || exit 1; echo "$PGC"; exit 0
fi

install_packages
mkdir -p "$AIGW_CACHE"
# The cache must be readable by the unprivileged server user when we run as root.
chmod 755 "$AIGW_CACHE"
PGC=$(find_pg_config)
if [ -z "$PGC" ]; then PGC=$(build_postgres); fi
install_pgtap "$PGC"
log "using $("$PGC" --version) from $PGC"
echo "PG_CONFIG=$PGC"
