#!/usr/bin/env bash
# Runs every example program against the in-process emulator (no OCS_* variable set) and
# checks exit status and output, including the failure modes: misused flags, a partial
# configuration, an unreachable service. Run from anywhere; needs only Go.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
work=$tmp/work # the examples' working directory: the files they write land here
mkdir -p "$work"

guid='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
tenant=6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b # any GUID: the unreachable service is never asked

# Build once; each case then runs a binary in $work (go run would run it in the repo).
go build -o "$tmp/bin/" ./examples/...

# run [VAR=VALUE...] EXAMPLE ARGS...: runs the example in $work with no OCS_* variable but
# the VARs given (none: the example starts the emulator); sets $rc, $out, $err.
run() {
  local vars=()
  while [[ $1 == *=* ]]; do vars+=("$1"); shift; done
  local name=$1; shift
  set +e
  (cd "$work" && env -u OCS_RESOURCE -u OCS_TENANT_ID -u OCS_CLIENT_ID -u OCS_CLIENT_SECRET \
    ${vars[@]+"${vars[@]}"} "$tmp/bin/$name" "$@") >"$tmp/stdout" 2>"$tmp/stderr"
  rc=$?
  set -e
  out=$(cat "$tmp/stdout"); err=$(cat "$tmp/stderr")
}

problems=()
want_rc()  { [ "$rc" = "$1" ] || problems+=("exit status $rc, want $1"); }
want_out() { grep -Eq -- "$1" <<<"$out" || problems+=("stdout lacks /$1/"); }
want_err() { grep -Eq -- "$1" <<<"$err" || problems+=("stderr lacks /$1/"); }
no_out()   { ! grep -Eq -- "$1" <<<"$out" || problems+=("stdout has /$1/"); }
# one_line_error: stderr is exactly one line, and no stack trace.
one_line_error() {
  local n; n=$(wc -l <"$tmp/stderr" | tr -d ' ')
  [ "$n" = 1 ] || problems+=("stderr has $n lines, want 1")
  ! grep -Eq 'goroutine|panic' "$tmp/stderr" || problems+=("stderr shows a panic or a stack trace")
}
want_file_mode() { # want_file_mode PATH MODE
  local m; m=$(stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1" 2>/dev/null || echo missing)
  [ "$m" = "$2" ] || problems+=("$1: mode $m, want $2")
}
want_no_file() { [ ! -e "$1" ] || problems+=("$1 is left behind"); }

passed=0 failed=0
# finish NAME: reports the case's checks.
finish() {
  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1)); echo "ok    $1"
  else
    failed=$((failed + 1)); echo "FAIL  $1"
    printf '      %s\n' "${problems[@]}"
    echo "      --- stdout:"; sed 's/^/      /' "$tmp/stdout"
    echo "      --- stderr:"; sed 's/^/      /' "$tmp/stderr"
  fi
  problems=()
}

emulator_note='^running against the in-process emulator \(set OCS_TENANT_ID, OCS_CLIENT_ID, OCS_CLIENT_SECRET to use a real tenant\)$'

# --- quickstart

# The README's command, word for word, from the repository's root.
set +e
env -u OCS_RESOURCE -u OCS_TENANT_ID -u OCS_CLIENT_ID -u OCS_CLIENT_SECRET \
  go run ./examples/quickstart >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
set -e
out=$(cat "$tmp/stdout"); err=$(cat "$tmp/stderr")
want_rc 0
want_out "^client id: $guid$"
want_err "$emulator_note"
secrets_left=$(find . -maxdepth 1 -name '*.secret' | head -1)
[ -z "$secrets_left" ] || problems+=("$secrets_left is left in the repository")
finish "quickstart: go run ./examples/quickstart from the repository root"

run quickstart
want_rc 0
want_err "$emulator_note"
want_out "^client id: $guid$"
want_out "^secret value written to \./$guid\.secret \(mode 0600\)$"
want_err "^warning: .*cannot be retrieved again"
want_out "^ID +NAME +ENABLED +REFRESH TOKENS +TOKEN LIFETIME$"
want_out "^$guid +quickstart example +true +true +30m0s$"
want_out "^deleted client $guid"
want_out "^removed \./$guid\.secret"
no_out "secret value:"
id=$(sed -n 's/^client id: //p' <<<"$out")
want_no_file "$work/$id.secret"
finish "quickstart: creates, writes the secret file, lists, cleans up"

run quickstart -keep -secret-file "$work/kept.secret"
want_rc 0
want_out "^secret value written to $work/kept\.secret \(mode 0600\)$"
want_out "^kept client $guid$"
want_file_mode "$work/kept.secret" 600
[ -s "$work/kept.secret" ] || problems+=("$work/kept.secret is empty")
finish "quickstart -keep -secret-file: the file has mode 600"

echo "an earlier secret" >"$work/taken.secret"
run quickstart -secret-file "$work/taken.secret"
want_rc 1
want_err '^quickstart: -secret-file .*exists already'
[ "$(cat "$work/taken.secret")" = "an earlier secret" ] || problems+=("taken.secret was overwritten")
finish "quickstart -secret-file EXISTING: refuses to overwrite"
rm -f "$work/kept.secret" "$work/taken.secret"

