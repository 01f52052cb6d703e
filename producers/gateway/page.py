"""The citizen's survey page, its thank-you page and its error pages, as plain HTML.

The HTML is in Jinja2 templates with autoescape on (``templates/``: ``base.html`` the
frame, ``survey.html``, ``message.html``, ``_macros.html`` the text and scale blocks,
``page.css`` and ``page.js``); this module holds the texts in both languages and fills
the templates. Every text is escaped, the texts embedded for the script go through
``|tojson`` (``<`` as ``\\u003c``, so no ``</script>`` can end the block).

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
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hailong.questionnaire import Questionnaire
from hailong.templating import environment

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


def _fill(text: str, values: Mapping[str, Any]) -> str:
    """A text with its ``{name}`` placeholders filled (the script does the same)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


_ENV = environment(Path(__file__).parent / "templates")
_ENV.filters["fill"] = _fill
# |tojson (the texts for the script, data-vars) keeps Vietnamese readable; it still
# escapes <, >, & and ' so the JSON is safe inside <script> and single-quoted attributes.
_ENV.policies["json.dumps_kwargs"] = {"ensure_ascii": False}


def _render(
    template: str,
    lang: str,
    title_key: str,
    nonce: str,
    q: Questionnaire | None = None,
    **context: Any,
) -> str:
    dictionary = _dictionary(q)
    return _ENV.get_template(template).render(
        lang=lang,
        other="en" if lang == "vi" else "vi",
        texts=dictionary[lang],
        dictionary=dictionary,
        title_key=title_key,
        nonce=nonce,
        q=q,
        **context,
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
    values = values or {}
    return _render(
        "survey.html",
        lang,
        "title",
        nonce,
        q,
        token=token,
        office_id=office_id,
        office=office_label or office_id,
        values=values,
        overall=overall,
        comment=comment or "",
        banner=banner,
        answered=sum(1 for code in values if code in q.criterion_codes),
    )


def message_page(kind: str, lang: str, nonce: str, *, ok: bool = False, **values: Any) -> str:
    """A page with one message: ``kind`` is ``thanks``, ``used``, ``expired``, ..."""
    return _render("message.html", lang, f"{kind}_title", nonce, kind=kind, ok=ok, values=values)
