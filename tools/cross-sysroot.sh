#!/bin/sh
# A Debian sysroot for cross-building powerd for the Raspberry Pi:
#   tools/cross-sysroot.sh ARCH DIR      (ARCH: arm64 or armhf)
# unpacks the -dev packages powerd links against, and the libraries they
# need, recursively, into DIR/sysroot-SUITE-ARCH-KEY, KEY a hash of the
# packages' names and versions, and points DIR/sysroot-SUITE-ARCH at it;
# the last line on stdout is that path.  A sysroot of the same packages is
# reused.  SUITE=bookworm (default) or trixie.
#
# Nothing is installed and the system's apt sources, state and
# architectures are left alone: apt runs with a private configuration
# (APT_CONFIG, read before and instead of /etc/apt's) with its own lists,
# cache and an empty dpkg status, for the one foreign architecture.  Exit 3
# when the archive cannot be reached and no sysroot was made before.
set -eu
ARCH=${1:-}
DIR=${2:-}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
case $ARCH in
arm64 | armhf) ;;
*)
	echo "usage: $0 arm64|armhf DIR" >&2
	exit 2
	;;
esac
[ -n "$DIR" ] || {
	echo "usage: $0 arm64|armhf DIR" >&2
	exit 2
}
# What powerd's Makefile links against (PKGS and libgpiod), and the C library.
PKGS="libc6-dev liburing-dev libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev libinih-dev
      libsystemd-dev libmosquitto-dev zlib1g-dev libsocketcan-dev libgpiod-dev"

