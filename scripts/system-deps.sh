#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: chromium (the viewer test),
# nodejs and npm (viewer/: CesiumJS, the glTF validator), gdal-bin (ogrinfo, a real
# OGC API - Features client), PostgreSQL 15 + PostGIS 3 (the second store backend; the tests start
# a throwaway cluster of their own), wrk (HTTP load for bench/) and Mesa's EGL (libegl1, libegl-mesa0,
# libgl1-mesa-dri: VTK's wheels render cim.viz screenshots off screen through EGL, no X server needed).
# Needs root or sudo; otherwise it says what to install and the tests that need them skip with that
# message (CI runs as root).
set -euo pipefail
need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the viewer's browser test (Playwright drives it)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)  # CesiumJS and the glTF validator (viewer/)
ls /usr/lib/*/libEGL_mesa.so.0 >/dev/null 2>&1 || need+=(libegl1 libegl-mesa0 libgl1-mesa-dri)  # cim.viz off screen
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3 postgresql-15)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "system-deps: please install ${need[*]} (apt-get install ${need[*]}); tests needing them will skip" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
