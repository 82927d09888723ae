"""``disentangle explore``: a latent explorer served to the browser from a run folder.

The page shows one slider per latent dimension, sorted by decreasing KL (or code
variance, see ``latent_order``); every move decodes the current latent vector on the
server with the run's weights. A button starts from the code of a random dataset
image, and the dimension under the cursor shows its traversal strip: the current
vector decoded with that one dimension swept across its slider's range.

Slider range of dimension j: [−3, 3] (the prior's ±3σ), widened where needed to
the 1st–99th percentile of z_j over the codes of the 1,024 images that also rank
the dimensions (rounded out to 0.5), so an autoencoder's codes stay reachable.

Only the standard library serves it. Routes (anything else is 404; nothing is read
from disk after start-up):

``GET /``                          the page, ``static/explorer.html`` (inline script and style, no external address)
``GET /api/info``                  JSON: run, step, model, data, latent_dim, order, score, low, high, ...
``GET /api/decode?z=Z``            PNG: the decoded image of Z, ``latent_dim`` comma-separated numbers
``GET /api/traversal?z=Z&dim=J``   PNG: ``TRAVERSAL_COLUMNS`` decodings of Z with z_J swept over its range
``GET /api/random[?seed=S]``       JSON: ``{"index": i, "z": [...]}``, the code of a random dataset image
``GET /api/observation?index=I``   PNG: dataset image I

A malformed parameter is answered 400 with a one-line ``text/plain`` message. A
connection idle for ``IDLE_TIMEOUT_S`` seconds is closed; beyond ``MAX_CONNECTIONS``
at once, new ones are answered 503; a client that disconnects is normal and prints
nothing; stopping does not wait for requests in flight.
"""

from __future__ import annotations

import io
import ipaddress
import json
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import torch

from disentangle.errors import InputError
from disentangle.train import Run, load_run
from disentangle.viz.traversal import (
    aggregate_posterior_values,
    latent_order,
    sample_observations,
    tile_images,
    traverse_codes,
)

#: images encoded at start-up to rank the dimensions and size the sliders
RANKING_IMAGES = 1024
#: the slider range always covers [-PRIOR_RANGE, PRIOR_RANGE]
PRIOR_RANGE = 3.0
#: images in a traversal strip
TRAVERSAL_COLUMNS = 10
#: seconds a connection may stay idle (or send its request that slowly) before it is closed
IDLE_TIMEOUT_S = 10
#: connections served at once; more are answered 503
MAX_CONNECTIONS = 32
_TEXT = "text/plain; charset=utf-8"
_BUSY_TEXT = b"busy: too many connections; retry\n"
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT)
)


def parse_code(text: str, latent_dim: int) -> torch.Tensor:
    """The latent vector ``(1, latent_dim)`` written in ``text`` as comma-separated numbers.

    Raises ``InputError`` with a one-line message unless ``text`` holds exactly
    ``latent_dim`` numbers, each finite as a 32-bit float.
    """
    parts = text.split(",") if text.strip() else []
    if len(parts) != latent_dim:
        raise InputError(f"z: expected {latent_dim} comma-separated numbers, got {len(parts)}")
    values = []
    for position, part in enumerate(parts):
        try:
            values.append(float(part))
        except ValueError:
            raise InputError(f"z[{position}]: {part[:20]!r} is not a number") from None
    code = torch.tensor([values], dtype=torch.float32)
    not_finite = (~torch.isfinite(code[0])).nonzero()
    if len(not_finite):
        position = int(not_finite[0])
        raise InputError(f"z[{position}]: {parts[position][:20]!r} is not a finite 32-bit number")
    return code


