"""Text files (CSV, TSV, JSON lines): opened decompressed, and their bad bytes and rows
located by offset and line."""

from __future__ import annotations

import codecs
from typing import Any

from runstate.errors import InputError


def _text_stream(path: str) -> Any:
    import pyarrow as pa

    return pa.input_stream(path, compression="detect")


def _first_invalid_utf8(path: str) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not UTF-8, if any."""
    offset = 0  # of `carry` in the file
    lines = 1
    carry = b""
    with _text_stream(path) as stream:
        while True:
            chunk = stream.read(1 << 20)
            final = not chunk
            data = carry + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                cut_short = exc.end == len(data) and exc.start >= len(data) - 3
                if final or not cut_short:
                    lines += data.count(b"\n", 0, exc.start)
                    return offset + exc.start, lines, data[exc.start]
                # a character split between two reads: keep its first bytes for the next one
                lines += data.count(b"\n", 0, exc.start)
                offset += exc.start
                carry = data[exc.start :]
                continue
            if final:
                return None
            lines += data.count(b"\n")
            offset += len(data)
            carry = b""


def _encoding_error(path: str, encoding: str, *, hint: bool = True) -> InputError:
    if codecs.lookup(encoding).name != "utf-8":
        return InputError(f"{path}: cannot be decoded as {encoding}")
    advice = "; pass encoding= if the file uses another encoding" if hint else ""
    where = _first_invalid_utf8(path)
    if where is None:
        return InputError(f"{path}: not valid UTF-8 text{advice}")
    offset, line, value = where
    return InputError(
        f"{path}: not valid UTF-8 text: byte 0x{value:02x} at offset {offset} (line {line}){advice}"
    )


def _line_of_text(path: str, text: str) -> int | None:
    """The 1-based line on which a row with exactly ``text`` starts, searching the file."""
    needle = text.encode("utf-8", "surrogateescape")
    if not needle:
        return None
    lines = 1
    tail = b"\n"  # the file's start counts as the start of a line
    with _text_stream(path) as stream:
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                data, final = tail, True
            else:
                data, final = tail + chunk, False
            start = 0
            while True:
                found = data.find(b"\n" + needle, start)
                if found < 0:
                    break
                end = found + 1 + len(needle)
                after = data[end : end + 2]
                if end == len(data) and not final:
                    break  # the row may go on in the next chunk: look again with more data
                if after[:1] in (b"\n", b"") or after == b"\r\n" or after[:1] == b"\r":
                    return lines + data[:found].count(b"\n")
                start = found + 1
            if final:
                return None
            keep = len(needle) + 2
            cut = max(len(data) - keep, 1)
            lines += data[:cut].count(b"\n")
            tail = data[cut:]
