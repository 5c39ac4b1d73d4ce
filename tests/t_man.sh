#!/bin/bash
# The manual pages and the bash completions:
#  1. every page (man/*.[158], the generated powerd.conf.5) renders with
#     man -l and groff without a single warning;
#  2. powerd.conf.5, made here with `powerd --defaults=man`, has every
#     kind, section and key of `powerd --defaults`, in the same order (a
#     key missing from one output fails), and the build's copy is current;
#  3. every option each binary's --help lists is in its page, and no page
#     writes an option with a plain '-' (a hyphen to groff, which may render
#     it as U+2010, not what one types: \- is);
#  4. every binary's --version prints "NAME VERSION" and exits 0, and every
#     page's title carries that version;
#  5. every completion file loads in bash, registers its command, and
#     completes: powerctl's commands and subcommands, the tools' options.
#   tests/t_man.sh BUILD_DIR
# Exit: 0 pass, 77 man or groff is missing, 1 fail.
set -u
B=${1:-build}
. tests/lib.sh
BINS="powerd powerctl pulselog canlog modpoll"
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)

command -v man >/dev/null && command -v groff >/dev/null || {
	echo "SKIP: man or groff is missing"
	exit 77
}
[ -n "$VERSION" ] || fail "no VERSION in the Makefile"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$B/powerd" --defaults=man >"$T/powerd.conf.5" 2>"$T/err" || fail "--defaults=man: exit $?"
[ -s "$T/err" ] && fail "--defaults=man wrote to stderr: $(cat "$T/err")"
if [ -f "$B/man/powerd.conf.5" ]; then
	cmp -s "$B/man/powerd.conf.5" "$T/powerd.conf.5" ||
		fail "$B/man/powerd.conf.5 is stale: make man"
fi
page() { # the page of binary $1
	case $1 in
	powerd) echo man/powerd.8 ;;
	*) echo "man/$1.1" ;;
	esac
}
PAGES="$T/powerd.conf.5"
for b in $BINS; do
	PAGES="$PAGES $(page "$b")"
done

# ---------------------------------------------------------------- 1. render
for p in $PAGES; do
	[ -f "$p" ] || fail "no page $p"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >"$T/page.txt")
	[ -z "$out" ] || fail "man -l $p: $out"
	[ "$(wc -l <"$T/page.txt")" -gt 10 ] || fail "man -l $p: too short"
	out=$(groff -man -ww -z "$p" 2>&1)
	[ -z "$out" ] || fail "groff $p: $out"
	grep -q '^\.SH NAME$' "$p" || fail "$p: no NAME"
	bad=$(grep -v '^\.\\"' "$p" | grep -nE '(^|[][ (|,"])--?[a-zA-Z]')
	[ -z "$bad" ] || fail "$p: an option with a plain '-', not '\\-': $bad"
	grep -q "^\.TH .*\"powerd $VERSION\"" "$p" || fail "$p: its title is not of powerd $VERSION"
done
for s in SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES "SEE ALSO"; do
	for b in $BINS; do
		grep -q "^\.SH $s\$" "$(page "$b")" || fail "$(page "$b"): no $s"
	done
done

# ---------------------------------------------------------------- 2. every key
"$B/powerd" --defaults >"$T/defaults.conf" || fail "--defaults failed"
# keys: ";name = value" or "name = value"; sections: ";[x.y]" or "[x]"; kinds: "; === [x]"
sed -n 's/^;\{0,1\}\([a-z0-9_]*\) *= .*/\1/p' "$T/defaults.conf" >"$T/keys.ini"
sed -n 's/^\\fB\([a-z0-9_]*\)\\fR = .*/\1/p' "$T/powerd.conf.5" >"$T/keys.man"
sed -n 's/^;\{0,1\}\(\[[^]]*\]\)$/\1/p' "$T/defaults.conf" >"$T/sect.ini"
sed -n 's/^\.B "\(\[[^]]*\]\)"$/\1/p' "$T/powerd.conf.5" >"$T/sect.man"
sed -n 's/^; =* \(\[[^]]*\]\)$/\1/p' "$T/defaults.conf" >"$T/kind.ini"
sed -n 's/^\.SS "\(\[[^]]*\]\)"$/\1/p' "$T/powerd.conf.5" >"$T/kind.man"
for w in keys sect kind; do
	[ "$(wc -l <"$T/$w.ini")" -gt 3 ] || fail "--defaults: too few $w ($(wc -l <"$T/$w.ini"))"
	diff "$T/$w.ini" "$T/$w.man" >"$T/diff" || fail "powerd.conf.5 and --defaults differ in $w: $(cat "$T/diff")"
