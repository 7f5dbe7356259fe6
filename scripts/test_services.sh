#!/usr/bin/env bash
# Installs what the test suite needs from the system's packages: a PostgreSQL server (the tests start their own
# throwaway cluster on a free loopback port) and headless Chromium (renders the HTML report).
# Needs root (or passwordless sudo) only when something is missing; otherwise it does nothing.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test_services: please install ${missing[*]} (tests needing them will be skipped)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "test_services: not root: install ${missing[*]} yourself (tests needing them will be skipped)" >&2
    exit 0
  fi
fi
echo "test_services: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
