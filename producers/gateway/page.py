"""The citizen's survey page, its thank-you page and its error pages, as plain HTML.

Mobile first (usable from 360 px wide), Vietnamese by default with an English toggle,
and self-contained: CSS and JS are inline (allowed by a per-response CSP nonce), there
are no fonts, images or scripts from anywhere else, so the page works on a phone
with a poor connection or behind an office network without internet.

Without JS the page is a plain HTML form: 5-point radio groups (``required``, so the
browser itself asks for every criterion), an optional overall score and an optional
comment, POSTed to the same URL; the language toggle is then a link (``?lang=en``).
With JS the toggle switches the texts in place (answers stay), a counter shows the
progress and the submit button is disabled while sending.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from hailong.questionnaire import Questionnaire

LANGS = ("vi", "en")

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "toggle": "English",
        "brand": "Khảo sát sự hài lòng",
        "intro": "Xin ông/bà vui lòng đánh giá mức độ hài lòng với từng tiêu chí dưới "
        "đây, từ 1 (Rất không hài lòng) đến 5 (Rất hài lòng).",
        "office": "Cơ quan: {office}",
        "anonymous": "Phiếu khảo sát ẩn danh và chỉ gửi được một lần.",
        "overall": "Đánh giá chung về sự hài lòng (không bắt buộc)",
        "comment": "Góp ý thêm (không bắt buộc)",
        "comment_hint": "Tối đa 1000 ký tự. Xin đừng ghi thông tin cá nhân như họ tên, "
        "số điện thoại, số định danh cá nhân.",
        "chars": "{n}/1000 ký tự",
        "progress": "Đã trả lời {n}/{total} tiêu chí",
        "submit": "Gửi đánh giá",
        "sending": "Đang gửi…",
        "thanks_title": "Cảm ơn ông/bà!",
        "thanks_body": "Đánh giá của ông/bà đã được ghi nhận. Ý kiến của ông/bà giúp cơ "
        "quan phục vụ người dân tốt hơn.",
        "malformed_title": "Mã QR không hợp lệ",
        "malformed_body": "Đường dẫn này không phải là một phiếu khảo sát hợp lệ. Vui lòng "
        "quét lại mã QR trên phiếu hẹn.",
        "forged_title": "Mã QR không hợp lệ",
        "forged_body": "Mã QR này không do hệ thống cấp hoặc đã bị sửa đổi, nên không thể "
        "dùng để gửi đánh giá.",
        "expired_title": "Mã QR đã hết hạn",
        "expired_body": "Phiếu khảo sát chỉ dùng được trong thời hạn cho phép. Ông/bà có "
        "thể xin mã mới tại bộ phận một cửa.",
        "used_title": "Phiếu khảo sát đã được gửi",
        "used_body": "Mỗi mã QR chỉ dùng để gửi đánh giá một lần. Cảm ơn ông/bà đã đánh giá.",
        "office_title": "Phiếu không khớp với cơ quan",
        "office_body": "Phiếu khảo sát này được cấp cho một cơ quan khác. Vui lòng quét "
        "lại mã QR trên phiếu hẹn.",
        "invalid_banner": "Một số câu trả lời không hợp lệ, vui lòng kiểm tra lại: {what}",
        "unavailable_banner": "Hệ thống tạm thời chưa ghi nhận được đánh giá. Câu trả lời "
        "của ông/bà vẫn còn trên trang này; vui lòng bấm “Gửi đánh "
        "giá” lại sau ít phút.",
        "too_large_title": "Nội dung gửi quá lớn",
        "too_large_body": "Nội dung gửi vượt quá giới hạn cho phép. Vui lòng rút ngắn góp "
        "ý rồi gửi lại.",
        "rate_title": "Quá nhiều yêu cầu",
        "rate_body": "Có quá nhiều yêu cầu từ địa chỉ của ông/bà. Vui lòng thử lại sau {s} giây.",
        "rescan": "Quét lại mã QR",
    },
    "en": {
        "toggle": "Tiếng Việt",
        "brand": "Satisfaction survey",
        "intro": "Please rate how satisfied you are with each statement below, from 1 "
        "(very dissatisfied) to 5 (very satisfied).",
        "office": "Office: {office}",
        "anonymous": "The survey is anonymous and can be submitted only once.",
        "overall": "Your overall satisfaction (optional)",
        "comment": "Further comments (optional)",
        "comment_hint": "At most 1000 characters. Please do not write personal data such "
        "as your name, phone number or ID number.",
        "chars": "{n}/1000 characters",
        "progress": "{n} of {total} statements answered",
        "submit": "Submit",
        "sending": "Sending…",
        "thanks_title": "Thank you!",
        "thanks_body": "Your answers have been recorded. They help the office serve "
        "citizens better.",
        "malformed_title": "Invalid QR code",
        "malformed_body": "This link is not a valid survey. Please scan the QR code on "
        "your ticket again.",
        "forged_title": "Invalid QR code",
        "forged_body": "This QR code was not issued by the system or has been altered, so "
        "it cannot be used to submit a survey.",
        "expired_title": "This QR code has expired",
        "expired_body": "A survey can only be filled in within its validity period. You "
        "can ask for a new code at the one-stop office.",
        "used_title": "This survey was already submitted",
        "used_body": "Each QR code can be used to submit the survey once. Thank you for "
        "your feedback.",
        "office_title": "The survey does not match the office",
        "office_body": "This survey was issued for another office. Please scan the QR "
        "code on your ticket again.",
        "invalid_banner": "Some answers are not valid; please check: {what}",
        "unavailable_banner": "We could not record your answers just now. They are still "
        "on this page; please press “Submit” again in a few "
        "minutes.",
        "too_large_title": "Submission too large",
        "too_large_body": "What was sent is larger than allowed. Please shorten your "
        "comment and submit again.",
        "rate_title": "Too many requests",
        "rate_body": "There were too many requests from your address. Please try again in "
        "{s} seconds.",
        "rescan": "Scan the QR code again",
    },
}

CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,
sans-serif;color:#1b1f24;background:#f3f5f7}
header{display:flex;justify-content:space-between;align-items:center;gap:8px;
padding:10px 14px;background:#a31515;color:#fff}
header b{font-size:16px}
header a{color:#fff;border:1px solid #fff;border-radius:16px;padding:4px 12px;
text-decoration:none;font-size:14px;white-space:nowrap}
main{max-width:640px;margin:0 auto;padding:12px}
h1{font-size:20px;line-height:1.3;margin:6px 0 8px}
h2{font-size:17px;margin:22px 0 8px;color:#a31515}
p{margin:6px 0}
.note{color:#56616c;font-size:14px}
.q{border:0;margin:0 0 10px;padding:12px;background:#fff;border-radius:10px;
box-shadow:0 1px 2px rgba(0,0,0,.1);min-width:0}
.q legend{float:left;width:100%;padding:0;margin:0 0 8px}
.q.missing{box-shadow:0 0 0 2px #d93025}
.scale{clear:both;display:flex;gap:6px}
.opt{flex:1 1 0;position:relative;min-width:0}
.opt input{position:absolute;left:50%;bottom:0;opacity:0;width:1px;height:1px;margin:0;
pointer-events:none}
.dot{display:flex;align-items:center;justify-content:center;height:46px;
border:2px solid #c3cad1;border-radius:10px;font-weight:600;font-size:18px;
background:#fff;cursor:pointer;user-select:none}
.opt input:checked+.dot{background:#a31515;border-color:#a31515;color:#fff}
.opt input:focus-visible+.dot{outline:3px solid #1a5fb4;outline-offset:2px}
.ends{display:flex;justify-content:space-between;gap:8px;font-size:12px;color:#56616c;
margin-top:4px}
.ends span:last-child{text-align:right}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
white-space:nowrap}
label.block{display:block;font-weight:600;margin:0 0 6px}
textarea{display:block;width:100%;min-height:120px;font:inherit;padding:8px;
border:1px solid #c3cad1;border-radius:8px;resize:vertical}
.bar{position:sticky;bottom:0;background:#f3f5f7;padding:8px 0 12px}
button{width:100%;padding:14px;font:inherit;font-size:18px;font-weight:600;
background:#a31515;color:#fff;border:0;border-radius:10px;cursor:pointer}
button[disabled]{opacity:.6}
.banner{padding:12px;border-radius:8px;background:#fdeceb;color:#8a1c12;margin:8px 0}
.card{background:#fff;border-radius:10px;padding:16px;margin-top:12px;
box-shadow:0 1px 2px rgba(0,0,0,.1)}
.ok{color:#1e7a34}
"""

