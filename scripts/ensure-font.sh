#!/usr/bin/env bash
# The 受理回执 and 退费凭证 PDFs embed an installed CJK font (web/documents_pdf.py): Debian's
# fonts-wqy-microhei. Installs it when missing (as root, or through sudo); never downloads a
# font file. Without it the PDF routes answer 503 pdf.font_missing.
set -u
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" && exit 0
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing fonts-wqy-microhei for the PDF receipts"
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || {
  echo "could not install fonts-wqy-microhei: PDF receipts will answer 503 until a CJK font is installed (or SIREFUND_PDF_FONT names one)" >&2
  exit 0
}
