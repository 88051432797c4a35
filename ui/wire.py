"""What crosses the network: cache headers and compression for what the page loads, so that a
class on one Wi-Fi fetches the runtime and a model once, compressed, and a reload fetches nothing again.

- Files whose path names their content (the vendored runtime's folder is its version, an ONNX file's folder
  the weights' hash) never change: `Cache-Control: public, max-age=31536000, immutable` (IMMUTABLE), and
  their pre-compressed copies beside them (`precompress`: NAME.br, NAME.gz) are sent in their place when
  the browser accepts that encoding.
- Every other file Gradio serves with an ETag gets `no-cache`: the browser keeps it and asks each time,
  and an unchanged file is answered 304 with no body.
- HTML and JSON answers (the page itself; the server functions' data, which the page POSTs for) are
  compressed as they go out.

Why a middleware on Gradio's own FastAPI app (`launch(app_kwargs={"middleware": [...]})`, ui/server.py) and not
our own server or a proxy: `python app.py` stays the one command, and every request still goes through
Gradio's file route, so its checks (allowed paths, --auth) hold for the compressed copies too; the middleware
only picks which file that route sends (it rewrites NAME to NAME.br) and fixes the headers of its answer.
Why pre-compressed copies for the large files: brotli at its best takes 40 s for the 14 MB runtime (made
once, at vendoring time: tools/vendor_onnxruntime_web.sh) and on the fly would cost each student's request
CPU time; an ONNX file's copies take ~0.1-0.3 s, once, when the page first asks for its address
(ui/runtime.py). Gradio's own middleware compresses .js/.css/.json paths on the fly (brotli, quality 4)
and lets an answer that is already encoded through.
"""
from __future__ import annotations

import gzip
import mimetypes
from collections.abc import Sequence
from pathlib import Path

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.store.weights import atomic_write

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"                       # keep it, but ask: an unchanged file costs a 304
FILE_ROUTE = "/gradio_api/file="
COPIES = (("br", ".br"), ("gzip", ".gz"))     # in order of preference
ON_THE_FLY = {"text/html", "application/json"}   # answers that have no file extension for Gradio's middleware
MIN_SIZE = 1024                               # smaller answers go as they are
BROTLI_ON_THE_FLY = 5                         # ~10 ms for the largest JSON answer (a model's atlas, 1 MB)


def precompress(path: str | Path, quality: int = 11) -> list[Path]:
    """Write PATH.br (brotli at `quality`) and PATH.gz (gzip -9) beside a file that never changes (a
    versioned or hash-keyed path), once: existing copies are kept. Returns the copies."""
    path = Path(path)
    data = None
    out = []
    for _, ext in COPIES:
        copy = path.with_name(path.name + ext)
        if not copy.is_file():
            data = path.read_bytes() if data is None else data
            packed = brotli.compress(data, quality=quality) if ext == ".br" else gzip.compress(data, 9, mtime=0)
            atomic_write(copy, lambda tmp, b=packed: Path(tmp).write_bytes(b))
        out.append(copy)
    return out


def accepted(header: str) -> set[str]:
    """The encodings an Accept-Encoding header accepts (those with q=0 refused)."""
    out = set()
    for part in header.split(","):
        name, *params = [p.strip() for p in part.split(";")]
        if name and not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            out.add(name.lower())
    return out


def etag_matches(if_none_match: str | None, etag: str | None) -> bool:
    if not if_none_match or not etag:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag.removeprefix("W/") in tags or "*" in tags


