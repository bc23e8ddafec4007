"""app3: a page that knows nothing of OpenID Connect.

It sits behind nginx with the forward-auth snippets (nginx/forward-auth/) and greets the user
nginx names in Remote-User, listing Remote-Groups. Standard library only.

    python3 app3/app3.py --port 9003 [--bind 127.0.0.1]

It must be reachable only through nginx: it believes the Remote-* headers it is given.
"""

import argparse
import html
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    server_version = "app3"

    def do_GET(self):  # noqa: N802 (the standard library's name)
        if self.path == "/health":
            self.reply(200, "text/plain; charset=utf-8", b"ok\n")
            return
        user = self.headers.get("Remote-User", "")
        name = self.headers.get("Remote-Name", "") or user
        groups = [g for g in self.headers.get("Remote-Groups", "").split(",") if g]
        items = "".join(f"<li>{html.escape(g)}</li>" for g in groups) or "<li>(none)</li>"
        body = (
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>app3</title></head><body>"
            f"<h1>Hello, {html.escape(name)}</h1>"
            f"<p>Signed in as <code id=\"user\">{html.escape(user)}</code>.</p>"
            f"<h2>Your groups</h2><ul id=\"groups\">{items}</ul>"
            "<p><a href=\"/_sso/sign-out\">Sign out</a></p>"
            "</body></html>"
        )
        self.reply(200, "text/html; charset=utf-8", body.encode("utf-8"))

    def reply(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9003)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    print(f"app3 listening on {args.bind}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