done
echo "powerd.conf.5: $(wc -l <"$T/kind.man") kinds, $(wc -l <"$T/sect.man") sections, $(wc -l <"$T/keys.man") keys"
# Every key of a sample: in the rendered page as "name = value".
LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$T/powerd.conf.5" 2>/dev/null >"$T/conf.txt"
grep -q '^ *state_dir = /var/lib/powerd$' "$T/conf.txt" || fail "powerd.conf.5: state_dir not rendered as typed"

# ---------------------------------------------------------------- 3. options
for b in $BINS; do
	p=$(page "$b")
	"$B/$b" --help >"$T/help.txt" 2>&1 || fail "$b --help: exit $?"
	LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$p" 2>/dev/null >"$T/page.txt"
	opts=$(grep -o -- '--[a-z][a-z-]*\|\(^\|[ [,]\)-[a-z]\b' "$T/help.txt" | sed 's/^[ [,]//' | sort -u)
	[ -n "$opts" ] || fail "$b --help lists no option"
	for o in $opts; do
		grep -q -- "\(^\|[^a-z-]\)$o\($\|[^a-z-]\)" "$T/page.txt" || fail "$p: no $o (from $b --help)"
	done
	echo "$p: $(echo $opts | wc -w) options of --help"
done

# ---------------------------------------------------------------- 4. --version
for b in $BINS; do
	out=$("$B/$b" --version 2>&1)
	rc=$?
	[ $rc -eq 0 ] || fail "$b --version: exit $rc"
	[ "$out" = "$b $VERSION" ] || fail "$b --version printed '$out', not '$b $VERSION'"
done

# ---------------------------------------------------------------- 5. completion
# $1 file, $2.. the words; the last is the one completed: COMPREPLY, one a line.
complete_words() {
	local f=$1
	shift
	bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		spec=$(complete -p "$1") || exit 1
		fn=${spec#*-F }; fn=${fn%% *}
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$f" "$@"
}
C=share/bash-completion
for b in $BINS; do
	[ -f "$C/$b" ] || fail "no $C/$b"
	bash --norc --noprofile -c "source $C/$b && complete -p $b" >/dev/null 2>&1 ||
		fail "$C/$b: does not load or register $b"
done
has() { # $1 what, $2 the word wanted, the rest: complete_words's
	local w=$2 out
	shift 2
	out=$(complete_words "$@") || fail "completion $*: failed"
	printf '%s\n' "$out" | grep -qx -- "$w" || fail "completion '$*': no '$w' in: $out"
}
has cmd status $C/powerctl powerctl ""
has cmd status $C/powerctl powerctl st
has cmd modbus $C/powerctl powerctl -s /run/x.sock ""
has sub send $C/powerctl powerctl can ""
has cmd set-energy $C/powerctl powerctl set
has cmd capture $C/powerctl powerctl cap
has opt --count $C/powerctl powerctl tail house --co
has sub write $C/powerctl powerctl modbus ""
has opt --json $C/powerctl powerctl status --j
has opt --socket $C/powerctl powerctl --so
has opt --defaults $C/powerd powerd --def
has opt --impulses-per-kwh $C/pulselog pulselog --imp
has opt --pivot= $C/canlog canlog --piv
has opt holding $C/modpoll modpoll tcp://h --read ""
has opt --stop-bits $C/modpoll modpoll --stop
# Every long option of a tool's --help is completed by its file.
for b in $BINS; do
	"$B/$b" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u | while read -r o; do
		out=$(complete_words "$C/$b" "$b" "$o")
		printf '%s\n' "$out" | grep -qx -- "$o=\?" || fail "$C/$b: does not complete $o"
	done || exit 1
done
echo "PASS: t_man"