JS = """
(function(){
var T=JSON.parse(document.getElementById('i18n').textContent);
var html=document.documentElement,lang=html.lang;
function fmt(s,v){return s.replace(/\\{(\\w+)\\}/g,function(m,k){return k in v?v[k]:m;});}
function vars(el){try{return JSON.parse(el.getAttribute('data-vars')||'{}');}
catch(e){return {};}}
function apply(){
  var d=T[lang];
  document.querySelectorAll('[data-t]').forEach(function(el){
    var k=el.getAttribute('data-t');if(k in d){el.textContent=fmt(d[k],vars(el));}});
  html.lang=lang;
  var other=lang==='vi'?'en':'vi',a=document.getElementById('lang');
  a.setAttribute('href','?lang='+other);a.setAttribute('hreflang',other);
  var h=document.querySelector('input[name=lang]');if(h){h.value=lang;}
}
document.getElementById('lang').addEventListener('click',function(e){
  e.preventDefault();lang=lang==='vi'?'en':'vi';apply();
  try{history.replaceState(null,'',location.pathname+'?lang='+lang);}catch(x){}
});
var form=document.getElementById('survey');
if(!form){return;}
var groups=form.querySelectorAll('fieldset[data-q]'),prog=document.getElementById('progress');
function count(){
  var n=0;groups.forEach(function(g){
    if(g.querySelector('input:checked')){n++;g.classList.remove('missing');}});
  prog.setAttribute('data-vars',JSON.stringify({n:n,total:groups.length}));
  prog.textContent=fmt(T[lang].progress,{n:n,total:groups.length});
}
form.addEventListener('change',count);
form.addEventListener('invalid',function(e){
  var g=e.target.closest('fieldset[data-q]');if(g){g.classList.add('missing');}},true);
var c=form.querySelector('textarea'),cc=document.getElementById('chars');
function chars(){cc.setAttribute('data-vars',JSON.stringify({n:c.value.length}));
  cc.textContent=fmt(T[lang].chars,{n:c.value.length});}
c.addEventListener('input',chars);
form.addEventListener('submit',function(){
  var b=form.querySelector('button[type=submit]');b.disabled=true;
  b.textContent=T[lang].sending;b.setAttribute('data-t','sending');});
count();chars();
})();
"""