# The destination is checked before the client is created: nothing to clean up.
run quickstart -secret-file /no/such/dir/x.secret
want_rc 1
want_err '^quickstart: -secret-file /no/such/dir/x\.secret: directory /no/such/dir does not exist$'
no_out 'client id:'
[ -z "$(ls -A "$work")" ] || problems+=("files written: $(ls -A "$work")")
finish "quickstart -secret-file in a missing directory: refused before creating the client"

echo "a file" >"$work/plain"
run quickstart -secret-file "$work/plain/x.secret"
want_rc 1
want_err "^quickstart: -secret-file .*: $work/plain is not a directory$"
no_out 'client id:'
finish "quickstart -secret-file under a file: refused before creating the client"
rm -f "$work/plain"

run quickstart -print-secret
want_rc 0
want_out '^secret value: [^ ]{16,}$'
want_err '^warning: .*cannot be retrieved again'
[ -z "$(ls -A "$work")" ] || problems+=("files written: $(ls -A "$work")")
finish "quickstart -print-secret: the value on stdout, the warning on stderr, no file"

run quickstart -print-secret -secret-file x
want_rc 2
one_line_error
finish "quickstart -print-secret -secret-file: flag misuse"

# --- rotate-secret

run rotate-secret
want_rc 0
want_err "$emulator_note"
want_err "^emulator: created client $guid with two secrets to rotate, the first one's value in \./$guid\.secret "
want_out "^added +secret 3 "
want_out '^proven +the identity server accepts the new secret '
want_out "^stored +value written to \./$guid\.secret \(mode 0600\)$"
want_out '^shortened +secret 1 "first secret", expires '
want_out '^shortened +secret 2 "legacy secret", expires '
no_out '^deleted '
want_out '^emulator: the new secret signs in: true$'
[ -z "$(ls -A "$work")" ] || problems+=("files left: $(ls -A "$work")")
finish "rotate-secret: adds, proves, replaces the file's value, keeps the old secrets working for the default hour"

run rotate-secret -retire-at-once
want_rc 0
want_out '^deleted +secret 1 "first secret"'
want_out '^deleted +secret 2 "legacy secret", expires never$'
# The file held the first secret, now deleted: signing in proves it was replaced.
want_out '^emulator: the new secret signs in: true$'
[ -z "$(ls -A "$work")" ] || problems+=("files left: $(ls -A "$work")")
finish "rotate-secret -retire-at-once: deletes the old secrets, as asked; the file holds the new value"

run rotate-secret -grace 2h -out "$work/new.secret" -keep
want_rc 0
want_out "^stored +value written to $work/new\.secret \(mode 0600\)$"
want_out '^shortened +secret 1 '
want_out '^shortened +secret 2 '
no_out '^deleted'
want_out '^emulator: the new secret signs in: true$'
want_file_mode "$work/new.secret" 600
finish "rotate-secret -grace 2h -out: shortens instead of deleting; the file has mode 600"
rm -f "$work/new.secret"

run rotate-secret -retire expired
want_rc 0
want_out '^retired +none of the old secrets \(-retire expired\)$'
finish "rotate-secret -retire expired: keeps the unexpired secrets"

run rotate-secret -retire sometimes
want_rc 2
one_line_error
want_err '^rotate-secret: -retire must be all or expired'
finish "rotate-secret -retire sometimes: flag misuse"

run rotate-secret -client-id 00000000-0000-0000-0000-000000000001
want_rc 1
want_err '^rotate-secret: -client-id names a client of a real tenant; the in-process emulator starts empty on every run, so omit -client-id'
no_out '^added'
finish "rotate-secret -client-id on the emulator: says to omit it"

echo "an application's secret" >"$work/taken.secret"
run rotate-secret -out "$work/taken.secret"
want_rc 1
want_err '^rotate-secret: -out .*taken\.secret exists already'
no_out '^added'
[ "$(cat "$work/taken.secret")" = "an application's secret" ] || problems+=("taken.secret was overwritten")
finish "rotate-secret -out EXISTING on the emulator: refused, the file is not the emulator's to replace"
rm -f "$work/taken.secret"

run rotate-secret -out /no/such/dir/new.secret
want_rc 1
want_err '^rotate-secret: -out /no/such/dir/new\.secret: directory /no/such/dir does not exist$'
no_out '^added'
finish "rotate-secret -out in a missing directory: refused before changing anything"

# --- rotate-policy

policy_summary() { echo "^$1 clients as of [0-9TZ:.-]+: $2$"; }

run rotate-policy
want_rc 0
want_err "$emulator_note"
want_err '^emulator: created 6 clients \(3 due within 30 days\), a new secret reaching sign-in after 1h0m0s$'
want_out "^rotated +$guid \"(billing web app|reports|inventory sync)\": new secret 2, accepted by the identity server at .*; old secrets \[1\] work until the grace ends$"
[ "$(grep -c '^rotated ' <<<"$out")" = 3 ] || problems+=("want 3 rotated lines")
want_out "$(policy_summary 6 '3 rotated, 0 due, 3 not due, 0 findings, 0 not proven, 0 failed')"
want_err '^emulator: the stored values of 3 of 3 rotated clients sign in; a second run now would rotate 0$'
no_out '^(due|finding|failed|not proven) |^PARTIAL'
[ -z "$(ls -A "$work")" ] || problems+=("files left: $(ls -A "$work")")
finish "rotate-policy: rotates the 3 due clients after the emulated hour of propagation; a second run would rotate none"

