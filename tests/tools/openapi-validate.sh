#!/usr/bin/env bash
# openapi-validate.sh FILE: validates an OpenAPI 3 description (YAML or JSON) against the
# OpenAPI specification's schema and resolves every $ref, with @apidevtools/swagger-parser
# (Debian 12 packages no OpenAPI validator). The parser is installed once with npm, at the
# version pinned below, into build/openapi-validator of this checkout (OPENAPI_VALIDATOR_DIR
# overrides); an flock keeps two tests from installing it at the same time.
# Exit 0: valid; 1: invalid (the reason on stderr); 2: the validator could not be installed.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 FILE" >&2; exit 2; }
file=$(realpath "$1")
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${OPENAPI_VALIDATOR_DIR:-$top/build/openapi-validator}
version=10.1.1
mkdir -p "$dir"
(
    flock 9
    if [ ! -f "$dir/node_modules/@apidevtools/swagger-parser/package.json" ] ||
       ! grep -q "\"version\": \"$version\"" "$dir/node_modules/@apidevtools/swagger-parser/package.json"; then
        npm install --silent --no-audit --no-fund --no-save --prefix "$dir" \
            "@apidevtools/swagger-parser@$version" >&2 ||
            { echo "openapi-validate: cannot install @apidevtools/swagger-parser@$version with npm" >&2; exit 2; }
    fi
) 9>"$dir/.lock"
node -e '
const SwaggerParser = require(process.argv[1] + "/node_modules/@apidevtools/swagger-parser");
SwaggerParser.validate(process.argv[2])
    .then(() => process.exit(0))
    .catch((e) => { console.error("invalid OpenAPI description: " + e.message); process.exit(1); });
' "$dir" "$file"