@cache
def scale_labels(questionnaire_id: str) -> dict[str, list[str]]:
    """The 5 labels of a questionnaire's scale, per language (from its JSON file)."""
    folder = resources.files("hailong") / "data" / "questionnaires"
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text("utf-8"))
            if data.get("id") == questionnaire_id:
                return dict(data["scale"]["labels"])
    raise KeyError(questionnaire_id)


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "vi"


def _dictionary(q: Questionnaire | None) -> dict[str, dict[str, str]]:
    """Every text the page may show, per language (embedded for the JS toggle)."""
    out = {lang: dict(TEXTS[lang]) for lang in LANGS}
    if q is not None:
        labels = scale_labels(q.id)
        for lang in LANGS:
            d = out[lang]
            d["title"] = q.title[lang]
            for i, label in enumerate(labels[lang], start=1):
                d[f"s.{i}"] = label
            for a in q.aspects:
                d[f"a.{a.code}"] = a.title[lang]
                for c in a.criteria:
                    d[f"c.{c.code}"] = c.text[lang]
    return out


class _Page:
    """Builds one page in one language; every text carries ``data-t`` for the toggle."""

    def __init__(self, lang: str, q: Questionnaire | None = None) -> None:
        self.lang = lang
        self.dictionary = _dictionary(q)

    def t(self, key: str, tag: str = "span", attrs: str = "", **values: Any) -> str:
        text = self.dictionary[self.lang][key]
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        data_vars = (
            f" data-vars='{escape(json.dumps(values, ensure_ascii=False))}'" if values else ""
        )
        return f'<{tag} data-t="{key}"{data_vars}{attrs}>{escape(text)}</{tag}>'

    def render(self, title_key: str, body: str, nonce: str) -> str:
        d = self.dictionary
        embedded = json.dumps(d, ensure_ascii=False).replace("<", "\\u003c")
        other = "en" if self.lang == "vi" else "vi"
        title = escape(d[self.lang][title_key])
        return (
            f'<!doctype html>\n<html lang="{self.lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f'<title data-t="{title_key}">{title}</title>\n'
            f'<style nonce="{nonce}">{CSS}</style>\n</head>\n<body>\n'
            f'<header>{self.t("brand", "b")}<a id="lang" href="?lang={other}" '
            f'hreflang="{other}" data-t="toggle">{escape(d[self.lang]["toggle"])}</a></header>\n'
            f"<main>\n{body}\n</main>\n"
            f'<script type="application/json" id="i18n">{embedded}</script>\n'
            f'<script nonce="{nonce}">{JS}</script>\n</body>\n</html>\n'
        )


