#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: gdal-bin (ogrinfo, a real
# OGC API - Features client), PostgreSQL 15 + PostGIS 3 (the second store backend; the tests start
# a throwaway cluster of their own) and wrk (HTTP load for bench/).  Needs root or sudo; otherwise it
# says what to install and the tests that need them skip with that message (CI runs as root).
set -euo pipefail
need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3 postgresql-15)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "system-deps: please install ${need[*]} (apt-get install ${need[*]}); tests needing them will skip" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
