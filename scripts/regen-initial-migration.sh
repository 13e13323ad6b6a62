#!/usr/bin/env bash
# While nothing has shipped, the schema lives in one initial revision regenerated from models.py.
# Once a release is out, add new date-prefixed revisions instead of running this.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/*_0001_initial_schema.py
mv migrations/versions/*_0002_*.py "$tmp/"
SIREFUND_DATABASE_URL="sqlite:///$tmp/gen.db" .venv/bin/alembic revision --autogenerate -m "initial schema" --rev-id 0001 >/dev/null
mv "$tmp"/*_0002_*.py migrations/versions/
rm -rf "$tmp"
echo "regenerated: $(ls migrations/versions/*_0001_*)"
