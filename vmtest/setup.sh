#!/bin/sh
# Installs what the VM tests need, when it is missing: QEMU (TCG, no KVM
# needed) and a Debian kernel with its modules (/boot/vmlinuz-* and
# /lib/modules/<release>). Safe to run again: it calls apt-get only when
# something is missing.
set -eu

have_kernel() {
	for img in /boot/vmlinuz-*; do
		[ -e "$img" ] || continue
		[ -d "/lib/modules/${img#/boot/vmlinuz-}" ] && return 0
	done
	return 1
}

if command -v qemu-system-x86_64 >/dev/null 2>&1 && have_kernel; then
	exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "vmtest/setup.sh: installing qemu-system-x86 and linux-image-amd64" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
	qemu-system-x86 linux-image-amd64

command -v qemu-system-x86_64 >/dev/null
have_kernel || { echo "vmtest/setup.sh: no /boot/vmlinuz-* with modules after install" >&2; exit 1; }