def _integer(text: str, name: str, low: int, high: int) -> int:
    """``text`` as an integer in [low, high], else ``InputError``."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InputError(f"{name}: expected an integer in [{low}, {high}], got {text[:20]!r}")
    return value


def _png(images: torch.Tensor) -> bytes:
    """``(N, C, H, W)`` images in [0, 1] → one PNG, side by side with white gutters (none for one image)."""
    buffer = io.BytesIO()
    tile_images(images, 1, len(images), pad=0 if len(images) == 1 else 2).save(buffer, format="PNG")
    return buffer.getvalue()


class Explorer:
    """What the page asks of a loaded run; every model call holds one lock.

    ``order`` lists the dimensions by decreasing ``score`` (KL in nats, or code
    variance for models without a posterior); ``low`` and ``high`` are the slider
    range of each dimension, indexed by dimension.
    """

    def __init__(self, run: Run, seed: int = 0):
        self.run = run
        self.lock = threading.Lock()
        self.order, self.score = latent_order(run.model, run.dataset, num=RANKING_IMAGES, seed=seed)
        with torch.no_grad():
            codes = run.model.encode(sample_observations(run.dataset, RANKING_IMAGES, seed)).numpy()
        spread = aggregate_posterior_values(codes, num=2)
        self.low = np.minimum(-PRIOR_RANGE, np.floor(spread[:, 0] * 2) / 2)
        self.high = np.maximum(PRIOR_RANGE, np.ceil(spread[:, 1] * 2) / 2)

    @property
    def latent_dim(self) -> int:
        return self.run.model.latent_dim

    def info(self) -> dict:
        """Everything the page needs to build its sliders, JSON-serialisable."""
        config = self.run.config
        return {
            "run": self.run.path.name,
            "step": self.run.step,
            "model": config["model"]["name"],
            "data": config["data"]["name"],
            "latent_dim": self.latent_dim,
            "order": self.order.tolist(),
            "score": self.score.tolist(),
            "score_name": "KL (nats)" if self.run.model.capabilities.gaussian_posterior else "variance",
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "observation_shape": list(self.run.dataset.observation_shape),
        }

    def decode(self, code: torch.Tensor) -> bytes:
        """PNG of the expected image of ``code`` ``(1, latent_dim)``."""
        with self.lock, torch.no_grad():
            image = self.run.model.likelihood.mean(self.run.model.decode(code))
        return _png(image)

    def traversal(self, code: torch.Tensor, dimension: int) -> bytes:
        """PNG strip: ``code`` ``(1, latent_dim)`` decoded with ``dimension`` swept over its slider range."""
        values = np.linspace(self.low[dimension], self.high[dimension], TRAVERSAL_COLUMNS)[None, :]
        with self.lock:
            strip = traverse_codes(self.run.model, code, values, dimensions=[dimension])
        return _png(strip.flatten(0, 2))

    def random_code(self, seed: int | None = None) -> dict:
        """``{"index": i, "z": code}`` for dataset image i drawn with ``seed`` (fresh entropy if None)."""
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        index = self.run.dataset.sample_indices(1, generator)
        with self.lock, torch.no_grad():
            code = self.run.model.encode(self.run.dataset.observations(index))[0]
        return {"index": int(index[0]), "z": code.tolist()}

    def observation(self, index: int) -> bytes:
        """PNG of dataset image ``index``."""
        with self.lock:
            return _png(self.run.dataset.observations([index]))


class _Handler(BaseHTTPRequestHandler):
    """Answers the routes of the module docstring; the request target must match a route exactly."""

    server: ExplorerServer
    server_version = "disentangle-explore"
    #: the socket timeout of every read and write: an idle or slow client is dropped
    timeout = IDLE_TIMEOUT_S
    ROUTES = {
        "/": "_page",
        "/api/info": "_info",
        "/api/decode": "_decode",
        "/api/traversal": "_traversal",
        "/api/random": "_random",
        "/api/observation": "_observation",
    }

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if not self.server.accepts_host(self.headers.get("Host", "")):
            self._send(403, _TEXT, b"forbidden: the Host header does not name this machine's loopback address")
            return
        # Split by hand: urlsplit would read an absolute-URL target "http://host/" as the route "/".
        route, _, query = self.path.partition("?")
        if route not in self.ROUTES:
            self._send(404, _TEXT, f"not found: {route[:100]}".encode())
            return
        try:
            status, content_type, body = getattr(self, self.ROUTES[route])(query)
        except InputError as error:
            status, content_type, body = 400, _TEXT, str(error).encode()
        except Exception as error:  # a bug: answer 500 and keep serving
            self.log_error("%s", traceback.format_exc())
            status, content_type, body = 500, _TEXT, f"internal error: {error!r}".encode()
        self._send(status, content_type, body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code="-", size="-") -> None:
        """Silent: a slider move is many requests. Errors are still logged to stderr."""

    def log_error(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
        """Errors go to stderr, but for a client that timed out, which is its own business."""
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)

    @staticmethod
    def _parameters(query: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
        """The query's parameters by name: each ``required`` one once, ``optional`` ones at most once."""
        known = required + optional
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name not in known:
                raise InputError(f"unknown parameter {name[:20]!r} (expected {', '.join(known) or 'none'})")
            if name in parameters:
                raise InputError(f"{name}: given more than once")
            parameters[name] = value
        for name in required:
            if name not in parameters:
                raise InputError(f"{name}: missing")
        return parameters

    def _page(self, query: str):
        self._parameters(query, ())
        return 200, "text/html; charset=utf-8", self.server.page

    def _info(self, query: str):
        self._parameters(query, ())
        return 200, "application/json", json.dumps(self.server.explorer.info()).encode()

    def _decode(self, query: str):
        explorer = self.server.explorer
        code = parse_code(self._parameters(query, ("z",))["z"], explorer.latent_dim)
        return 200, "image/png", explorer.decode(code)

    def _traversal(self, query: str):
        explorer = self.server.explorer
        parameters = self._parameters(query, ("z", "dim"))
        code = parse_code(parameters["z"], explorer.latent_dim)
        dimension = _integer(parameters["dim"], "dim", 0, explorer.latent_dim - 1)
        return 200, "image/png", explorer.traversal(code, dimension)

    def _random(self, query: str):
        seed = self._parameters(query, (), ("seed",)).get("seed")
        seed = None if seed is None else _integer(seed, "seed", 0, 2**63 - 1)
        return 200, "application/json", json.dumps(self.server.explorer.random_code(seed)).encode()

    def _observation(self, query: str):
        explorer = self.server.explorer
        text = self._parameters(query, ("index",))["index"]
        index = _integer(text, "index", 0, len(explorer.run.dataset) - 1)
        return 200, "image/png", explorer.observation(index)


