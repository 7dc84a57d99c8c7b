#!/usr/bin/env bash
# Installs the Debian packages the build needs, only when one is missing (fast when done).
set -euo pipefail
packages=(g++ make git pkg-config nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
          libsqlite3-dev sqlite3
          libcpp-httplib-dev  # the panel's HTTP server (header + libcpp-httplib.so, pkg-config cpp-httplib)
          clang-format  # make lint
          libtomlplusplus-dev  # toml++ headers: codedag lint reads [tool.codedag.lint] from pyproject.toml
          chromium chromium-driver)  # headless checks of the HTML reports and the panel's browser tests
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "· installing system packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q "${missing[@]}" >/dev/null
echo "✓ system packages installed"