run rotate-policy -dry-run
want_rc 2
want_out "^due +$guid \"reports\": newest working secret 1 expires .*, in 5 days: within 30 days; would add a secret \"rotated by policy on [0-9-]+\" that lives 365 days, wait until the identity server accepts it, store it, then let old secrets \[1\] work 1h0m0s more$"
[ "$(grep -c '^due ' <<<"$out")" = 3 ] || problems+=("want 3 due lines")
want_out "$(policy_summary 6 '0 rotated, 3 due, 3 not due, 0 findings, 0 not proven, 0 failed \(dry run: nothing changed\)')"
want_err '^rotate-policy: needs a person: 3 due, 0 findings, 0 not proven$'
no_out '^rotated '
finish "rotate-policy -dry-run: says who is due and what would happen; exit status 2"

run rotate-policy -emulate-finding
want_rc 2
want_out "^finding +$guid \"legacy batch job\": secret 1 never expires, so the policy never rotates it"
want_out "$(policy_summary 7 '3 rotated, 0 due, 3 not due, 1 findings, 0 not proven, 0 failed')"
want_err '^rotate-policy: needs a person: 0 due, 1 findings, 0 not proven$'
finish "rotate-policy -emulate-finding: rotates the due clients; a secret that never expires needs a person (2)"

run rotate-policy -proof-timeout 30m
want_rc 2
want_out "^not proven +$guid \"reports\": .*new secret 2 was added, but the identity server did not accept it \(12 probes in 30m0s; it kept answering invalid_client\); it was deleted again \(its value was never stored\); old secrets \[1\] are untouched and still work"
[ "$(grep -c '^not proven ' <<<"$out")" = 3 ] || problems+=("want 3 not proven lines")
want_err 'a second run now would rotate 3$'
finish "rotate-policy -proof-timeout 30m, propagation 1h: nothing stored or retired, the new secrets deleted, due again; exit status 2"

