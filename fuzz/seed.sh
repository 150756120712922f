#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the real bodies in tests/fixtures (the seeds are committed;
# run again after adding fixtures). New inputs found while fuzzing are not written here: .ci/fuzz
# gives libFuzzer a scratch corpus directory and reads these seeds alongside it.
set -euo pipefail
cd "$(dirname "$0")"
fx=../tests/fixtures
rm -rf corpus
mkdir -p corpus/{telegram_update,bitrix24_event_form,bitrix24_event_json,bitrix24_card,api_bodies,amocrm_webhook}

# amoCRM webhook bodies as posted (one line).
for f in "$fx"/amocrm/raw-*.form.txt; do
  tr -d '\r\n' <"$f" >"corpus/amocrm_webhook/$(basename "$f")"
done

cp "$fx"/telegram/update_*.json "$fx"/telegram/telegram_update_*.json corpus/telegram_update/

# Form bodies as the portal posts them (one line, no trailing newline).
for f in "$fx"/bitrix24/raw-*.form.txt; do
  tr -d '\r\n' <"$f" >"corpus/bitrix24_event_form/$(basename "$f")"
done
cp "$fx"/bitrix24/event-*.json corpus/bitrix24_event_json/
# The JSON events form-encoded too (PHP bracket keys), when python3 is there to do it.
if command -v python3 >/dev/null 2>&1; then
  for f in "$fx"/bitrix24/event-*.json; do
    python3 - "$f" >"corpus/bitrix24_event_form/$(basename "$f" .json).form.txt" <<'PY'
import json, sys, urllib.parse
def flat(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items(): flat(f"{prefix}[{k}]" if prefix else k, x, out)
    elif isinstance(v, list):
        for i, x in enumerate(v): flat(f"{prefix}[{i}]" if prefix else str(i), x, out)
    elif v is not None:
        out.append((prefix, v if isinstance(v, str) else json.dumps(v)))
out = []
flat("", json.load(open(sys.argv[1])), out)
sys.stdout.write(urllib.parse.urlencode(out))
PY
  done
fi

cp "$fx"/bitrix24/crm.lead.get-response.json "$fx"/bitrix24/crm.lead.list-response.json \
  "$fx"/bitrix24/batch-response.json corpus/bitrix24_card/

# The API has no recorded bodies: the shapes the integration tests post.
api=corpus/api_bodies
printf '%s' '{"source":"site","external_id":"f-1","channel":"webchat","name":"Ольга","text":"Здравствуйте"}' >$api/create_lead.json
printf '%s' '{"source":"crm","external_id":"42","channel":"phone","phone":"+7 916 111-22-33","segment":"A"}' >$api/create_lead_phone.json
printf '%s' '{"text":"+79161112233","message_id":"m-1"}' >$api/post_message.json
printf '%s' '{"title":"Ремонт стиральной машины","conditions":"м. Сокол","pay":"3000 ₽","client_name":"Ирина","client_phone":"+79161112233","manager_id":"1"}' >$api/deal_job.json
echo "seeded: $(find corpus -type f | wc -l) files"
