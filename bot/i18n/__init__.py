"""Two languages, English and Simplified Chinese: the translator (``core``) and its catalogs (``zh_cn``)."""

from bot.i18n.core import (
    CHINESE,
    ENGLISH,
    N_,
    SUPPORTED,
    CatalogTranslator,
    Locale,
    LocaleResolver,
    Text,
    field_name,
    language_of,
    supported_language,
    t,
)

__all__ = [
    "CHINESE",
    "ENGLISH",
    "N_",
    "SUPPORTED",
    "CatalogTranslator",
    "Locale",
    "LocaleResolver",
    "Text",
    "field_name",
    "language_of",
    "supported_language",
    "t",
]