mkdir -p "$work/store"
run rotate-policy -store "$work/store" -lifetime 180d -grace 2h -concurrency 2
want_rc 0
want_out 'old secrets \[1\] work until the grace ends$'
[ "$(ls "$work/store" | grep -Ec "^$guid$")" = 6 ] || problems+=("want 6 files in -store, one per client: $(ls "$work/store")")
for f in "$work"/store/*; do want_file_mode "$f" 600; done
finish "rotate-policy -store DIR: a file per client, mode 600, the rotated ones replaced"
rm -rf "$work/store"

run rotate-policy -json
want_rc 0
cat >"$tmp/checkpolicy.go" <<'GO'
// checkpolicy reads rotate-policy -json output on stdin and checks its shape and counts.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	var r struct {
		AsOf    string
		DryRun  bool
		Clients []struct {
			ClientID, ClientName, Outcome, Reason, Step string
			NewSecretID                                 int
			ProvenAt                                    *string
			Probes                                      int
			Shortened                                   []int
		}
		Summary struct{ Clients, Rotated, Due, NotDue, Findings, NotProven, Failed int }
		Partial *struct{ Reason string }
	}
	if err := json.NewDecoder(os.Stdin).Decode(&r); err != nil {
		fmt.Println("invalid JSON:", err)
		os.Exit(1)
	}
	if r.Partial != nil {
		fmt.Println("a complete run's report is marked partial:", r.Partial.Reason)
		os.Exit(1)
	}
	rotated := 0
	for _, c := range r.Clients {
		if c.Outcome == "rotated" && c.Step == "done" && c.NewSecretID == 2 && c.ProvenAt != nil && c.Probes > 0 && len(c.Shortened) == 1 {
			rotated++
		}
	}
	s := r.Summary
	if got := fmt.Sprint(r.DryRun, len(r.Clients), rotated, s.Clients, s.Rotated, s.NotDue, s.Failed); got != "false 6 3 6 3 3 0" {
		fmt.Printf("dryRun clients rotated summary(clients rotated notDue failed): %s, want false 6 3 6 3 3 0\n", got)
		os.Exit(1)
	}
}
GO
if ! msg=$( (cd "$tmp" && GO111MODULE=off go run checkpolicy.go) <"$tmp/stdout" 2>&1); then
  problems+=("$msg")
fi
finish "rotate-policy -json: valid JSON with each client's outcome"

run rotate-policy -retire sometimes
want_rc 1
one_line_error
want_err '^rotate-policy: -retire must be all or expired'
finish "rotate-policy -retire sometimes: flag misuse, exit status 1 (2 is a result)"

run rotate-policy -lifetime 10d
want_rc 1
one_line_error
want_err '^rotate-policy: -lifetime must be longer than RenewBefore'
finish "rotate-policy -lifetime 10d: a new secret would be due at once; refused"

run rotate-policy -h
want_rc 0
want_err '^Exit status, for a scheduler:$'
want_err '^  0  nothing due, or every due client rotated$'
want_err '^  1  an error'
want_err '^  2  needs a person'
finish "rotate-policy -h: documents the exit status for schedulers"

# --- audit

run audit
want_rc 2
want_err "$emulator_note"
want_err "^emulator: seeded 7 clients, one rotated with 3 days' grace; its clock is now 48h ahead$"
want_out '^FINDING +CLIENT ID +CLIENT NAME +SECRET +DESCRIPTION +EXPIRES$'
want_out "^expired +$guid +Kiosk +1 +kiosk +.* ago\)$"
want_out "^expiring +$guid +Reports +1 +reports web app +.*\(in 1[78] days\)$"
want_out "^never expires +$guid +Legacy batch job +1 +batch job +never$"
want_out "^no secret +$guid +Lab test +- +- +-$"
want_out "^retiring +$guid +Inventory service +1 +inventory, 2025 +.*\(in 2[34] hours\)$"
want_out "^disabled +$guid +Legacy batch job "
no_out 'Billing portal|Mobile app' # a retired secret is only counted; a valid one needs nothing
want_out '^7 clients, 8 secrets, as of .*: 1 expired, 1 expiring within 30 days, 1 never expiring, 1 without a secret: 4 findings$'
want_out '^not findings: 1 disabled; 1 retiring, 1 retired \(another secret of their client works beyond 30 days\)$'
no_out 'PARTIAL'
finish "audit: reports every category; findings, so exit status 2"

run audit -days 10
want_rc 2
want_out ': 1 expired, 0 expiring within 10 days, 1 never expiring, 1 without a secret: 3 findings$'
finish "audit -days 10: the secret expiring in 18 days is not reported"

run audit -emulate-healthy
want_rc 0
want_err "^emulator: seeded 3 clients, "
want_out "^retiring +$guid +Inventory service "
want_out '^3 clients, 5 secrets, as of .*: 0 expired, 0 expiring within 30 days, 0 never expiring, 0 without a secret: 0 findings$'
want_out '^not findings: 0 disabled; 1 retiring, 1 retired '
finish "audit -emulate-healthy: a rotation's old secrets are no finding: exit status 0"

run audit -emulate-healthy -emulate-clients 5
want_rc 1
one_line_error
want_err '^audit: -emulate-healthy does not go with -emulate-clients'
finish "audit -emulate-healthy -emulate-clients: flag misuse, exit status 1 (2 means findings)"

cat >"$tmp/checkjson.go" <<'EOF'
// checkjson reads audit -json output on stdin and checks its shape and counts against
// its argument: clients, secrets, withinDays and findings, then the length of each list;
// or, for a partial report, how many clients of how many were checked, and why not all.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	var r struct {
		Clients, Secrets, WithinDays, Findings *int
		Partial                                *struct {
			Checked, Total *int
			Reason         *string
		}
		Expired, ExpiringSoon, NeverExpiring, NoSecret, Disabled, Retiring, Retired, Failed []map[string]any
	}
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		fmt.Println("invalid JSON:", err)
		os.Exit(1)
	}
	got := fmt.Sprint(*r.Clients, " ", *r.Secrets, " ", *r.WithinDays, " ", *r.Findings, ": ", len(r.Expired), " ", len(r.ExpiringSoon), " ",
		len(r.NeverExpiring), " ", len(r.NoSecret), " ", len(r.Disabled), " ", len(r.Retiring), " ", len(r.Retired), " ", r.Failed != nil && len(r.Failed) == 0)
	if r.Partial != nil {
		got = fmt.Sprintf("partial: %d of %d (%s)", *r.Partial.Checked, *r.Partial.Total, *r.Partial.Reason)
	}
	if want := os.Args[1]; got != want {
		fmt.Printf("clients secrets withinDays findings: expired expiringSoon neverExpiring noSecret disabled retiring retired failed=[]:\n  %s, want\n  %s\n", got, want)
		os.Exit(1)
	}
}
EOF
# checkjson WANT: the JSON on stdout, asOf dropped (the one field checkjson does not
# declare, so that unknown fields still fail), matches WANT.
checkjson() {
  local msg
  if ! msg=$(grep -v '"asOf"' "$tmp/stdout" | (cd "$tmp" && GO111MODULE=off go run checkjson.go "$1") 2>&1); then
    problems+=("$msg")
  fi
}

run audit -json
want_rc 2
checkjson "7 8 30 4: 1 1 1 1 1 1 1 true"
want_out '"asOf": "'
want_out '"partial": null'
want_out '"expiration": null'
# stderr: the emulator's two notes, nothing else (no progress: stderr is not a terminal).
[ "$(wc -l <"$tmp/stderr" | tr -d ' ')" = 2 ] || problems+=("stderr has more than the emulator's notes")
finish "audit -json: valid JSON with every category, retiring and retired too"

# A scan that cannot finish in time: one worker, 20 ms a request, 3,000 clients.
slow=(-emulate-clients 3000 -emulate-latency 20ms -concurrency 1)
started=$SECONDS
run audit "${slow[@]}" -timeout 2s
want_rc 1
want_out '^PARTIAL REPORT: [0-9]+ of 3007 clients checked \(gave up after -timeout 2s\)$'
want_out '^[0-9]+ of 3007 clients, [0-9]+ secrets, as of '
tail -1 "$tmp/stderr" | grep -Eq '^audit: the report is partial, [0-9]+ of 3007 clients checked: gave up after -timeout 2s$' ||
  problems+=("stderr does not end with the partial report's line")
[ $((SECONDS - started)) -lt 15 ] || problems+=("took $((SECONDS - started))s")
finish "audit -timeout 2s on a slow tenant: the report of what was checked, marked partial, exit status 1"

run audit "${slow[@]}" -timeout 2s -json
want_rc 1
checked=$(sed -n 's/^    "checked": \([0-9]*\),$/\1/p' "$tmp/stdout")
checkjson "partial: ${checked:-?} of 3007 (gave up after -timeout 2s)"
finish "audit -timeout 2s -json: the JSON report says partial, how many of how many"

# Ctrl-C: the same slow scan without a deadline, interrupted a second into the scan.
set +e
(cd "$work" && exec env -u OCS_RESOURCE -u OCS_TENANT_ID -u OCS_CLIENT_ID -u OCS_CLIENT_SECRET \
  "$tmp/bin/audit" "${slow[@]}" -timeout 0) >"$tmp/stdout" 2>"$tmp/stderr" &
audit_pid=$!
for _ in $(seq 100); do grep -q '^emulator: added 3000 clients' "$tmp/stderr" && break; sleep 0.1; done
sleep 1
kill -INT "$audit_pid"
wait "$audit_pid"
rc=$?
set -e
out=$(cat "$tmp/stdout"); err=$(cat "$tmp/stderr")
want_rc 1
want_out '^PARTIAL REPORT: [0-9]+ of 3007 clients checked \(interrupted\)$'
want_err '^audit: interrupted: the report is partial, [0-9]+ of 3007 clients checked: context canceled$'
finish "audit interrupted (Ctrl-C) with -timeout 0: the partial report, exit status 1"

# --- signin: a web application; started in the background, walked with curl, stopped

signin_pid=
stop_signin() { if [ -n "$signin_pid" ]; then kill "$signin_pid" 2>/dev/null || true; wait "$signin_pid" 2>/dev/null || true; signin_pid=; fi; }
trap 'stop_signin; rm -rf "$tmp"' EXIT
(cd "$work" && exec env -u OCS_RESOURCE -u OCS_TENANT_ID -u OCS_CLIENT_ID -u OCS_CLIENT_SECRET \
  "$tmp/bin/signin" -stop-after 60s) >"$tmp/stdout" 2>"$tmp/stderr" &
signin_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's|^open \(http://127\.0\.0\.1:[0-9]*/\) in a browser to sign in (client .*); stop with Ctrl-C$|\1|p' "$tmp/stdout")
  [ -n "$url" ] && break
  sleep 0.1
