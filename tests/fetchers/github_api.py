#!/usr/bin/env python3
"""A small stand-in for GitHub for the GitHub App tests: the API endpoints an
installation token takes, and git over https for the tokens it issued, on one
TLS port.

  github_api.py --port P --app-id ID --public-key PEM --cert CRT --key KEY --git-root DIR

API (under /api/v3, as GitHub Enterprise Server serves it):
  POST /api/v3/app/installations/{id}/access_tokens   201 {token, expires_at}
  GET  /api/v3/orgs/{owner}/installation              {id}   (owner org-<id>)
  GET  /api/v3/users/{owner}/installation             {id}   (owner user-<id>)
Each needs `Authorization: Bearer <JWT>`: RS256, verified with the app's
public key (PyJWT + cryptography), `iss` the app ID, `iat` not in the future,
`exp` not passed and at most 10 minutes after `iat` (GitHub's rules); else
401 with GitHub's message. Installations 1000-1999 exist; others are 404.
Tokens are random and live an hour.

Git: /git/<repo>.git/... runs git http-backend on DIR for basic auth
`x-access-token:<a token issued here, not expired>`; anything else is 401.

GET /_fake/stats: what was asked, by installation ID (JSON), for the tests
to count token requests.
"""
import argparse
import base64
import collections
import datetime
import http.server
import json
import os
import re
import secrets
import ssl
import subprocess
import threading
import time

import jwt

DOCS = "https://docs.github.com/rest"
LOCK = threading.Lock()
STATS = collections.defaultdict(collections.Counter)
TOKENS = {}  # token -> (expires at, installation)


def count(what, installation):
    with LOCK:
        STATS[what][str(installation)] += 1


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fake-github"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def app_jwt(self):
        """None when the request's JWT is the app's and valid, else the reason."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return "A JSON web token could not be decoded"
        token = auth[len("Bearer "):]
        try:
            claims = jwt.decode(
                token,
                self.server.public_key,
                algorithms=["RS256"],
                options={"require": ["exp", "iat", "iss"], "verify_iss": False},
            )
        except jwt.ExpiredSignatureError:
            return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
        except jwt.ImmatureSignatureError:
            return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        except jwt.PyJWTError:
            return "A JSON web token could not be decoded"
        if str(claims["iss"]) != self.server.app_id:
            return "'Issuer' claim ('iss') must be an Integer"
        if claims["exp"] - claims["iat"] > 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def do_GET(self):
        if self.path == "/_fake/stats":
            with LOCK:
                return self.reply(200, {k: dict(v) for k, v in STATS.items()})
        m = re.fullmatch(r"/api/v3/(orgs|users)/([^/]+)/installation", self.path)
        if m:
            return self.lookup(m.group(1), m.group(2))
        if self.path.startswith("/git/"):
            return self.git()
        self.reply(404, {"message": "Not Found", "documentation_url": DOCS})

    def do_POST(self):
        m = re.fullmatch(r"/api/v3/app/installations/(\d+)/access_tokens", self.path)
        if m:
            return self.access_token(int(m.group(1)))
        if self.path.startswith("/git/"):
            return self.git()
        self.reply(404, {"message": "Not Found", "documentation_url": DOCS})

    def lookup(self, kind, owner):
        count(f"{kind}_lookups", owner)
        why = self.app_jwt()
        if why:
            return self.reply(401, {"message": why, "documentation_url": DOCS})
        prefix = "org-" if kind == "orgs" else "user-"
        if owner.startswith(prefix) and owner[len(prefix):].isdigit():
            installation = int(owner[len(prefix):])
            if 1000 <= installation < 2000:
                return self.reply(200, {"id": installation, "account": {"login": owner}})
        self.reply(404, {"message": "Not Found", "documentation_url": DOCS})

    def access_token(self, installation):
        self.body()
        why = self.app_jwt()
        if why:
            count("rejected", installation)
            return self.reply(401, {"message": why, "documentation_url": DOCS})
        if not 1000 <= installation < 2000:
            count("not_found", installation)
            return self.reply(404, {"message": "Not Found", "documentation_url": DOCS})
        count("access_tokens", installation)
        token = "ghs_" + secrets.token_urlsafe(27)
        expires = time.time() + 3600
        with LOCK:
            TOKENS[token] = (expires, installation)
        at = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
        self.reply(201, {
            "token": token,
            "expires_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"contents": "read", "metadata": "read"},
            "repository_selection": "all",
        })

    def git(self):
        user, password = "", ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                pass
        with LOCK:
            expires, installation = TOKENS.get(password, (0, None))
        if user != "x-access-token" or expires < time.time():
            self.body()
            return self.reply(401, {"message": "Bad credentials"},
                              [("WWW-Authenticate", 'Basic realm="GitHub"')])
        count("git", installation)
        path, _, query = self.path[len("/git"):].partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.git_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        data = self.body()
        env["CONTENT_LENGTH"] = str(len(data))
        out = subprocess.run([self.server.backend], input=data, env=env,
                             capture_output=True, check=False).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        if not _:
            head, _, rest = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)


def main():
    p = argparse.ArgumentParser()
    for name in ["port", "app-id", "public-key", "cert", "key", "git-root"]:
        p.add_argument("--" + name, required=True)
    a = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(a.port)), Handler)
    server.app_id = a.app_id
    with open(a.public_key, "rb") as f:
        server.public_key = f.read()
    server.git_root = a.git_root
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                               check=True).stdout.strip()
    server.backend = os.path.join(exec_path, "git-http-backend")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