class ExplorerServer(ThreadingHTTPServer):
    """The explorer's HTTP server, bound on creation; ``serve_forever`` starts answering."""

    daemon_threads = True
    #: closing the server does not wait for the requests in flight
    block_on_close = False

    def __init__(self, address: tuple[str, int], explorer: Explorer):
        super().__init__(address, _Handler)
        self.explorer = explorer
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        #: the page, read once from the package data ``static/explorer.html``
        self.page = resources.files("disentangle.viz").joinpath("static", "explorer.html").read_bytes()

    def process_request(self, request, client_address) -> None:
        """Serve the connection in a thread of its own, or answer 503 when every slot is taken."""
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a closed tab, a reload) is normal: say nothing."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def accepts_host(self, host_header: str) -> bool:
        """Whether a request addressed to ``host_header`` is answered.

        Bound to a loopback address, the server answers only requests that name a
        loopback host (``127.0.0.1``, ``localhost``, ``[::1]``), so a web page that
        rebinds its own domain name to 127.0.0.1 cannot read the decoded images. Bound
        elsewhere (``--host 0.0.0.0``, chosen by the user), any host is answered.
        """
        if not ipaddress.ip_address(self.server_address[0]).is_loopback:
            return True
        name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        return name.strip("[]").lower() in {"127.0.0.1", "localhost", "::1"}


def make_server(run: str | Path, host: str = "127.0.0.1", port: int = 0, seed: int = 0) -> ExplorerServer:
    """Load ``run`` and bind its explorer to ``host:port`` (port 0: a free one); see ``.url``.

    ``seed`` picks the images that rank the dimensions and size the sliders. Raises
    ``InputError`` for a bad run folder or an address it cannot listen on.
    """
    if not 0 <= port <= 65535:
        raise InputError(f"--port: expected 0 (any free port) to 65535, got {port}")
    explorer = Explorer(load_run(run), seed=seed)
    try:
        return ExplorerServer((host, port), explorer)
    except OSError as error:
        raise InputError(f"--host {host} --port {port}: cannot listen ({error.strerror or error})") from None


_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'"
)
