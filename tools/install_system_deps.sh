#!/usr/bin/env bash
# Install the Debian packages the recipes use, where missing: espeak-ng and flite
# (speech synthesis), sox (audio conversion and effects).
# Needs root (or sudo); otherwise prints the command to run and fails. Run only by the
# default recipe's entry (egs/espeak_en/asr1/run.sh, unless --setup false) and the test
# command (tools/run_tests.sh); the other recipes check for what they need and say so.
set -euo pipefail
declare -A command_of=([espeak-ng]=espeak-ng [sox]=sox [flite]=flite)
missing=()
for package in "${!command_of[@]}"; do
    command -v "${command_of[${package}]}" >/dev/null 2>&1 || missing+=("${package}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        echo "install_system_deps.sh: missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
echo "[setup] installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
${sudo} apt-get update -qq >&2
${sudo} apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