class WireMiddleware:
    """Pure ASGI middleware: immutable caching and pre-compressed copies for files under `immutable`,
    revalidation (no-cache, 304) for other files, HTML and JSON compressed on the fly."""

    def __init__(self, app: ASGIApp, immutable: Sequence[str | Path] = ()) -> None:
        self.app = app
        self.immutable = [str(Path(p).resolve()) for p in immutable]

    def is_immutable(self, file: str) -> bool:
        resolved = str(Path(file).resolve())
        return any(resolved == d or resolved.startswith(d.rstrip("/") + "/") for d in self.immutable)

    def copy_for(self, file: str, accepts: set[str]) -> tuple[str | None, str]:
        """(encoding, the file to send): a pre-compressed copy the browser accepts, else (None, file)."""
        for encoding, ext in COPIES:
            if encoding in accepts and Path(file + ext).is_file():
                return encoding, file + ext
        return None, file

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = Headers(scope=scope)
        accepts = accepted(req.get("accept-encoding", ""))
        path, encoding, immutable = scope["path"], None, False
        if scope["method"] in ("GET", "HEAD") and path.startswith(FILE_ROUTE):
            file = path[len(FILE_ROUTE):]
            immutable = self.is_immutable(file)
            if immutable and "range" not in req:
                encoding, sent = self.copy_for(file, accepts)
                if encoding:                    # Gradio's route sends NAME.br in place of NAME, checks and all
                    new = FILE_ROUTE + sent
                    scope = dict(scope, path=new, raw_path=new.encode())
                    kind = mimetypes.guess_type(file)[0] or "application/octet-stream"
        answer = _Answer(send, req, accepts, IMMUTABLE if immutable else None, scope["method"] in ("GET", "HEAD"))
        if encoding:
            answer.encoded = (encoding, kind)
        await self.app(scope, receive, answer.send)


class _Answer:
    """One response on its way out: headers fixed at its start, a 304 in place of an unchanged file, a
    small HTML or JSON body compressed."""

    def __init__(self, send: Send, req: Headers, accepts: set[str], cache: str | None, read: bool) -> None:
        self._send, self.req, self.accepts, self.cache, self.read = send, req, accepts, cache, read
        self.encoded: tuple[str, str] | None = None
        self.start: Message | None = None       # held until the first body message (to compress it)
        self.swallow = False                    # a 304 was sent: drop the file's body

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self.on_start(message)
        elif message["type"] == "http.response.body":
            if self.swallow:
                return
            if self.start is not None:
                message = self.compress(message)
                start, self.start = self.start, None
                await self._send(start)
            await self._send(message)
        else:
            await self._send(message)

    async def on_start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        if message["status"] != 200:
            await self._send(message)
            return
        if self.encoded:
            encoding, kind = self.encoded
            headers["content-encoding"] = encoding
            headers["content-type"] = kind
            headers["content-disposition"] = "inline"
            headers.add_vary_header("Accept-Encoding")
        if self.cache:
            headers["cache-control"] = self.cache
        elif self.read and "etag" in headers and "cache-control" not in headers:
            headers["cache-control"] = REVALIDATE
        if self.read and etag_matches(self.req.get("if-none-match"), headers.get("etag")):
            keep = {k: headers[k] for k in ("etag", "cache-control", "vary") if k in headers}
            self.swallow = True
            await self._send({"type": "http.response.start", "status": 304,
                              "headers": [(k.encode(), v.encode()) for k, v in keep.items()]})
            await self._send({"type": "http.response.body", "body": b""})
            return
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ON_THE_FLY and "content-encoding" not in headers and self.accepts & {"br", "gzip"}:
            self.start = message                # decided at the first body
            return
        await self._send(message)

    def compress(self, message: Message) -> Message:
        """The first body message, compressed when it is the whole body and worth it (headers fixed)."""
        body = message.get("body", b"")
        if message.get("more_body", False) or len(body) < MIN_SIZE:
            return message
        headers = MutableHeaders(scope=self.start)
        if "br" in self.accepts:
            packed, encoding = brotli.compress(body, quality=BROTLI_ON_THE_FLY), "br"
        else:
            packed, encoding = gzip.compress(body, 6, mtime=0), "gzip"
        headers["content-encoding"] = encoding
        headers["content-length"] = str(len(packed))
        headers.add_vary_header("Accept-Encoding")
        return {**message, "body": packed}
