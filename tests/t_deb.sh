#!/bin/bash
# The Debian package (debian/, tools/build-deb.sh), built, linted,
# installed, removed and purged on this machine (CI: root, throwaway):
#  1. debian/changelog's version is the Makefile's VERSION plus -1, and the
#     build gives powerd_VERSION-1_ARCH.deb;
#  2. lintian on the .changes reports no error (its warnings are printed;
#     debian/README.source says why each is left);
#  3. dpkg -i: user powerd (groups powerd, gpio, dialout) and group gpio
#     exist, /var/lib/powerd and /run/powerd are powerd's, /etc/powerd/powerd.conf is a
#     conffile, the unit is enabled (the symlink: no systemd as PID 1 here)
#     and was not started (the postinst has no start, no powerd runs from
#     /usr/bin), the installed powerd --check (as user powerd too) passes on
#     the installed configuration and finds a shipped map in
#     /usr/share/powerd; the prerm stops the unit on remove;
#  4. dpkg -r keeps the configuration (as changed) and the state;
#  5. dpkg -P removes both, the unit's enabling, and every file the package
#     had.
# Whatever happens, the package is purged at the end, and the user and
# groups the install made are deleted again.
#   tests/t_deb.sh BUILD_DIR
# Exit: 0 pass, 77 skip (a tool missing, not root, a powerd installed or
# configured here already: then only 1 and 2 ran), 1 fail.
set -u
. tests/lib.sh
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
[ -n "$VERSION" ] || fail "no VERSION in the Makefile"

# ---------------------------------------------------------------- 1. version
CHV=$(sed -n '1s/^powerd (\([^)]*\)).*/\1/p' debian/changelog)
[ "$CHV" = "$VERSION-1" ] || fail "debian/changelog's version is '$CHV', the Makefile's VERSION $VERSION: make them agree ($VERSION-1)"
for c in dpkg-buildpackage dh lintian; do
	command -v $c >/dev/null || {
		echo "SKIP: $c is missing (tools/install-deps.sh test installs it)"
		exit 77
	}
done
T=$(mktemp -d /tmp/powerd-deb-XXXXXX) || fail "mktemp"
INSTALLED=""
NEW_IDS=""
cleanup() {
	if [ -n "$INSTALLED" ]; then
		dpkg -P powerd >"$T/cleanup.log" 2>&1 || cat "$T/cleanup.log" >&2
	fi
	for id in $NEW_IDS; do
		case $id in
		user:*) userdel "${id#user:}" 2>/dev/null ;;
		group:*) groupdel "${id#group:}" 2>/dev/null ;;
		esac
	done
	rm -rf "$T"
}
trap cleanup EXIT

ARCH=$(dpkg --print-architecture)
DEB=$T/deb/powerd_${VERSION}-1_${ARCH}.deb
tools/build-deb.sh "$T/deb" >"$T/build.log" 2>&1 || {
	tail -n 40 "$T/build.log"
	fail "tools/build-deb.sh failed"
}
[ -f "$DEB" ] || fail "no $(basename "$DEB") from the build: $(ls "$T/deb")"
echo "built $(basename "$DEB"), $(stat -c %s "$DEB") bytes"

# ---------------------------------------------------------------- 2. lintian
lintian --pedantic "$T/deb/powerd_${VERSION}-1_${ARCH}.changes" >"$T/lintian.txt" 2>&1
grep -v 'running with root privileges' "$T/lintian.txt" | sed 's/^/lintian: /'
grep -q '^E:' "$T/lintian.txt" && fail "lintian reports errors"
echo "lintian: no error, $(grep -c '^W:' "$T/lintian.txt") warnings"

# ---------------------------------------------------------------- 3. install
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: not root: the package was built and linted, not installed"
	exit 77
fi
command -v systemd-sysusers >/dev/null || {
	echo "SKIP: no systemd-sysusers (the package depends on it): built and linted, not installed"
	exit 77
}
st=$(dpkg-query -W -f='${db:Status-Abbrev}' powerd 2>/dev/null)
case $st in
"" | un*) ;;
*)
	echo "SKIP: a powerd package is here already ($st): built and linted, not installed (dpkg -P powerd to run it all)"
	exit 77
	;;
esac
for d in /etc/powerd /var/lib/powerd /run/powerd /usr/share/powerd; do
	[ -e "$d" ] && {
		echo "SKIP: $d exists (a powerd not from a package?): built and linted, not installed"
		exit 77
	}
done
getent passwd powerd >/dev/null || NEW_IDS="$NEW_IDS user:powerd group:powerd"
getent group gpio >/dev/null || NEW_IDS="$NEW_IDS group:gpio"

