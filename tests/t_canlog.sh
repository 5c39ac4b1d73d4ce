#!/bin/bash
# canlog (issue 9, first cut) on the real EcoFlow captures in
# tests/fixtures/can: the check vector of PROTOCOLS.md 2.3 decoded exactly
# with the shipped table; --count, --json and the plain listing agree on the
# battery log; filters; --regen; progress on a terminal only; the SavvyCAN
# CSV with --csv and --err; a malformed line reported with its number and
# skipped; bad options and files exit 2.
set -u
B=${1:-build}
. tests/lib.sh
CL=$B/canlog
F=tests/fixtures/can
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
LFP=$F/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log

"$CL" --json --decode=share/ecoflow.json "$F/single-message-3C.log" >"$T/3c.json" 2>"$T/3c.err" ||
	fail "canlog on the check vector: $(cat "$T/3c.err")"
python3 - "$T/3c.json" <<'EOP' || fail "check vector: $(cat "$T/3c.json")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1, recs
r = recs[0]
assert set(r) == {"t", "chan", "src", "dst", "cmd", "len", "crc_ok", "fields"}, r
assert (r["chan"], r["src"], r["dst"], r["cmd"], r["len"], r["crc_ok"]) == ("B", 3, 0x14, "03:2F", 132, True), r
assert r["fields"]["serial"] == "M102Z3B4ZE5H0601", r
assert isinstance(r["t"], float) and r["t"] > 1.7e9
EOP

# the battery log: counts per identity sum to the records listed
"$CL" --count "$LFP" >"$T/count" 2>"$T/count.err" || fail "--count"
"$CL" --json "$LFP" >"$T/all.json" 2>/dev/null || fail "--json"
"$CL" "$LFP" >"$T/all.txt" 2>/dev/null || fail "listing"
sum=$(awk '{s += $NF} END {print s}' "$T/count")
[ "$sum" = "$(wc -l <"$T/all.json")" ] && [ "$sum" = "$(wc -l <"$T/all.txt")" ] ||
	fail "--count sums to $sum, --json has $(wc -l <"$T/all.json"), the listing $(wc -l <"$T/all.txt")"
grep -q '1475 records: 1475 good' "$T/count.err" || fail "summary: $(cat "$T/count.err")"
# the battery's status record before the firmware update: 126 bytes, by identity not header CRC
grep -qx 'B 03:21 03:1A 126 69' "$T/count" || fail "no 03:21 03:1A records of 126 bytes: $(cat "$T/count")"
# --lp: the daemon's samples; the battery's module announce (35:10) gives the
# version its file name says, 1.1.1.141
"$CL" --lp --decode=share/ecoflow.json "$LFP" >"$T/lfp.lp" 2>/dev/null || fail "--lp"
[ "$(grep -c '^ecoflow,dst=35,record=35:10,src=03 serial="M102Z3B4ZE5H0601",module_type=60i,module_version="1.1.1.141",' "$T/lfp.lp")" = 9 ] ||
	fail "--lp: the 9 module announces: $(grep -m 2 35:10 "$T/lfp.lp")"
"$CL" --lp "$LFP" >/dev/null 2>&1; [ $? = 2 ] || fail "--lp without --decode must exit 2"
# filters: a channel, a command, an address
n=$("$CL" --chan=A "$LFP" 2>/dev/null | wc -l)
[ "$n" = "$(awk '$1 == "A" {s += $NF} END {print s}' "$T/count")" ] || fail "--chan=A: $n"
n=$("$CL" --cmd=03:1A,03:1C "$LFP" 2>/dev/null | wc -l)
[ "$n" = $((18 + 69 + 51)) ] || fail "--cmd=03:1A,03:1C: $n"
n=$("$CL" --dst=0x21 --json "$LFP" 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)["dst"] == 0x21))')
[ "$n" = $((69 + 51)) ] || fail "--dst=0x21: $n"

