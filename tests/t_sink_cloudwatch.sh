#!/bin/bash
# The CloudWatch sink against a loopback fake that checks requests the way
# AWS does: tests/cloudwatch_fake.py recomputes each SigV4 signature with
# Debian's python3-botocore and validates PutMetricData's parameters and
# limits.  tests/unit/test_sink_cloudwatch.c sends known samples (several
# series, tags, stale and NaN values, batches past the limits, failures,
# credentials from the environment, with a session token, and from a
# credentials file) and compares what the fake accepted datum by datum.
#   tests/t_sink_cloudwatch.sh BUILD_DIR
set -u

build=${1:?usage: $0 BUILD_DIR}
bin=$build/asan/tests/test_sink_cloudwatch
[ -x "$bin" ] || bin=$build/tests/test_sink_cloudwatch
[ -x "$bin" ] || { echo "no test_sink_cloudwatch in $build/asan/tests or $build/tests"; exit 1; }

# Debian's interpreter, which is where python3-botocore installs.
py=/usr/bin/python3
if ! "$py" -c 'import botocore.auth' 2>/dev/null; then
	echo "python3-botocore is not installed (tools/install-deps.sh test)"
	exit 77
fi

tmp=$(mktemp -d /tmp/powerd-cwfake-XXXXXX) || exit 1
fake=
cleanup() {
	[ -n "$fake" ] && kill "$fake" 2>/dev/null && wait "$fake" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

mapfile -t creds < <("$bin" --fake-creds)
[ ${#creds[@]} -ge 2 ] || { echo "FAIL: $bin --fake-creds printed nothing"; exit 1; }
"$py" tests/cloudwatch_fake.py --region us-east-1 --record "$tmp/records.jsonl" \
	--port-file "$tmp/port" "${creds[@]}" >"$tmp/fake.out" 2>"$tmp/fake.log" &
fake=$!
for _ in $(seq 100); do
	[ -s "$tmp/port" ] && break
	kill -0 "$fake" 2>/dev/null || break
	sleep 0.1
done
[ -s "$tmp/port" ] || { echo "FAIL: the fake did not start:"; cat "$tmp/fake.log"; exit 1; }
port=$(cat "$tmp/port")

CW_ENDPOINT=http://127.0.0.1:$port/ CW_RECORD=$tmp/records.jsonl timeout 120 "$bin"
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: test_sink_cloudwatch exited $rc; the fake's last lines:"
	tail -n 30 "$tmp/fake.log"
	exit 1
fi
# Every refusal the fake made was one the test provoked on purpose: no
# malformed request went unnoticed.
unexpected=$(grep -E '^cloudwatch-fake: [0-9]{3} ' "$tmp/fake.log" |
	grep -vE ' (500 InternalFailure: injected|503 ServiceUnavailable: injected|400 Throttling: Rate exceeded|400 InvalidParameterValue: injected|400 InvalidParameterValue: token |403 SignatureDoesNotMatch: The request signature|403 InvalidClientTokenId|403 SignatureDoesNotMatch: Credential should be scoped to a valid region)')
if [ -n "$unexpected" ]; then
	echo "FAIL: the fake refused requests the test did not provoke:"
	echo "$unexpected"
	exit 1
fi
echo "ok: CloudWatch sink against the SigV4-checking fake"
exit 0
