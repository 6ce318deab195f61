"""A request body's media type, read alike by the JSON writes and the imports."""

UTF_8 = ("utf-8", "utf8")


def parse_content_type(header: str) -> tuple[str, list[str]]:
    """The media type (lowercase) and the charsets a Content-Type names."""
    media, *params = (part.strip() for part in header.lower().split(";"))
    charsets = [p.partition("=")[2].strip('" ') for p in params if p.startswith("charset")]
    return media, charsets


def is_json(media: str) -> bool:
    """JSON, or a type built on it (application/merge-patch+json)."""
    return media == "application/json" or media.endswith("+json")


def utf_8_only(charsets: list[str]) -> bool:
    return all(charset in UTF_8 for charset in charsets)
