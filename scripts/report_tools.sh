#!/usr/bin/env bash
# The system packages the reports need: DejaVu fonts (Cyrillic in the PDF reports, engine/process/report_pdf.py) and
# poppler-utils (pdftoppm: the tests render the PDF to PNG and look at it). Installs what is missing with apt-get.
# `--warn` (make run): say what is missing and go on — the app still serves DOCX; without it (make services,
# make test) fail loudly.
set -u
mode=${1:-strict}
missing=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Для отчётов не хватает пакетов: ${missing[*]} — устанавливаю…"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
     || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }; then
    exit 0
  fi
fi
message="пакеты ${missing[*]} не установлены (apt-get install -y ${missing[*]}): отчёты в PDF недоступны"
if [ "$mode" = "--warn" ]; then
  echo "ПРЕДУПРЕЖДЕНИЕ: $message" >&2
  exit 0
fi
echo "ОШИБКА: $message" >&2
exit 1
