#!/bin/bash
# make install and make uninstall into a staging root (DESTDIR), for
# PREFIX=/usr/local and PREFIX=/usr, both built in one tree of the test's
# own (so the second install must rebuild for its own paths):
#  1. exactly the files expected, binaries 0755 and the rest 0644, and no
#     file that names the staging root;
#  2. the unit runs the installed powerd (ExecStartPre=, ExecStart=) on
#     SYSCONFDIR's configuration, names the installed README, and
#     `systemd-analyze verify` is silent on it (paths moved into DESTDIR,
#     MANPATH the installed pages);
#  3. the installed powerd and modpoll look for their data in
#     PREFIX/share/powerd (--help says so, no binary holds the tree's
#     share/, and `--check` of a Modbus map by name reads it there);
#  4. the installed powerd --check accepts the installed example;
#  5. every installed page renders with man -l without a warning;
#  6. a second install keeps a configuration the user changed;
#  7. uninstall leaves the configuration, nothing else.
#   tests/t_install.sh BUILD_DIR
# Exit: 0 pass, 77 systemd-analyze or man is missing, 1 fail.
set -u
. tests/lib.sh
for c in systemd-analyze man; do
	command -v $c >/dev/null || {
		echo "SKIP: $c is missing"
		exit 77
	}
done
T=$(mktemp -d /tmp/powerd-install-XXXXXX) || fail "mktemp"
trap 'rm -rf "$T"' EXIT
TOOLS="canlog modpoll powerctl powerd pulselog"

inst() { # PREFIX, DESTDIR, make target: make's output in $T/make.log
	make --no-print-directory -j2 O="$T/o" PREFIX="$1" DESTDIR="$2" "$3" >"$T/make.log" 2>&1 || {
		tail -n 30 "$T/make.log"
		fail "make $3 PREFIX=$1 DESTDIR=$2"
	}
}

expected() { # PREFIX: every file install writes, one a line, sorted
	local p=$1 f
	for f in $TOOLS; do echo "$p/bin/$f"; done
	echo "$p/lib/systemd/system/powerd.service"
	echo "$p/lib/sysusers.d/powerd.conf"
	echo "$p/lib/tmpfiles.d/powerd.conf"
	echo "$p/lib/udev/rules.d/60-powerd-gpio.rules"
	echo "$p/share/powerd/ecoflow.json"
	for f in share/maps/*.map; do echo "$p/share/powerd/maps/${f##*/}"; done
	for f in man/*.[158]; do echo "$p/share/man/man${f##*.}/${f##*/}"; done
	echo "$p/share/man/man5/powerd.conf.5"
	for f in share/bash-completion/*; do echo "$p/share/bash-completion/completions/${f##*/}"; done
	for f in README.md docs/*.md; do echo "$p/share/doc/powerd/${f##*/}"; done
	echo "$p/share/doc/powerd/examples/powerd.conf"
	find contrib -type f | sed "s|^|$p/share/doc/powerd/|"
	echo "/etc/powerd/powerd.conf"
}

files() { # DESTDIR: every file and link in it, DESTDIR-less, sorted
	(cd "$1" && find . -type f -o -type l) | sed 's|^\.||' | LC_ALL=C sort
}

