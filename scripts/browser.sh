#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright's own browser download is not available here).
# Install it if it is missing; fail loudly if that is not possible.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "Chromium не найден — устанавливаю пакет chromium…"
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "ОШИБКА: нужен /usr/bin/chromium (apt-get install chromium), а установить его нельзя: нет прав root или apt-get" >&2
  exit 1
fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "ОШИБКА: chromium не установился" >&2; exit 1; }