done
out=$(cat "$tmp/stdout"); err=$(cat "$tmp/stderr")
[ -n "$url" ] || problems+=("no URL printed")
want_err '^running against the in-process emulator'
if [ -n "$url" ]; then
  jar=$tmp/cookies
  home=$(curl -sS --max-time 10 "$url") || problems+=("fetching $url failed")
  grep -q 'id="signin" href="/login"' <<<"$home" || problems+=("the home page has no Sign in link")
  signin_page=$(curl -sS --max-time 10 -L -c "$jar" -b "$jar" -w '\n%{url_effective}' "${url}login") || problems+=("following Sign in failed")
  grep -q 'id="submit"' <<<"$signin_page" || problems+=("Sign in does not lead to the emulator's sign-in page")
  grep -q '/identity/connect/authorize?.*code_challenge_method=S256' <<<"$signin_page" || problems+=("the authorization URL lacks PKCE S256")
  # Submit the sign-in form as a person would: the emulator's default user, typed.
  action=$(sed -n 's|.*<form id="signin" method="post" action="\([^"]*\)".*|\1|p' <<<"$signin_page")
  # The form's hidden request, its HTML escapes (&amp; &#43; &#34; &#39; &lt; &gt;) undone.
  request=$(sed -n 's|.*name="request" value="\([^"]*\)".*|\1|p' <<<"$signin_page" |
    sed -e 's/&#43;/+/g' -e 's/&#34;/"/g' -e "s/&#39;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g')
  origin=$(tail -1 <<<"$signin_page" | sed 's|^\(http://[^/]*\)/.*|\1|')
  signed_in=$(curl -sS --max-time 10 -L -c "$jar" -b "$jar" --data-urlencode "request=$request" \
    --data-urlencode "username=Ada Lovelace" --data "action=signin" "$origin$action") || problems+=("submitting the sign-in form failed")
  grep -q '<span id="user-name">Ada Lovelace</span>' <<<"$signed_in" || problems+=("not signed in: $(tr -s ' \n' ' ' <<<"$signed_in" | grep -o "id=.error-description.>[^<]*" | head -c 300)")
  grep -q '<span id="token-lifetime">3600</span>' <<<"$signed_in" || problems+=("the token lifetime is not 3600 s")
fi
stop_signin
# Nothing on stdout or stderr may hold a token or a code.
! grep -Eq 'eyJ|access_token|refresh_token|code=' "$tmp/stdout" "$tmp/stderr" || problems+=("a token or code was printed")
finish "signin: serves the home page, the printed URL signs Ada Lovelace in on the emulator"

run signin -no-such-flag
want_rc 2
one_line_error
want_err '^signin: flag provided but not defined: -no-such-flag \(see -h\)$'
finish "signin -no-such-flag: one line, exit status 2"

run OCS_TENANT_ID=$tenant signin
want_rc 2
one_line_error
want_err '^signin: against a tenant, give your hybrid client.s -client-id'
finish "signin with only OCS_TENANT_ID: says what a tenant needs"

run signin -client-id x -tenant-id $tenant
want_rc 2
one_line_error
want_err '^signin: with -client-id, also give -secret-file, -redirect-uri'
finish "signin -client-id without its secret and redirect URI: names them"

echo "not-a-secret" >"$work/hc.secret"
started=$SECONDS
run OCS_RESOURCE=http://127.0.0.1:1 signin -tenant-id $tenant -client-id 00000000-0000-0000-0000-000000000001 \
  -secret-file "$work/hc.secret" -redirect-uri http://127.0.0.1:0/callback
want_rc 1
one_line_error
want_err 'openid-configuration: service unreachable: .*connection refused; check Config.Resource'
no_out 'not-a-secret'
! grep -q 'not-a-secret' "$tmp/stderr" || problems+=("the secret was printed")
[ $((SECONDS - started)) -lt 15 ] || problems+=("took $((SECONDS - started))s")
finish "signin against an unreachable service: one line, quickly, no secret"
rm -f "$work/hc.secret"

# clean_stderr N: stderr is exactly N lines of the emulator's notes: no progress bar, no
# carriage return, no escape sequence (stderr is a file here, as in a pipe or CI).
clean_stderr() {
  local n; n=$(wc -l <"$tmp/stderr" | tr -d ' ')
  [ "$n" = "$1" ] || problems+=("stderr has $n lines, want $1")
  ! grep -q $'[\r\e]' "$tmp/stderr" || problems+=("stderr holds a carriage return or an escape sequence")
  ! grep -Eq 'auditing|%' "$tmp/stderr" || problems+=("stderr shows progress")
}

run audit -concurrency 16 -emulate-clients 2000 -emulate-latency 5ms -emulate-jitter 2ms
want_rc 2
want_out '^2007 clients, [0-9]+ secrets, as of .*: [0-9]+ findings$'
want_err '^emulator: added 2000 clients with 1 to 3 secrets each \(latency 5ms \+ up to 2ms, rate limit none\)$'
clean_stderr 3
finish "audit -concurrency 16 on 2,000 clients at 5 ms: stderr not a terminal, so no progress"

run audit -concurrency 32 -emulate-clients 1500 -emulate-rate 300
want_rc 2
want_out '^1507 clients, '
no_out 'not checked'
clean_stderr 3
finish "audit -concurrency 32 against a rate limit of 300/s: every client checked"

for c in 0 257 -3; do
  run audit -concurrency "$c"
  want_rc 1 # audit's 2 means findings
  one_line_error
  want_err "^audit: -concurrency must be from 1 to 256, not $c \(see -h\)$"
  finish "audit -concurrency $c: flag misuse"
done

# --- -h: which client each flag is for; placeholders that read as a value's kind

for name in quickstart rotate-secret rotate-policy audit; do
  run "$name" -h
  want_rc 0
  want_err '^-auth-client-id \(OCS_CLIENT_ID\) is the client-credential client the example signs in$'
  want_err '^  -auth-client-id id$'
  finish "$name -h: -auth-client-id is the management credentials, not a hybrid client"
done
run rotate-secret -h
want_err '^-client-id is the hybrid client it works on\.$'
want_err '^  -client-id GUID$'
want_err 'GUID of the hybrid client whose secret to rotate, not the -auth-client-id'
finish "rotate-secret -h: -client-id is the hybrid client"
run audit -h
want_err '^Exit status: 0 no finding; 2 findings, every client checked; 1 the audit could not be$'
want_err '^  -timeout duration$'
want_err 'Default: from the tenant.s size'
want_err '^  -emulate-jitter delay$'
finish "audit -h: -emulate-jitter's placeholder is a delay"
run signin -h
want_rc 0
want_err '^  -client-id GUID$'
want_err 'GUID of your hybrid client, the one users sign in with'
finish "signin -h: -client-id is the hybrid client users sign in with"
# --- clients-as-code: plan, apply and export hybrid clients as code

run clients-as-code plan
want_rc 2
want_err "$emulator_note"
want_err '^emulator: the tenant starts with "Reports" \(an older version of a client of the sample, its secret expiring in 10 days\)'
want_out "^  \+ create client \"Billing portal\" \($guid\)$"
want_out '^      ~ name: "Reports" -> "Reports web app"$'
want_out '^      ~ accessTokenLifetime: 1h -> 30m$'
want_out '^      ~ rotate secret: newest working secret 1 expires [0-9TZ:-]+, in 10 days: within 30 days$'
want_out '^      \+ secret: new, lifetime 180d, description "billing web app"; its value goes to the store only$'
want_out '^  # keep client "Legacy batch job" '
want_out '^Plan: 3 to create, 1 to update \(1 of them rotating secrets\), 0 to delete; 0 unchanged, 1 kept \(deleting was not chosen\)\.$'
no_out 'not managed'
[ -z "$(ls -A "$work")" ] || problems+=("files written: $(ls -A "$work")")
finish "clients-as-code plan: the sample against the seeded emulator, a due secret to rotate, exit status 2 (changes)"

run clients-as-code plan -delete -unmanaged
want_rc 2
want_out '^  - delete client "Legacy batch job" \(9b2c4d5e-6f70-4812-a3b4-c5d6e7f80912\): removed in the desired state$'
want_out "^  not managed: client \"Someone else's app\" \($guid\)$"
want_out '^Plan: 3 to create, 1 to update \(1 of them rotating secrets\), 1 to delete; 0 unchanged\.$'
finish "clients-as-code plan -delete -unmanaged: deletes only the removed client, lists the unmanaged one"

run clients-as-code plan -json -out plan.json
want_rc 2
want_out '^  "fingerprint": "sha256:[0-9a-f]{64}",$'
want_out '^    "create": 3,$'
want_err '^plan saved to plan\.json; apply it with: '
want_file_mode "$work/plan.json" 600
finish "clients-as-code plan -json -out: the plan as JSON, saved with mode 600"

run clients-as-code apply plan.json
want_rc 1
want_err 'clients-as-code apply: a saved plan names the tenant it was made for, .*use apply -auto on the emulator$'
finish "clients-as-code apply plan.json on the emulator: says to use -auto"
rm -f "$work/plan.json"

run clients-as-code apply -auto -delete
want_rc 0
want_out "^created  client \"Billing portal\" \($guid\): secret [0-9]+, expires .*, written to .*/$guid\.secret \(mode 0600\)$"
want_out "^updated  client \"Reports web app\" \($guid\): secret 2, expires .*, in place of the old value in .*/$guid\.secret \(mode 0600\); rotated: accepted by the identity server at [0-9TZ:-]+, then old secrets \[1\] retired \([0-9]+ probes\)$"
want_out '^deleted  client "Legacy batch job" '
want_out '^Apply: 3 created, 1 updated, 1 deleted, 1 rotated, 0 failed\.$'
want_out '^emulator: every stored secret signs in: true$'
want_out '^emulator: a new plan shows no changes: true$'
want_err '^emulator: removed the secrets directory '
[ -z "$(ls -A "$work")" ] || problems+=("files left: $(ls -A "$work")")
finish "clients-as-code apply -auto -delete: creates, updates, rotates after the emulated hour, deletes; the secrets signed in and were removed"

mkdir "$work/secrets"
run clients-as-code apply -auto -secrets-dir secrets -concurrency 2
want_rc 0
want_out '^Apply: 3 created, 1 updated, 0 deleted, 1 rotated, 0 failed\.$'
want_out 'in place of the old value in secrets/1b4e28ba-2fa1-41d2-883f-0016d3cca427\.secret \(mode 0600\); rotated: '
n=$(find "$work/secrets" -name '*.secret' -perm 600 | wc -l | tr -d ' ')
[ "$n" = 4 ] || problems+=("$n secret files of mode 600 in secrets/, want 4")
! grep -q 'removed the secrets directory' <<<"$err" || problems+=("the chosen secrets directory was removed")
finish "clients-as-code apply -auto -secrets-dir: a file of mode 600 per new client, the rotated client's value replaced"
rm -rf "$work/secrets"

run clients-as-code export
want_rc 0
want_out '^version: 1$'
want_out '^  - id: 9b2c4d5e-6f70-4812-a3b4-c5d6e7f80912$'
want_out '^    name: Legacy batch job$'
no_out '[Ss]ecret:'
finish "clients-as-code export: the tenant as a desired-state file, without secrets"

printf '%s\n' 'version: 1' 'clients:' '  - id: 7c9e6679-7425-40de-944b-e07fc1f90ae7' '    secret: do-not-show' \
  '    name: Billing portal' '    redirectURIs: [javascript:alert(1)]' '    secrets: {maxAge: 1h}' >"$work/bad.yaml"
run clients-as-code plan -file bad.yaml
want_rc 1
want_err 'bad\.yaml:4:5: clients\[0\]\.secret: is not a known key'
want_err 'bad\.yaml:6:20: clients\[0\]\.redirectURIs\[0\]: must not use a scheme that runs'
want_err 'bad\.yaml:7:23: clients\[0\]\.secrets\.maxAge: must be more than ProofTimeout \(1h10m0s\) and an hour.* \(got "1h"\)$'
! grep -q 'do-not-show' "$tmp/stderr" || problems+=("the value of an unknown key was shown")
finish "clients-as-code plan -file with broken rules: each with its line, exit status 1"
rm -f "$work/bad.yaml"

printf '%s\n' 'version: 1' 'clients:' '  - id: 7c9e6679-7425-40de-944b-e07fc1f90ae7' '    name: Billing portal' \
  '    redirectURIs: [https://billing.example.com/cb]' '    secrets: Xq9vK2mP7sT4wZ1cR8bN3hJ6fD0aL5eY' >"$work/pasted.yaml"
run clients-as-code plan -file pasted.yaml
want_rc 1
want_err 'pasted\.yaml:6:14: clients\[0\]\.secrets: must be a mapping of keys to values, not a single value of 32 characters \(not shown\)$'
! grep -q 'Xq9vK2mP7sT4wZ1cR8bN3hJ6fD0aL5eY' "$tmp/stderr" || problems+=("the value pasted under secrets: was shown")
finish "clients-as-code plan -file with a value pasted under secrets: its length, never the value"
rm -f "$work/pasted.yaml"

cp examples/clients-as-code/testdata/clients.yaml "$work/mine.yaml"
run clients-as-code plan -file mine.yaml -out mine.yaml -force
want_rc 1
one_line_error
want_err '^clients-as-code plan: -out mine\.yaml is the -file: a plan must not be written over it, even with -force'
cmp -s examples/clients-as-code/testdata/clients.yaml "$work/mine.yaml" || problems+=("mine.yaml was changed")
finish "clients-as-code plan -out naming the -file: refused even with -force, the file untouched"
echo 'an older plan' >"$work/old.json"
run clients-as-code plan -file mine.yaml -out old.json
want_rc 1
want_err '^clients-as-code plan: -out old\.json exists already: name a new file, or give -force to replace it'
finish "clients-as-code plan -out an existing file: refused without -force"
run clients-as-code plan -file mine.yaml -out old.json -force
want_rc 2
grep -q '"fingerprint"' "$work/old.json" || problems+=("-force did not replace old.json")
finish "clients-as-code plan -out an existing file -force: replaced"
rm -f "$work/old.json"
run clients-as-code apply -auto -file mine.yaml
want_rc 0
want_out '^emulator: no record kept '
[ "$(ls -A "$work")" = mine.yaml ] || problems+=("files beside mine.yaml: $(ls -A "$work")")
finish "clients-as-code apply -auto -file on the emulator: no record written beside the file"
rm -f "$work/mine.yaml"

run clients-as-code
want_rc 1
want_err '^Usage: go run ./examples/clients-as-code COMMAND'
finish "clients-as-code without a command: the usage, exit status 1"

run clients-as-code plan -h
want_rc 0
want_err '^Exit status: 0 no changes \(plan\) or done \(apply, export\); 2 changes planned \(plan\);$'
finish "clients-as-code plan -h: documents the exit statuses"

for args in "plan -no-such-flag" "apply" "apply -auto -concurrency 300" "frob" "export -format toml"; do
  # shellcheck disable=SC2086 # the words are the arguments
  run clients-as-code $args
  want_rc 1
  one_line_error
  finish "clients-as-code $args: misuse, one line, exit status 1 (2 means changes)"
done

run OCS_TENANT_ID=$tenant OCS_CLIENT_ID=ci OCS_CLIENT_SECRET=not-a-secret clients-as-code plan
want_rc 1
one_line_error
want_err '^clients-as-code plan: -file is required on a tenant'
finish "clients-as-code plan on a tenant without -file: says it is required"

printf 'version: 1\nclients: []\n' >"$work/empty.yaml"
started=$SECONDS
run OCS_RESOURCE=http://127.0.0.1:1 OCS_TENANT_ID=$tenant OCS_CLIENT_ID=ci OCS_CLIENT_SECRET=not-a-secret \
  clients-as-code plan -file empty.yaml -unmanaged -timeout 20s
want_rc 1
one_line_error
want_err 'connection refused'
[ $((SECONDS - started)) -lt 15 ] || problems+=("took $((SECONDS - started))s")
finish "clients-as-code plan against an unreachable service: one line, quickly"
rm -f "$work/empty.yaml"

# --- failure modes, for every example

unreachable=(OCS_RESOURCE=http://127.0.0.1:1 OCS_TENANT_ID=$tenant OCS_CLIENT_ID=ci OCS_CLIENT_SECRET=not-a-secret)
for name in quickstart rotate-secret rotate-policy audit; do
  misuse=2 ok=0
  [ "$name" = audit ] && misuse=1 ok=2 # audit's 2 means findings, which its emulator has
  [ "$name" = rotate-policy ] && misuse=1 # its 2 means what needs a person
  run "$name" -no-such-flag
  want_rc $misuse
  one_line_error
  want_err "^$name: flag provided but not defined: -no-such-flag \(see -h\)$"
  finish "$name -no-such-flag: one line, exit status $misuse"

  run OCS_TENANT_ID=$tenant "$name"
  want_rc 1
  one_line_error
  want_err "^$name: missing OCS_CLIENT_ID .*OCS_CLIENT_SECRET "
  finish "$name with only OCS_TENANT_ID: names the missing variables"

  run OCS_RESOURCE=https://euno.datahub.connect.aveva.com "$name"
  want_rc 1
  one_line_error
  want_err "^$name: missing OCS_TENANT_ID .*OCS_CLIENT_ID .*OCS_CLIENT_SECRET .*or none of them nor OCS_RESOURCE to use the emulator$"
  finish "$name with only OCS_RESOURCE: an error naming the three missing variables, not the emulator"

  run OCS_CLIENT_SECRET=' ' "$name"
  want_rc $ok
  want_err "$emulator_note"
  finish "$name with a blank OCS_CLIENT_SECRET: counts as unset, the emulator runs"

  run OCS_TENANT_ID=not-a-guid OCS_CLIENT_ID=ci OCS_CLIENT_SECRET=not-a-secret "$name"
  want_rc 1
  one_line_error
  want_err "^$name: .*invalid TenantID: must be a GUID"
  finish "$name with an invalid tenant id: one line"

  args=()
  [ "$name" = rotate-secret ] && args=(-client-id 00000000-0000-0000-0000-000000000001)
  [ "$name" = rotate-policy ] && args=(-dry-run)
  started=$SECONDS
  run "${unreachable[@]}" "$name" ${args[@]+"${args[@]}"} -timeout 20s
  want_rc 1
  one_line_error
  want_err 'connection refused'
  [ $((SECONDS - started)) -lt 15 ] || problems+=("took $((SECONDS - started))s")
  finish "$name against an unreachable service: one line, quickly"
done

# --- summary
echo "examples: $passed passed, $failed failed"
[ "$failed" = 0 ]
