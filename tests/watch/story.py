"""What the watch tests share: a small story in articles (a city's budget and a football cup
before, a first report and a correction of who repairs the bridge, a bakery that has nothing to
do with it) and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import article

QUESTION = "Which firm will lead the Springfield bridge repair?"
BASE = [
    article("City council approves budget", "The city council of Springfield approved a budget "
            "of 40 million dollars on Monday. The vote was 7 to 2.", published_at="2024-03-01",
            source="springfield.example", url="https://springfield.example/budget"),
    article("Local team wins cup", "The Springfield Rovers won the regional football cup on "
            "Sunday, beating Shelbyville 2-1.", published_at="2024-03-02",
            source="sports.example", url="https://sports.example/cup"),
]
UNRELATED = article("Bakery opens downtown", "A new bakery opened downtown on Tuesday, selling "
                    "sourdough bread and pastries.", published_at="2024-03-03",
                    source="food.example", url="https://food.example/bakery")
REPORT = article("Engineering firm picked for Springfield bridge repair", "Springfield picked "
                 "the engineering firm Acme Works to lead the repair of the Main Street bridge, "
                 "the mayor said on Wednesday. The repair will take six months.",
                 published_at="2024-03-04", source="springfield.example",
                 url="https://springfield.example/bridge")
CORRECTION = article("Beta Builders, not Acme Works, will lead Springfield bridge repair",
                     "Springfield said on Thursday that Beta Builders, not Acme Works, will lead "
                     "the repair of the Main Street bridge. An earlier report named the wrong "
                     "firm.", published_at="2024-03-05", source="news.example",
                     url="https://news.example/bridge-correction")



class Receiver:
    """An HTTP receiver on 127.0.0.1 answering each POST with ``status`` after ``delay``
    seconds (a 302 to ``/elsewhere`` for status 302), keeping every body and path."""

    def __init__(self, status: int = 204, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size))
                with me.lock:
                    me.posts.append((self.path, body))
                time.sleep(me.delay)
                self.send_response(me.status)
                if me.status == 302:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
