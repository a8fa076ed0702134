"""User-typed text (reviewer names, notes, class names, dataset names, values from the URL) shown as typed.

Streamlit renders Markdown in st.markdown/st.write/st.caption/st.info/..., widget labels, metric values and
image captions: a note with `![x](http://host/beacon)` in it would make every reviewer's browser fetch that
URL. Pass such text through `md_escape` before it goes into Markdown, or show it with st.text:

    st.caption(f"Reviewing as {md_escape(name)}")
"""
from __future__ import annotations

import re

# CommonMark: a backslash makes any ASCII punctuation character literal. These are the ones that start
# inline syntax anywhere in a line (links, images, HTML, emphasis, code, tables, entities) or Streamlit's own
# (:red[..], :material/icon:, $latex$). "-", ".", "/" and the like stay as they are (run ids, dataset names).
_INLINE = re.compile(r"([\\`*_{}\[\]()<>#!|~$:&^])")
# GitHub's autolinks are found in the text after escapes are resolved, so escaping cannot stop them: an
# invisible word joiner (U+2060) after "http", "https" or "www" and before "@" breaks the patterns instead.
_AUTOLINK = re.compile(r"(https?(?=:)|www(?=\.)|(?=@))", re.IGNORECASE)
WORD_JOINER = "\u2060"
# ...and these only where they open a block: a list ("- ", "+ ", "1. "), a heading or a quote.
_BLOCK_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")


def md_escape(text) -> str:
    """`text` as a Markdown string that shows exactly those characters: no link, image, HTML or formatting
    (a URL or an email address in it is not made a link: see _AUTOLINK).

    Line breaks become spaces: names and notes are one line, and a newline must not start a Markdown block."""
    one_line = re.sub(r"[\r\n]+", " ", str(text))
    escaped = _INLINE.sub(r"\\\1", _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, one_line))
    return _BLOCK_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2).isdigit()
                                                    else m.group(2) + "\\"), escaped, count=1)