# --regen: the records' frames again; with no filter the input less the
# frames of the 2 records restarted before their end (9 frames of a B
# record, the first frame of an A one), so every record and count is the same
"$CL" --count --regen="$T/re.log" "$LFP" >/dev/null 2>"$T/re.err" || fail "--regen: $(cat "$T/re.err")"
grep -q ' 2 restarted' "$T/re.err" || fail "--regen: $(cat "$T/re.err")"
diff "$LFP" "$T/re.log" >"$T/re.diff"
[ "$(grep -c '^<' "$T/re.diff")" = 10 ] && ! grep -q '^>' "$T/re.diff" &&
	[ "$(grep -c '^< (1744106964.40[45][0-9]*) can0 10[01]03001#' "$T/re.diff")" = 9 ] &&
	grep -q '^< (1744106964.407803) can0 00430308#07AA' "$T/re.diff" ||
	fail "--regen is not the input less the restarted records: $(head "$T/re.diff")"
grep -v '^<' "$T/re.diff" | grep -qv '^[0-9,]*d[0-9]*$' && fail "--regen: $(cat "$T/re.diff")"
"$CL" --count "$T/re.log" >"$T/re.count" 2>/dev/null || fail "--count of --regen"
cmp -s "$T/count" "$T/re.count" || fail "--regen changed the counts: $(diff "$T/count" "$T/re.count")"
"$CL" --cmd=03:1A --regen="$T/re1a.log" "$LFP" >/dev/null 2>&1 || fail "--regen --cmd"
[ "$("$CL" --count "$T/re1a.log" 2>/dev/null | awk '{print $3}' | sort -u)" = 03:1A ] ||
	fail "--regen --cmd=03:1A: $("$CL" --count "$T/re1a.log" 2>&1)"
[ "$("$CL" "$T/re1a.log" 2>/dev/null | wc -l)" = $((18 + 69)) ] || fail "--regen --cmd=03:1A: not 87 records"
# which frames are a record's is the reassembler's word (its tap), not
# canlog's: a standard frame and a bad channel A frame (index 0) under the
# ids of the A record open around them are in no record, and the record's
# frames are all written still
sed '102a (1744106964.406240) can0 308#0102\n(1744106964.406241) can0 00000308#0102' "$LFP" >"$T/junk.log"
"$CL" --count --regen="$T/re-junk.log" "$T/junk.log" >/dev/null 2>"$T/re-junk.err" || fail "--regen with junk"
grep -q '7835 frames, 1475 records: 1475 good' "$T/re-junk.err" && cmp -s "$T/re.log" "$T/re-junk.log" ||
	fail "--regen with frames of no record inside an A record: $(diff "$T/re.log" "$T/re-junk.log" | head -n 5)"
# a record of more frames than canlog keeps (1100 empty B middle frames) is
# counted and not written; the next one is
{
	head -n 1 "$F/single-message-3C.log"
	for _ in $(seq 1100); do echo "(1744106964.391864) can0 10103001#"; done
	tail -n +2 "$F/single-message-3C.log"
	echo
	cat "$F/single-message-3C.log"
} >"$T/long.log"
"$CL" --count --regen="$T/re-long.log" "$T/long.log" >/dev/null 2>"$T/re-long.err" || fail "--regen of a long record"
grep -q '19 frames written to .* 1 records too many frames to keep' "$T/re-long.err" &&
	grep -q ' 2 records: 2 good' "$T/re-long.err" && cmp -s "$T/re-long.log" <(cat "$F/single-message-3C.log"; echo) ||
	fail "--regen of a record of 1100 frames: $(cat "$T/re-long.err")"
# canplayer itself is not run: it sends on the log's interfaces (it needs
# can0 or a vcan up), so it cannot check a file on a machine without one
# a CSV without times: times 0.000000, 0.001000, ... on --iface; with --err
# the bad records too, so the counts stay the same
"$CL" --csv --err --iface=vcan1 --regen="$T/csv.log" "$F/delta.later.AC.out.on.csv" >/dev/null 2>&1 || fail "--regen of a CSV"
head -n 1 "$T/csv.log" | grep -qx '(0000000000.000000) vcan1 00431403#07AA020100A02C87' ||
	fail "--regen of a CSV: $(head -n 2 "$T/csv.log")"