def survey_page(
    q: Questionnaire,
    token: str,
    office_id: str,
    lang: str,
    nonce: str,
    *,
    values: dict[str, int] | None = None,
    overall: int | None = None,
    comment: str | None = None,
    banner: tuple[str, dict[str, Any]] | None = None,
    office_label: str | None = None,
) -> str:
    """The questionnaire as a form; ``values``/``overall``/``comment`` pre-fill it (after
    a refused submission) and ``banner`` is a message key with its values;
    ``office_label``: the office as the citizen knows it (its name from the registry,
    with its id), default the id."""
    page = _Page(lang, q)
    values = values or {}
    total = len(q.criterion_codes)
    parts = [page.t("title", "h1")]
    if banner is not None:
        parts.append(page.t(banner[0], "div", ' class="banner" role="alert"', **banner[1]))
    parts += [
        page.t("intro", "p"),
        page.t("office", "p", ' class="note"', office=office_label or office_id),
        page.t("anonymous", "p", ' class="note"'),
        f'<form id="survey" method="post" action="/s/{escape(token)}" accept-charset="utf-8">',
        f'<input type="hidden" name="office_id" value="{escape(office_id)}">',
        f'<input type="hidden" name="lang" value="{lang}">',
    ]

    def radios(name: str, chosen: int | None, required: bool) -> str:
        opts = []
        for v in range(1, 6):
            checked = " checked" if chosen == v else ""
            req = " required" if required else ""
            label = page.t(f"s.{v}", "span", ' class="sr"')
            opts.append(
                f'<label class="opt"><input type="radio" name="{name}" value="{v}"'
                f'{checked}{req}><span class="dot" aria-hidden="true">{v}</span>'
                f"{label}</label>"
            )
        ends = f'<div class="ends" aria-hidden="true">{page.t("s.1")}{page.t("s.5")}</div>'
        return f'<div class="scale">{"".join(opts)}</div>{ends}'

    for n, aspect in enumerate(q.aspects, start=1):
        parts.append(f"<h2>{n}. {page.t(f'a.{aspect.code}')}</h2>")
        for c in aspect.criteria:
            parts.append(
                f'<fieldset class="q" data-q id="q-{c.code}"><legend><b>{c.code}.</b> '
                f"{page.t(f'c.{c.code}')}</legend>"
                f"{radios(c.code, values.get(c.code), True)}</fieldset>"
            )
    parts.append(f'<h2 id="h-overall">{page.t("overall")}</h2>')
    parts.append(
        f'<fieldset class="q" id="q-overall" aria-labelledby="h-overall">'
        f"{radios('overall', overall, False)}</fieldset>"
    )
    parts.append(f'<h2><label for="comment">{page.t("comment")}</label></h2>')
    parts.append(page.t("comment_hint", "p", ' class="note"'))
    parts.append(
        f'<textarea id="comment" name="comment" maxlength="1000" rows="5">'
        f"{escape(comment or '')}</textarea>"
    )
    parts.append(page.t("chars", "p", ' class="note" id="chars"', n=len(comment or "")))
    parts.append('<div class="bar">')
    parts.append(
        page.t(
            "progress",
            "p",
            ' class="note" id="progress" aria-live="polite"',
            n=sum(1 for code in values if code in q.criterion_codes),
            total=total,
        )
    )
    parts.append(page.t("submit", "button", ' type="submit"'))
    parts.append("</div></form>")
    return page.render("title", "\n".join(parts), nonce)


def message_page(kind: str, lang: str, nonce: str, *, ok: bool = False, **values: Any) -> str:
    """A page with one message: ``kind`` is ``thanks``, ``used``, ``expired``, ..."""
    page = _Page(lang)
    cls = ' class="ok"' if ok else ""
    body = (
        f'<div class="card">{page.t(f"{kind}_title", "h1", cls)}'
        f"{page.t(f'{kind}_body', 'p', '', **values)}</div>"
    )
    return page.render(f"{kind}_title", body, nonce)
