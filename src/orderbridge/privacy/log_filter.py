"""A logging filter that masks buyer PII and SP-API tokens before any handler writes a record (R15, AC-5).

It masks the values of known PII keys in structured records (``extra=``, dict arguments, ``key=value``
and ``"key": value`` in messages) and e-mail-like and phone-like strings anywhere, including formatted
tracebacks. Amazon order ids and ISO dates are kept. A name in free prose cannot be recognised: log ids,
statuses and counts, never buyer fields (DPP §3.8); the filter is the safety net.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "[masked]"

# Compared after lower-casing and dropping everything but letters and digits: "Buyer-Name" -> "buyername".
_PII_KEYS = frozenset(
    {
        "name", "firstname", "lastname", "fullname", "middlename", "surname", "givenname", "familyname",
        "buyername", "recipientname", "shipname", "billname", "deliveryname", "contactname", "customername",
        "companyname", "buyercompanyname", "buyer", "buyerinfo", "shipto", "billto", "postalcode", "postcode",
        "zip", "zipcode", "ip", "ipaddress", "geolocation", "notes", "note", "buyernote", "customizedurl",
        "deliveryinstructions", "taxregistrationid", "buyertaxinfo", "vatnumber", "paymentdetails",
        "cardnumber", "surveyanswers", "refreshtoken", "accesstoken", "clientsecret", "authorization",
        "xamzaccesstoken", "password", "restricteddatatoken",
    }
)  # fmt: skip
_PII_KEY_PARTS = ("email", "phone", "address", "street", "giftmessage", "giftwrap", "secret", "token")

_ORDER_ID = r"\b\d{3}-\d{7}-\d{7}\b"  # Amazon order ids stay readable (P3)
_ISO_TIME = r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_KEEP = rf"{_ORDER_ID}|{_ISO_TIME}"
_TOKEN = r"\bAtz[a-z.]*\|[\w\-|=.+/]+"
_QUOTED = r"\"[^\"]*\"|'[^']*'"
_BARE = r"[^,;}\]\n]*?(?=\s+[A-Za-z_][\w-]*\s*[=:]|[,;}\]\n]|$)"
# The look-behinds let a match start only at the start of a word: linear time on long runs of letters.
_PAIR = rf"(?P<key>(?P<q>[\"']?)(?<![\w-])[A-Za-z][\w-]*(?P=q)\s*[:=]\s*)(?P<value>{_QUOTED}|{_BARE})"
_EMAIL = r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_PHONE = r"(?<![\w.])\+?\(?\d[\d\s()-]{5,}\d(?![\w])"
_PATTERN = re.compile(
    rf"(?P<keep>{_KEEP})|(?P<token>{_TOKEN})|(?P<email>{_EMAIL})|{_PAIR}|(?P<phone>{_PHONE})", re.MULTILINE
)
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def is_pii_key(key: str) -> bool:
    """Whether a field or key name holds buyer PII (or a credential)."""
    folded = re.sub(r"[^a-z0-9]", "", key.lower())
    return folded in _PII_KEYS or any(part in folded for part in _PII_KEY_PARTS)


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    formatted = text.startswith(("+", "(")) or any(ch in text for ch in " -()")
    # No upper bound: a phone run together with other numbers is still masked (fail closed).
    return digits >= 7 and (formatted or digits >= 10)


def _replace(match: re.Match[str]) -> str:
    if match["keep"]:
        return match["keep"]
    if match["token"] or match["email"]:
        return MASK
    if match["phone"] is not None:
        return MASK if _is_phone(match["phone"]) else match["phone"]
    key_name = match["key"].strip(" \t\"':=")
    if is_pii_key(key_name):
        value = match["value"]
        quote = value[0] if value[:1] in {'"', "'"} else ""
        return f"{match['key']}{quote}{MASK}{quote}"
    return match["key"] + mask_text(match["value"])


def mask_text(text: str) -> str:
    """Mask e-mail-like, phone-like and token strings and the values of PII keys in free text."""
    return _PATTERN.sub(_replace, text)


def looks_like_pii(text: str) -> bool:
    """Whether `text` holds something `mask_text` would mask."""
    return mask_text(text) != text


def holds_contact_details(text: str) -> bool:
    """Whether `text` holds an e-mail address, a formatted phone number or a PII ``key=value``.

    Stricter than `looks_like_pii` about digits: a bare run of digits (an id, a hash) passes. Used to refuse
    PII where code, not people, writes the text (audit entries, incident summaries).
    """
    for match in _PATTERN.finditer(text):
        if match["email"] or match["token"]:
            return True
        phone = match["phone"]
        if phone is not None and _is_phone(phone) and not phone.isdigit():
            return True
        if match["key"] is not None and is_pii_key(match["key"].strip(" \t\"':=")):
            return True
        if match["key"] is not None and holds_contact_details(match["value"]):
            return True
    return False


def mask_value(key: str, value: Any) -> Any:
    """Mask one structured value: everything under a PII key, and PII-looking strings elsewhere."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if is_pii_key(key):
        return MASK
    if isinstance(value, Mapping):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value("", item) for item in value]
    return mask_text(str(value))


def mask_record(record: logging.LogRecord) -> None:
    """Mask a log record in place: message and arguments, extra attributes, traceback and stack."""
    if isinstance(record.args, Mapping):
        record.args = mask_value("", record.args)
    elif record.args:
        record.args = tuple(
            mask_value("", arg) if isinstance(arg, Mapping | list | tuple) else arg for arg in record.args
        )
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):  # a bad format string must not crash the caller
        message = f"{record.msg} (arguments did not fit the format)"
    record.msg = mask_text(message)
    record.args = None
    for key in [k for k in record.__dict__ if k not in _STANDARD]:
        record.__dict__[key] = mask_value(key, record.__dict__[key])
    if record.exc_info:
        record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # formatters print exc_text; nothing re-renders the raw exception
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


class PiiFilter(logging.Filter):
    """Masks PII in every record it sees; never drops a record. Masking twice changes nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_INSTALLED: dict[str, PiiFilter] = {}


def install_pii_filter() -> PiiFilter:
    """Mask PII in every record of every logger: at record creation, and on the root logger's handlers.

    Filters on a logger do not see records propagated from child loggers, so the filter also wraps the
    log-record factory; the handlers' filter then catches ``extra=`` fields, which are set after the
    factory runs. Handlers added to the root logger later need ``handler.addFilter(...)``. Idempotent.
    """
    if "filter" not in _INSTALLED:
        pii_filter = _INSTALLED["filter"] = PiiFilter()
        factory = logging.getLogRecordFactory()

        def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = factory(*args, **kwargs)
            pii_filter.filter(record)
            return record

        logging.setLogRecordFactory(masked_record)
    installed = _INSTALLED["filter"]
    root = logging.getLogger()
    for target in (root, *root.handlers):
        if installed not in target.filters:
            target.addFilter(installed)
    return installed