dpkg_do() { # dpkg ARGS, waiting for a dpkg lock another process holds
	local i
	for ((i = 0; i < 60; i++)); do
		dpkg "$@" >"$T/dpkg.log" 2>&1 && return 0
		grep -q 'lock' "$T/dpkg.log" || {
			cat "$T/dpkg.log"
			return 1
		}
		sleep 1
	done
	cat "$T/dpkg.log"
	return 1
}
INSTALLED=yes
dpkg_do -i "$DEB" || fail "dpkg -i $(basename "$DEB")"
dpkg -L powerd >"$T/files" || fail "dpkg -L powerd"
grep -q 'Write /etc/powerd/powerd.conf' "$T/dpkg.log" || fail "the postinst did not say to write the configuration first"

getent passwd powerd >/dev/null || fail "no user powerd"
getent group gpio >/dev/null || fail "no group gpio"
getent group powerd >/dev/null || fail "no group powerd"
groups=$(id -nG powerd)
for g in powerd gpio dialout; do
	[[ " $groups " == *" $g "* ]] || fail "user powerd is not in group $g: $groups"
done
[ "$(stat -c '%U:%G %a' /var/lib/powerd)" = "powerd:powerd 750" ] ||
	fail "/var/lib/powerd is $(stat -c '%U:%G %a' /var/lib/powerd), not powerd:powerd 750"
[ "$(stat -c '%U:%G %a' /run/powerd)" = "powerd:powerd 755" ] ||
	fail "/run/powerd is $(stat -c '%U:%G %a' /run/powerd), not powerd:powerd 755"
dpkg-query -W -f='${Conffiles}\n' powerd | grep -q '^ /etc/powerd/powerd.conf ' ||
	fail "/etc/powerd/powerd.conf is not a conffile"
W=/etc/systemd/system/multi-user.target.wants/powerd.service
[ -L "$W" ] && [ "$(readlink "$W")" = /lib/systemd/system/powerd.service ] ||
	fail "the unit is not enabled: $W is $(ls -l "$W" 2>&1)"
grep -Eq 'deb-systemd-invoke +(start|restart) ' /var/lib/dpkg/info/powerd.postinst &&
	fail "the postinst starts the unit"
grep -q 'deb-systemd-invoke stop powerd.service' /var/lib/dpkg/info/powerd.prerm ||
	fail "the prerm does not stop the unit on remove"
for p in $(pgrep -x powerd); do
	[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/powerd ] && fail "an installed powerd runs (pid $p)"
done
[ -e /run/powerd/powerd.sock ] && fail "/run/powerd/powerd.sock exists: started?"

/usr/bin/powerd --check -c /etc/powerd/powerd.conf >"$T/check.txt" 2>&1 ||
	fail "powerd --check of the installed configuration: $(cat "$T/check.txt")"
runuser -u powerd -- /usr/bin/powerd --check -c /etc/powerd/powerd.conf >"$T/check.txt" 2>&1 ||
	fail "powerd --check as user powerd: $(cat "$T/check.txt")"
cat >"$T/map.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = off
socket    = $T/powerd.sock

[modbus.inv]
url = tcp://127.0.0.1:1502
map = powmr-lvm
EOC
/usr/bin/powerd --check -c "$T/map.conf" >"$T/check.txt" 2>&1 ||
	fail "the installed powerd did not find the shipped map powmr-lvm: $(cat "$T/check.txt")"
echo "installed: user powerd, group gpio, /var/lib/powerd, the conffile, enabled, not started, --check passes"

# ---------------------------------------------------------------- 4. remove
echo "; changed by the admin" >>/etc/powerd/powerd.conf
cp /etc/powerd/powerd.conf "$T/conf.changed"
echo "flashes 42" >/var/lib/powerd/pulse.house.state
dpkg_do -r powerd || fail "dpkg -r powerd"
[ -e /usr/bin/powerd ] && fail "dpkg -r left /usr/bin/powerd"
cmp -s "$T/conf.changed" /etc/powerd/powerd.conf || fail "dpkg -r did not keep the configuration as changed"
[ "$(cat /var/lib/powerd/pulse.house.state 2>/dev/null)" = "flashes 42" ] || fail "dpkg -r did not keep the state"
echo "removed: the configuration and the state kept"

# ---------------------------------------------------------------- 5. purge
dpkg_do -P powerd || fail "dpkg -P powerd"
INSTALLED=""
for d in /etc/powerd /var/lib/powerd /run/powerd "$W"; do
	[ -e "$d" ] || [ -L "$d" ] && fail "dpkg -P left $d"
done
st=$(dpkg-query -W -f='${db:Status-Abbrev}' powerd 2>/dev/null)
case $st in
"" | un*) ;;
*) fail "after dpkg -P, dpkg says powerd is '$st'" ;;
esac
left=""
while read -r f; do
	[ -d "$f" ] && continue # directories others share (/usr/bin, /lib -> usr/lib)
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$T/files"
for d in /usr/share/powerd /usr/share/doc/powerd; do
	[ -e "$d" ] && left="$left $d"
done
[ -z "$left" ] || fail "dpkg -P left:$left"
echo "purged: nothing of the package is left (user powerd and group gpio stay, as Debian leaves system users)"
echo "PASS: t_deb"