sed -n 2p "$T/csv.log" | grep -q '^(0000000000.001000) vcan1 00831403#' || fail "--regen CSV times: $(sed -n 2p "$T/csv.log")"
"$CL" --count --csv "$F/delta.later.AC.out.on.csv" >"$T/dc1" 2>/dev/null
"$CL" --count "$T/csv.log" >"$T/dc2" 2>/dev/null
cmp -s "$T/dc1" "$T/dc2" || fail "--regen of the CSV changed the counts: $(diff "$T/dc1" "$T/dc2" | head)"

# --hex: the payload after the columns, --json's "hex" the same; --hex=diff
# marks in [..] exactly the bytes that differ from the record before of the
# same identity (here two consecutive 03:21 03:1A status records)
"$CL" --hex --cmd=03:1A --dst=0x21 "$LFP" 2>/dev/null | head -n 2 >"$T/hex" || fail "--hex"
"$CL" --hex=diff --cmd=03:1A --dst=0x21 "$LFP" 2>/dev/null | head -n 2 >"$T/hexdiff" || fail "--hex=diff"
"$CL" --json --hex --cmd=03:1A --dst=0x21 "$LFP" 2>/dev/null | head -n 2 >"$T/hex.json" || fail "--json --hex"
python3 - "$T/hex" "$T/hexdiff" "$T/hex.json" <<'EOP' || fail "--hex=diff: $(cut -c 1-160 "$T/hexdiff")"
import json, re, sys
plain = [l.split() for l in open(sys.argv[1])]
diff = [l.split() for l in open(sys.argv[2])]
recs = [json.loads(l) for l in open(sys.argv[3])]
assert len(recs) == 2 and all(r["cmd"] == "03:1A" and r["dst"] == 0x21 for r in recs), recs
a, b = (bytes.fromhex(r["hex"]) for r in recs)
assert len(a) == len(b) == 126
assert [p[-1] for p in plain] == [r["hex"] for r in recs], plain
want = {i for i in range(len(a)) if a[i] != b[i]}
assert want, "the two records are the same"
assert diff[0][-1] == recs[0]["hex"], diff[0]  # the first: nothing to differ from
marked, inside, i = set(), False, 0
for tok in re.findall(r"\[|\]|[0-9A-F]{2}", diff[1][-1]):
    if tok in "[]":
        assert inside == (tok == "]"), diff[1]
        inside = tok == "["
    else:
        assert tok == "%02X" % b[i]
        if inside:
            marked.add(i)
        i += 1
assert i == len(b) and not inside
assert marked == want, (sorted(marked), sorted(want))
EOP
"$CL" --hex=x "$LFP" >/dev/null 2>&1; [ $? = 2 ] || fail "--hex=x must exit 2"