for P in /usr/local /usr; do
	D=$T/root${P//\//_}
	inst "$P" "$D" install
	# ------------------------------------------------------------ 1. files
	expected "$P" | LC_ALL=C sort >"$T/want"
	files "$D" >"$T/got"
	diff "$T/want" "$T/got" >"$T/diff" || fail "PREFIX=$P: not the files expected (< missing, > extra):
$(cat "$T/diff")"
	while read -r f; do
		m=$(stat -c %a "$D$f")
		case $f in
		"$P"/bin/*) want=755 ;;
		*) want=644 ;;
		esac
		[ "$m" = "$want" ] || fail "PREFIX=$P: $f has mode $m, not $want"
	done <"$T/got"
	bad=$(grep -rlF "$T" "$D")
	[ -z "$bad" ] || fail "PREFIX=$P: files naming the staging root: $bad"

	# ------------------------------------------------------------ 2. unit
	U=$D$P/lib/systemd/system/powerd.service
	grep -qx "ExecStartPre=$P/bin/powerd --check -c /etc/powerd/powerd.conf" "$U" ||
		fail "PREFIX=$P: ExecStartPre= is not the installed powerd: $(grep '^ExecStartPre=' "$U")"
	grep -qx "ExecStart=$P/bin/powerd -c /etc/powerd/powerd.conf" "$U" ||
		fail "PREFIX=$P: ExecStart= is not the installed powerd: $(grep '^ExecStart=' "$U")"
	doc=$(sed -n 's|^Documentation=file://\([^ ]*\).*|\1|p' "$U")
	[ "$doc" = "$P/share/doc/powerd/README.md" ] && [ -f "$D$doc" ] ||
		fail "PREFIX=$P: Documentation= names '$doc', not the installed README"
	grep -Eq '@[A-Z]+@' "$U" && fail "PREFIX=$P: a template word is left in the unit"
	mkdir -p "$T/verify"
	sed -e "s|=$P/bin/|=$D$P/bin/|" -e "s| /etc/powerd/| $D/etc/powerd/|" "$U" >"$T/verify/powerd.service"
	MANPATH=$D$P/share/man systemd-analyze verify "$T/verify/powerd.service" >"$T/verify.txt" 2>&1
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$T/verify.txt" ] || fail "PREFIX=$P: systemd-analyze verify (exit $rc):
$(cat "$T/verify.txt")"

	# ------------------------------------------------------------ 3. data dir
	PD=$D$P/bin/powerd
	"$PD" --help | grep -qx "Data (EcoFlow decode table, register maps): $P/share/powerd" ||
		fail "PREFIX=$P: powerd's data directory is not $P/share/powerd: $("$PD" --help | tail -n 1)"
	"$D$P/bin/modpoll" --help | grep -qx "DATADIR: $P/share/powerd" ||
		fail "PREFIX=$P: modpoll's data directory is not $P/share/powerd"
	for f in $TOOLS; do
		strings "$D$P/bin/$f" | grep -qF "$PWD/share" && fail "PREFIX=$P: $f names the tree's $PWD/share"
	done
	cat >"$T/map.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = off
socket    = $T/powerd.sock

[modbus.inv]
url = tcp://127.0.0.1:1502
map = powmr-lvm
EOC
	"$PD" --check -c "$T/map.conf" >"$T/check.txt" 2>&1
	grep -qF "$P/share/powerd/maps/powmr-lvm.map" "$T/check.txt" ||
		fail "PREFIX=$P: --check did not look for the map in $P/share/powerd/maps: $(cat "$T/check.txt")"

	# ------------------------------------------------------------ 4. --check
	"$PD" --check -c "$D/etc/powerd/powerd.conf" >"$T/check.txt" 2>&1 ||
		fail "PREFIX=$P: powerd --check refuses the installed example: $(cat "$T/check.txt")"

	# ------------------------------------------------------------ 5. pages
	n=0
	for p in "$D$P"/share/man/man*/*; do
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >"$T/page.txt")
		[ -z "$out" ] || fail "PREFIX=$P: man -l $p: $out"
		[ "$(wc -l <"$T/page.txt")" -gt 10 ] || fail "PREFIX=$P: man -l $p: too short"
		n=$((n + 1))
	done
	[ $n -eq 6 ] || fail "PREFIX=$P: $n pages rendered, not 6"

	# ------------------------------------------------------------ 6. config kept
	echo "; changed by the user" >>"$D/etc/powerd/powerd.conf"
	cp "$D/etc/powerd/powerd.conf" "$T/conf.changed"
	inst "$P" "$D" install
	cmp -s "$T/conf.changed" "$D/etc/powerd/powerd.conf" ||
		fail "PREFIX=$P: a second install changed the user's configuration"
	grep -q "powerd.conf exists: kept" "$T/make.log" || fail "PREFIX=$P: install did not say it kept the configuration"
	files "$D" | diff "$T/want" - >/dev/null || fail "PREFIX=$P: the second install wrote other files"

	# ------------------------------------------------------------ 7. uninstall
	inst "$P" "$D" uninstall
	left=$(files "$D")
	[ "$left" = "/etc/powerd/powerd.conf" ] || fail "PREFIX=$P: uninstall left: $left"
	cmp -s "$T/conf.changed" "$D/etc/powerd/powerd.conf" || fail "PREFIX=$P: uninstall changed the configuration"
	dirs=$(cd "$D" && find . -name '*powerd*' | sed 's|^\.||' | LC_ALL=C sort | tr '\n' ' ')
	[ "$dirs" = "/etc/powerd /etc/powerd/powerd.conf " ] || fail "PREFIX=$P: uninstall left: $dirs"
	echo "PREFIX=$P: $(wc -l <"$T/want") files installed, unit verified, data in $P/share/powerd, config kept, uninstalled"
done
echo "PASS: t_install"