say() { echo "cross-sysroot: $*" >&2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
A=$DIR/apt-$SUITE-$ARCH
LINK=$DIR/sysroot-$SUITE-$ARCH
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/debs"
: >"$A/status"
KR=/usr/share/keyrings/debian-archive-keyring.gpg
{
	echo "deb [arch=$ARCH signed-by=$KR] $MIRROR $SUITE main"
	echo "deb [arch=$ARCH signed-by=$KR] $MIRROR $SUITE-updates main"
	echo "deb [arch=$ARCH signed-by=$KR] $SECURITY $SUITE-security main"
} >"$A/sources.list"
# Valid-Until and Date are not checked: a machine's clock may be off (the
# signatures still are).
cat >"$A/apt.conf" <<EOF
Dir::Etc::main "/dev/null";
Dir::Etc::parts "/dev/null";
Dir::Etc::SourceList "$A/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "/dev/null";
Dir::State "$A";
Dir::State::Lists "$A/lists";
Dir::State::status "$A/status";
Dir::Cache "$A/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
APT::Install-Recommends "false";
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "3";
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
EOF
export APT_CONFIG="$A/apt.conf"

fallback() { # the archive is out of reach: the sysroot made last, if any
	if [ -f "$LINK/.complete" ]; then
		say "$*; using the sysroot made before, $(readlink "$LINK")"
		echo "$LINK"
		exit 0
	fi
	say "$*"
	exit 3
}

say "$SUITE $ARCH: reading the package lists from $MIRROR"
apt-get -qq update >"$A/update.log" 2>&1 || fallback "apt-get update failed: $(tail -n 1 "$A/update.log")"
grep -q '^[WE]:' "$A/update.log" && fallback "apt-get update: $(grep '^[WE]:' "$A/update.log" | head -n 1)"
# The closure of PKGS as apt resolves it for an empty system (one
# provider per virtual package, no recommends): "name version" lines.
# shellcheck disable=SC2086
apt-get -s install $PKGS >"$A/resolve.log" 2>&1 || {
	say "cannot resolve the packages:"
	cat "$A/resolve.log" >&2
	exit 1
}
sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1 \2/p' "$A/resolve.log" | sort >"$A/packages"
N=$(wc -l <"$A/packages")
[ "$N" -gt 0 ] || {
	say "no packages resolved"
	exit 1
}
# LAYOUT: what this script makes of the packages (3: with a dpkg database).
LAYOUT=3
KEY=$({ echo "$SUITE $ARCH $LAYOUT"; cat "$A/packages"; } | sha256sum | cut -c 1-12)
S=$DIR/sysroot-$SUITE-$ARCH-$KEY
if [ -f "$S/.complete" ]; then
	ln -sfn "$(basename "$S")" "$LINK"
	say "$N packages, unchanged: $S"
	echo "$LINK"
	exit 0
fi

# Download what is not in the .deb cache yet, several at once (apt
# pipelines the requests).
want=""
n=0
while read -r name ver; do
	f=$(echo "${name}_${ver}_" | sed 's/:/%3a/g')
	ls "$A/debs/$f"*.deb >/dev/null 2>&1 && continue
	want="$want $name=$ver"
	n=$((n + 1))
done <"$A/packages"
if [ "$n" -gt 0 ]; then
	say "downloading $n of $N packages ($SUITE $ARCH):$want"
	# shellcheck disable=SC2086
	(cd "$A/debs" && apt-get -qq download $want) >"$A/download.log" 2>&1 ||
		fallback "apt-get download failed: $(tail -n 1 "$A/download.log")"
else
	say "all $N packages in the cache"
fi

say "unpacking $N packages into $S"
rm -rf "$S.tmp"
mkdir -p "$S.tmp"
# A dpkg database of the packages in var/lib/dpkg, for dpkg-shlibdeps
# (--admindir): their control fields, symbols and shlibs files, and file
# lists naming the files where they are, under the sysroot's final path
# (dpkg-query --search is how it finds a library's package).
D=$S.tmp/var/lib/dpkg
mkdir -p "$D/info" "$D/updates" "$D/triggers" "$A/ctl"
printf '%s\n%s\n' "$(dpkg --print-architecture)" "$ARCH" >"$D/arch"
echo 1 >"$D/info/format" # pkg:ARCH.list for Multi-Arch: same packages
: >"$D/status"
while read -r name ver; do
	f=$(echo "${name}_${ver}_" | sed 's/:/%3a/g')
	deb=$(ls "$A/debs/$f"*.deb | head -n 1)
	dpkg -x "$deb" "$S.tmp"
	dpkg-deb -f "$deb" | sed '/^Package:/a Status: install ok installed' >>"$D/status"
	echo >>"$D/status"
	i=$name
	[ "$(dpkg-deb -f "$deb" Multi-Arch)" = same ] && i=$name:$ARCH
	dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's,^\./,/,' -e 's,/$,,' -e '/^$/d' |
		sed "s,^,$S," >"$D/info/$i.list"
	rm -rf "$A/ctl"/*
	dpkg-deb -e "$deb" "$A/ctl"
	for c in shlibs symbols; do
		[ -f "$A/ctl/$c" ] && cp "$A/ctl/$c" "$D/info/$i.$c"
	done
done <"$A/packages"
# Absolute links point into the sysroot: make them relative, so that the
# compiler, the linker and qemu -L find their targets inside it.
find "$S.tmp" -type l | while read -r l; do
	t=$(readlink "$l")
	case $t in
	/*) ln -sfn "$(realpath -m -s --relative-to="$(dirname "$l")" "$S.tmp$t")" "$l" ;;
	esac
done
# A merged-/usr suite (trixie) ships nothing in /lib: the dynamic loader's
# path (/lib/ld-linux-*) goes through a /lib -> usr/lib link, as on the Pi.
[ -e "$S.tmp/lib" ] || ln -s usr/lib "$S.tmp/lib"
cp "$A/packages" "$S.tmp/.packages"
touch "$S.tmp/.complete"
rm -rf "$S"
mv "$S.tmp" "$S"
ln -sfn "$(basename "$S")" "$LINK"
for old in "$DIR/sysroot-$SUITE-$ARCH"-*; do # those of other versions
	[ "$old" = "$S" ] || rm -rf "$old"
done
say "$N packages unpacked: $S"
echo "$LINK"
