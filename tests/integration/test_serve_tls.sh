#!/usr/bin/env bash
# pgpitr serve with TLS: a self-signed certificate (openssl req) serves HTTPS that curl
# --cacert trusts (info of an empty repository, /health), plain HTTP on that port gets no
# answer, a client without the CA refuses the server; --tls-cert without --tls-key is a usage
# error (2), a missing key an I/O error (5) and a certificate given as the key a
# configuration error (3). Also: docs/serve.openapi.yaml
# validates against the OpenAPI 3 schema (tests/tools/openapi-validate.sh) and describes exactly the
# server's paths. Children (info) run the server's own file even after its path was replaced.
# No PostgreSQL needed; runs on every repository kind.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/serve_lib.sh
source "$HERE/serve_lib.sh"

log "the OpenAPI description"
python3 - "$HERE/../../docs/serve.openapi.yaml" <<'PY' || fail "docs/serve.openapi.yaml"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
want = {"/health", "/metrics", "/api/v1/info", "/api/v1/backups", "/api/v1/backups/{label}",
        "/api/v1/drills", "/api/v1/drills/{id}", "/api/v1/verify", "/api/v1/expire",
        "/api/v1/jobs/{id}"}
assert doc["openapi"].startswith("3."), doc["openapi"]
assert set(doc["paths"]) == want, sorted(set(doc["paths"]) ^ want)
def refs(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(x, list):
        for v in x:
            yield from refs(v)
for r in refs(doc):
    node = doc
    for part in r.lstrip("#/").split("/"):
        node = node[part]
PY
# Against the OpenAPI 3 specification's schema (tests/tools/openapi-validate.sh, npm).
"$HERE/../tools/openapi-validate.sh" "$HERE/../../docs/serve.openapi.yaml" ||
    fail "docs/serve.openapi.yaml is not a valid OpenAPI description"

[ "$REPO_KIND" = local ] && mkdir_pg "$REPO"
RO=$(new_token)
TOKENS=$WORK/tokens
token_line dash read "$RO" >"$TOKENS"
own "$TOKENS"
chmod 600 "$TOKENS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null ||
    fail "openssl req"
own "$WORK/key.pem" "$WORK/cert.pem"
chmod 600 "$WORK/key.pem"
PORT=$(free_port)

log "bad TLS options"
pgp_capture --repo "$REPO" serve --listen "127.0.0.1:$PORT" --token-file "$TOKENS" --tls-cert "$WORK/cert.pem"
assert_rc 2 "--tls-cert without --tls-key"
assert_one_line_error "--tls-cert without --tls-key"
pgp_capture --repo "$REPO" serve --listen "127.0.0.1:$PORT" --token-file "$TOKENS" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/missing.pem"
assert_rc 5 "a missing key"
assert_one_line_error "a missing key"
assert_contains "$ERR" "cannot open TLS key" "a missing key is named"
pgp_capture --repo "$REPO" serve --listen "127.0.0.1:$PORT" --token-file "$TOKENS" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/cert.pem"
assert_rc 3 "a certificate given as the key"
pgp_capture --repo "$REPO" serve --listen "localhost:$PORT" --token-file "$TOKENS"
assert_rc 3 "a listen address that is not numeric"
assert_contains "$ERR" "invalid listen address" "the listen address is named"

log "HTTPS"
serve_start tls "$PORT" --log-level info --repo "$REPO" serve --listen "127.0.0.1:$PORT" \
    --token-file "$TOKENS" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
BASE=https://127.0.0.1:$PORT
CURL_EXTRA=(--cacert "$WORK/cert.pem")
http GET /api/v1/info "$RO"
expect 200 "GET /api/v1/info over TLS"
assert_eq 2 "$(jr .schema_version)" "info over TLS"
http GET /health
expect 200 "GET /health over TLS"
http GET /api/v1/info
expect 401 "no token over TLS"
CURL_EXTRA=()
http GET /health
[ "$CODE" = 000 ] || fail "a client without the CA accepted the server (HTTP $CODE)"
BASE=http://127.0.0.1:$PORT
CURL_EXTRA=(--max-time 10)
http GET /health
[ "$CODE" != 200 ] || fail "plain HTTP answered on the TLS port"
serve_stop tls

log "children run the server's own file, even once its path is gone (an upgrade)"
mkdir_pg "$WORK/upgrade"
cp "$PGPITR" "$WORK/upgrade/pgpitr"
own "$WORK/upgrade/pgpitr"
SAVED=$PGPITR
PGPITR=$WORK/upgrade/pgpitr
PORT=$(free_port)
serve_start old "$PORT" --repo "$REPO" serve --listen "127.0.0.1:$PORT" --token-file "$TOKENS"
PGPITR=$SAVED
rm "$WORK/upgrade/pgpitr"
printf '#!/bin/sh\nexit 99\n' >"$WORK/upgrade/pgpitr"   # what now lies at the path
chmod 755 "$WORK/upgrade/pgpitr"
BASE=http://127.0.0.1:$PORT
CURL_EXTRA=()
http GET /api/v1/info "$RO"
expect 200 "GET /api/v1/info after the binary was replaced"
assert_eq 2 "$(jr .schema_version)" "info from the server's own file"
serve_stop old
log "ok"