# --str: the stream column; --nodes: a list keeps the records of ANY node
# listed (WattZup's --node=a,b kept none); channel A has no node
"$CL" --str "$LFP" 2>/dev/null | awk '{print $2, $3}' | sort | uniq -c | awk '{print $2, $3, $1}' >"$T/str"
printf 'A 00000308 247\nB 10003001 867\nD 10603001 341\nE 10A03130 20\n' | cmp -s - "$T/str" || fail "--str: $(cat "$T/str")"
n=$("$CL" --nodes=03130,03001 "$LFP" 2>/dev/null | wc -l)
[ "$n" = $((867 + 341 + 20)) ] || fail "--nodes=03130,03001: $n"
n=$("$CL" --nodes=03001 --chan=B "$LFP" 2>/dev/null | wc -l)
[ "$n" = 867 ] || fail "--nodes=03001 --chan=B: $n"
n=$("$CL" --nodes=3130 "$LFP" 2>/dev/null | wc -l)
[ "$n" = 20 ] || fail "--nodes=3130: $n"
n=$("$CL" --nodes=34001 "$LFP" 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "--nodes=34001: $n"
"$CL" --nodes=100000 "$LFP" >/dev/null 2>&1; [ $? = 2 ] || fail "a 21-bit --nodes must exit 2"

# --stat and --pivot: plain TSV, checked against --json's records
"$CL" --stat "$LFP" >"$T/stat.tsv" 2>/dev/null || fail "--stat"
"$CL" --pivot "$LFP" >"$T/pivot4.tsv" 2>/dev/null || fail "--pivot"
"$CL" --pivot=6 "$LFP" >"$T/pivot6.tsv" 2>/dev/null || fail "--pivot=6"
python3 - "$T/all.json" "$T/stat.tsv" "$T/pivot4.tsv" "$T/pivot6.tsv" <<'EOP' || fail "--stat/--pivot: $(head -n 3 "$T/stat.tsv" "$T/pivot6.tsv")"
import collections, json, sys, time
recs = [json.loads(l) for l in open(sys.argv[1])]
def ident(r):
    if r["chan"] in "DE":
        return (r["chan"], "-", "-", "-", str(r["len"]))
    return (r["chan"], "%02X" % r["src"], "%02X" % r["dst"], r["cmd"], str(r["len"]))
def us(t):  # "1744106964.391863" without float rounding
    s, f = t.split(".")
    return int(s) * 1000000 + int(f)
raw = [l.split('"t":')[1].split(",")[0] for l in open(sys.argv[1])]
by = collections.defaultdict(list)
for r, t in zip(recs, raw):
    by[ident(r)].append(us(t))
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
assert rows[0] == ["chan", "src", "dst", "cmd", "len", "count", "bad", "first", "last", "mean_interval"], rows[0]
assert len(rows) - 1 == len(by), (len(rows), len(by))
assert [tuple(x[:5]) for x in rows[1:]] == sorted(by, key=lambda k: k[:4] + (int(k[4]),)), "not sorted"
for x in rows[1:]:
    ts = by[tuple(x[:5])]
    assert int(x[5]) == len(ts) and x[6] == "0", x
    assert us(x[7]) == ts[0] and us(x[8]) == ts[-1], x
    if len(ts) > 1:
        assert abs(float(x[9]) - (ts[-1] - ts[0]) / 1e6 / (len(ts) - 1)) < 1e-6, x
    else:
        assert x[9] == "-", x
assert dict((tuple(x[:5]), int(x[5])) for x in rows[1:])[("B", "03", "21", "03:1A", "126")] == 69
for path, n in ((sys.argv[3], 4), (sys.argv[4], 6)):
    lines = open(path).read().splitlines()
    assert "'" not in "".join(lines)
    assert lines[0] == "time\tchan\tsrc\tdst\tcmd\tlen\tcount", lines[0]
    want = collections.Counter()
    for r, t in zip(recs, raw):
        hms = time.strftime("%H%M%S", time.gmtime(us(t) // 1000000)) + "%03d" % (us(t) % 1000000 // 1000)
        want[(hms[:n],) + ident(r)] += 1
    got = [tuple(l.split("\t")) for l in lines[1:]]
    assert [g[:6] for g in got] == sorted(g[:6] for g in got), "not sorted"
    assert {g[:6]: int(g[6]) for g in got} == dict(want) and len(got) == len(want), path
    assert got[0][0] == "1009"[:n] if n == 4 else got[0][0].startswith("1009"), got[0]
EOP
"$CL" --pivot=0 "$LFP" >/dev/null 2>&1; [ $? = 2 ] || fail "--pivot=0 must exit 2"

# progress on stderr, only when it is a terminal: ten copies of the battery
# log listed into a pipe read only after 1 s, so canlog waits on stdout past
# its first 0.5 s and then says how far it is, however fast the machine
for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$LFP"; done >"$T/ten.log"
"$CL" "$T/ten.log" 2>"$T/prog.err" | { sleep 1; cat >/dev/null; }
[ "$(wc -l <"$T/prog.err")" = 1 ] && grep -q '^# 78330 lines (0 bad)' "$T/prog.err" &&
	! grep -q "$(printf '\r')" "$T/prog.err" || fail "progress without a terminal: $(cat -v "$T/prog.err")"
prog_check() { # FILE REGEX: progress lines all REGEX, cleared before the summary
	python3 - "$1" "$2" <<'EOP'
import re, sys
out = open(sys.argv[1], "rb").read().decode()
lines = re.findall(r"\rcanlog: ([^\r\n\x1b]*)\x1b\[K", out)
assert lines and all(re.fullmatch(sys.argv[2], l) for l in lines), (lines, out)
assert "\r\x1b[K# 78330 lines (0 bad)" in out, out
EOP
}
# script (util-linux) runs the pipeline on a pty: canlog's stderr is one
if script -qec tty /dev/null </dev/null 2>/dev/null | grep -q '^/dev/'; then
	script -qec "'$CL' '$T/ten.log' | { sleep 1; cat >/dev/null; }" /dev/null </dev/null >"$T/prog.file"
	prog_check "$T/prog.file" '[0-9.]+ MB of 3\.9 MB \([0-9.]+%\), [0-9.]+k? frames' ||
		fail "progress of a file on a terminal: $(cat -v "$T/prog.file")"
	script -qec "cat '$T/ten.log' | '$CL' - | { sleep 1; cat >/dev/null; }" /dev/null </dev/null >"$T/prog.pipe"
	prog_check "$T/prog.pipe" '[0-9.]+ MB, [0-9.]+k? frames' ||
		fail "progress of a pipe on a terminal: $(cat -v "$T/prog.pipe")"
else
	echo "t_canlog: no pty here (script -c tty failed): progress on a terminal not checked"
fi

# SavvyCAN CSV: frames missing from the capture are bad lengths, shown with --err
"$CL" --csv --err --json "$F/delta.later.AC.out.on.csv" >"$T/delta.json" 2>"$T/delta.err" || fail "--csv"
grep -q '51823 frames, 8274 records: 8248 good, 26 bad_length' "$T/delta.err" || fail "CSV: $(cat "$T/delta.err")"
[ "$(grep -c '"error":"bad_length"' "$T/delta.json")" = 26 ] || fail "--err: $(grep -c error "$T/delta.json") records with an error"

# a malformed line: reported with its number, skipped, the rest read
{ head -n 5 "$F/single-message-3C.log"; echo "(12.5) can0 nonsense"; tail -n +6 "$F/single-message-3C.log"; } >"$T/bad.log"
"$CL" "$T/bad.log" >"$T/bad.out" 2>"$T/bad.err" || fail "a bad line is not fatal"
grep -q "bad.log:6: " "$T/bad.err" || fail "no line number: $(cat "$T/bad.err")"
[ "$(wc -l <"$T/bad.out")" = 1 ] || fail "the record around the bad line: $(cat "$T/bad.out")"
# usage errors
"$CL" --bogus "$LFP" >/dev/null 2>&1; [ $? = 2 ] || fail "a bad option must exit 2"
"$CL" --cmd=3:1A "$LFP" >/dev/null 2>&1; [ $? = 2 ] || fail "a bad --cmd must exit 2"
"$CL" "$T/nonexistent" >/dev/null 2>"$T/ne.err"; [ $? = 2 ] || fail "an unreadable file must exit 2"
grep -q "cannot open" "$T/ne.err" || fail "no clear message: $(cat "$T/ne.err")"
printf '{"powerd_ecoflow_decode": 1, "records": [{"cmd": "03:2F", "len": 4, "fields": [\n{"name": "x", "offset": 3, "type": "u16"}]}]}' >"$T/bad.json"
"$CL" --decode="$T/bad.json" "$LFP" >/dev/null 2>"$T/tab.err"; [ $? = 2 ] || fail "a bad table must exit 2"
grep -q "bad.json:2:.*lies beyond" "$T/tab.err" || fail "table error: $(cat "$T/tab.err")"
echo "ok: canlog"
