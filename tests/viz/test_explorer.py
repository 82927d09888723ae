"""The latent explorer: its HTTP routes answer what they promise, refuse what is malformed
with 400 and a one-line message, serve nothing outside the app, and the page works in a
real headless Chromium."""

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.train import train
from disentangle.viz.explorer import TRAVERSAL_COLUMNS, make_server, parse_code

ZEROS = ",".join(["0"] * 10)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A β-VAE trained for a few steps on the 8×8 digits (10 latents)."""
    return train(tmp_path_factory.mktemp("explore") / "run", "beta-vae", "digits", steps=4, batch_size=8,
                 progress=False)


@contextlib.contextmanager
def serving(run):
    """An explorer of ``run`` answering in a thread for the block."""
    server = make_server(run)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def server(run):
    with serving(run) as server:
        yield server


def _get(server, target: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of ``GET target`` through urllib."""
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + target, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _raw_get(server, target: str, host_header: str | None = None) -> tuple[int, bytes]:
    """(status, body) of ``GET target`` sent byte for byte, so no client normalises the target."""
    host, port = server.server_address[:2]
    host_header = f"{host}:{port}" if host_header is None else host_header
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(f"GET {target} HTTP/1.0\r\nHost: {host_header}\r\n\r\n".encode("latin-1"))
        reply = b"".join(iter(lambda: connection.recv(65536), b""))
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _z(values) -> str:
    return ",".join(str(float(v)) for v in values)


def _png(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def test_every_route_answers(server):
    info = json.loads(_get(server, "/api/info")[2])
    zeros = _z(np.zeros(info["latent_dim"]))
    for target, content_type in [
        ("/", "text/html; charset=utf-8"),
        ("/api/info", "application/json"),
        (f"/api/decode?z={zeros}", "image/png"),
        (f"/api/traversal?z={zeros}&dim=0", "image/png"),
        ("/api/random", "application/json"),
        ("/api/random?seed=1", "application/json"),
        ("/api/observation?index=0", "image/png"),
    ]:
        status, kind, _ = _get(server, target)
        assert (status, kind) == (200, content_type), target


def test_info_lists_dimensions_by_decreasing_kl_with_ranges_covering_the_prior(server):
    info = json.loads(_get(server, "/api/info")[2])
    assert info["latent_dim"] == 10 and info["step"] == 4 and info["observation_shape"] == [1, 8, 8]
    assert sorted(info["order"]) == list(range(10))
    ranked = [info["score"][dim] for dim in info["order"]]
    assert ranked == sorted(ranked, reverse=True) and info["score_name"] == "KL (nats)"
    assert all(low <= -3 and high >= 3 for low, high in zip(info["low"], info["high"]))


def test_the_page_is_self_contained(server):
    _, _, page = _get(server, "/")
    assert b"http://" not in page and b"https://" not in page
    assert b"<script src" not in page and b'rel="stylesheet"' not in page


def test_decode_gives_one_image_of_the_data_size_that_changes_with_z(server):
    latent_dim = server.explorer.latent_dim
    zero = _png(_get(server, f"/api/decode?z={_z(np.zeros(latent_dim))}")[2])
    three = _png(_get(server, f"/api/decode?z={_z(np.full(latent_dim, 3.0))}")[2])
    assert zero.size == (8, 8) and zero.mode == "L"
    assert np.abs(np.asarray(zero, np.int16) - np.asarray(three, np.int16)).max() > 0


def test_traversal_strip_sweeps_the_dimension_across_its_slider_range(server):
    explorer = server.explorer
    dim = int(explorer.order[0])
    code = np.linspace(-1, 1, explorer.latent_dim)
    strip = np.asarray(_png(_get(server, f"/api/traversal?z={_z(code)}&dim={dim}")[2]), np.int16)
    assert strip.shape == (8 + 4, TRAVERSAL_COLUMNS * (8 + 2) + 2)
    for column, value in [(0, explorer.low[dim]), (TRAVERSAL_COLUMNS - 1, explorer.high[dim])]:
        code[dim] = value
        single = np.asarray(_png(_get(server, f"/api/decode?z={_z(code)}")[2]), np.int16)
        left = 2 + column * (8 + 2)
        assert np.abs(strip[2:10, left : left + 8] - single).max() <= 1


def test_random_gives_the_code_of_a_dataset_image_reproducibly(server):
    first = json.loads(_get(server, "/api/random?seed=7")[2])
    assert first == json.loads(_get(server, "/api/random?seed=7")[2])
    assert 0 <= first["index"] < 1797 and len(first["z"]) == 10
    x = server.explorer.run.dataset.observations([first["index"]])
    with torch.no_grad():
        expected = server.explorer.run.model.encode(x)[0]
    np.testing.assert_allclose(first["z"], expected.numpy(), rtol=1e-6)


def test_concurrent_decodes_match_sequential_ones(server):
    codes = [_z(np.full(10, value)) for value in np.linspace(-3, 3, 8)]
    sequential = [_get(server, f"/api/decode?z={code}")[2] for code in codes]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda code: _get(server, f"/api/decode?z={code}")[2], codes))
    assert concurrent == sequential


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("", "z: missing"),
        ("z=", "expected 10 comma-separated numbers, got 0"),
        ("z=1,2,3", "expected 10 comma-separated numbers, got 3"),
        ("z=" + ",".join(["0"] * 11), "got 11"),
        ("z=nan" + ",0" * 9, "z[0]: 'nan' is not a finite"),
        ("z=0,inf" + ",0" * 8, "z[1]: 'inf' is not a finite"),
        ("z=0,0,-1e39" + ",0" * 7, "z[2]: '-1e39' is not a finite"),
        ("z=zero" + ",0" * 9, "z[0]: 'zero' is not a number"),
        ("z=1%0A2" + ",0" * 9, r"z[0]: '1\n2' is not a number"),
        ("z=0,,0,0,0,0,0,0,0,0", "z[1]: '' is not a number"),
        ("z=0&z=0", "z: given more than once"),
        ("z=0&scale=2", "unknown parameter 'scale'"),
    ],
)
def test_a_malformed_latent_vector_gets_400_with_a_one_line_message(server, query, fragment):
    status, kind, body = _get(server, f"/api/decode?{query}")
    message = body.decode()
    assert status == 400 and kind.startswith("text/plain")
    assert fragment in message and len(message.splitlines()) == 1


@pytest.mark.parametrize(
    "target, fragment",
    [
        (f"/api/traversal?z={ZEROS}&dim=10", "dim: expected an integer in [0, 9], got '10'"),
        (f"/api/traversal?z={ZEROS}&dim=-1", "dim: expected an integer in [0, 9]"),
        (f"/api/traversal?z={ZEROS}&dim=x", "dim: expected an integer"),
        (f"/api/traversal?z={ZEROS}", "dim: missing"),
        ("/api/traversal?z=1&dim=0", "z: expected 10 comma-separated numbers, got 1"),
        ("/api/observation?index=1797", "index: expected an integer in [0, 1796]"),
        ("/api/random?seed=-1", "seed: expected an integer"),
        ("/api/info?verbose=1", "unknown parameter 'verbose' (expected none)"),
    ],
)
def test_other_malformed_parameters_get_400_with_a_one_line_message(server, target, fragment):
    status, _, body = _get(server, target)
    assert status == 400 and fragment in body.decode() and len(body.decode().splitlines()) == 1


@pytest.mark.parametrize(
    "target",
    [
        "/../etc/passwd",
        "/../../../../etc/passwd",
        "/%2e%2e/",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
        "/etc/passwd",
        "/api/../../etc/passwd",
        "/api/info/../../../etc/passwd",
        "/./api/info",
        "/api/info/",
        "/index.html",
        "/..\\..\\etc\\passwd",
        "http://127.0.0.1/",
        "http://127.0.0.1/../etc/passwd",
        "file:///etc/passwd",
        "*",
    ],
)
def test_nothing_outside_the_app_is_served(server, target):
    status, body = _raw_get(server, target)
    assert status == 404 and b"root:" not in body


@pytest.mark.parametrize(
    ("host_header", "status"),
    [("localhost:8000", 200), ("127.0.0.1", 200), ("[::1]:9", 200), ("LOCALHOST", 200),
     ("evil.example:8000", 403), ("127.0.0.1.evil.example", 403), ("", 403), ("[::2]:80", 403)],
)
def test_only_requests_addressed_to_loopback_are_answered(server, host_header, status):
    """A page that rebinds its own domain to 127.0.0.1 (DNS rebinding) must not read the explorer."""
    assert _raw_get(server, "/api/info", host_header)[0] == status


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=12))
def test_parse_code_reads_back_every_finite_vector(values):
    code = parse_code(",".join(repr(v) for v in values), len(values))
    assert code.shape == (1, len(values)) and code.dtype == torch.float32
    assert code[0].tolist() == values


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(1, 4))
def test_parse_code_accepts_finite_vectors_or_says_in_one_line_what_is_wrong(text, latent_dim):
    try:
        code = parse_code(text, latent_dim)
    except InputError as error:
        assert str(error).startswith("z") and len(str(error).splitlines()) == 1
    else:
        assert code.shape == (1, latent_dim) and torch.isfinite(code).all()


def test_a_bad_run_folder_or_port_is_an_input_error(run, server, tmp_path):
    with pytest.raises(InputError, match="no such run folder"):
        make_server(tmp_path / "missing")
    with pytest.raises(InputError, match="--port: expected 0"):
        make_server(run, port=70000)
    with pytest.raises(InputError, match="cannot listen"):
        make_server(run, port=server.server_address[1])


def test_cli_rejects_a_bad_run_folder_in_one_line(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("disentangle explore: error:")


@pytest.mark.slow
def test_cli_serves_until_ctrl_c(run):
    # Ctrl-C's default restored: a suite started in the background (``cmd &``) hands its
    # children SIGINT ignored, and Python then installs no KeyboardInterrupt.
    process = subprocess.Popen(
        [sys.executable, "-m", "disentangle", "explore", str(run), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        announced = process.stdout.readline()
        url = announced.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/info", timeout=30) as response:
            assert json.load(response)["latent_dim"] == 10
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and out.strip() == "stopped" and err == ""


# --------------------------------------------------------------------------- a hostile client


IDLE_S = 2.0


@pytest.fixture
def guarded(run, monkeypatch):
    """A server that drops a connection idle for ``IDLE_S`` seconds and serves at most 3 at once."""
    from disentangle.viz import explorer

    monkeypatch.setattr(explorer, "MAX_CONNECTIONS", 3)
    monkeypatch.setattr(explorer._Handler, "timeout", IDLE_S)
    with serving(run) as server:
        yield server


def _connect(server) -> socket.socket:
    return socket.create_connection(server.server_address[:2], timeout=10)


def test_slow_clients_are_dropped_and_connections_beyond_the_cap_get_503(guarded, capsys):
    import time

    host, port = guarded.server_address[:2]
    idle = [_connect(guarded) for _ in range(3)]  # slowloris: connect, send half a request, wait
    for connection in idle:
        connection.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()  # wait until the server has accepted all three, however loaded the machine
    while guarded.slots._value and time.monotonic() - started < 30:
        time.sleep(0.005)
    with _connect(guarded) as extra:  # every slot is taken
        reply = b"".join(iter(lambda: extra.recv(65536), b""))
    assert reply.startswith(b"HTTP/1.0 503") and reply.endswith(b"busy: too many connections; retry\n")
    started = time.monotonic()
    for connection in idle:  # the server closes each idle connection after its timeout
        assert connection.recv(65536) == b"" and time.monotonic() - started < IDLE_S + 10
        connection.close()
    assert _raw_get(guarded, "/api/info", host_header=f"{host}:{port}")[0] == 200  # the slots are free again
    assert capsys.readouterr().err == ""  # timeouts are the client's business


def test_a_client_that_disconnects_mid_answer_prints_nothing(guarded, capsys):
    import time

    for _ in range(20):
        connection = _connect(guarded)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.sendall(f"GET /api/traversal?z={ZEROS}&dim=0 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        connection.close()  # reset before the strip is sent
    # Every handler meets its reset and gives its slot back; connections still in the listen
    # backlog may take a slot after the count looks free, and are answered "busy" meanwhile,
    # so ask until the server serves again.
    started, status = time.monotonic(), None
    while status != 200 and time.monotonic() - started < 30:
        while guarded.slots._value < 3 and time.monotonic() - started < 30:
            time.sleep(0.005)
        status = _raw_get(guarded, "/api/info")[0]
    assert status == 200
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium driven by its own chromedriver; nothing is downloaded."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _pixels(driver, element_id: str) -> list[int]:
    """The RGBA pixels of an <img> as the browser decoded them."""
    return driver.execute_script(
        """const img = document.getElementById(arguments[0]);
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const context = canvas.getContext("2d");
        context.drawImage(img, 0, 0);
        return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);""",
        element_id,
    )


def _slider_code(driver) -> str:
    """The latent vector the sliders show, as the page sends it (dimension order)."""
    return driver.execute_script(
        """const sliders = [...document.querySelectorAll("input[type=range]")];
        sliders.sort((a, b) => a.dataset.dim - b.dataset.dim);
        return sliders.map((slider) => String(Number(slider.value))).join(",");"""
    )


def _open(driver, server):
    from selenium.webdriver.common.by import By

    driver.get(server.url)
    _wait(driver, lambda d: d.find_element(By.ID, "decoded").get_attribute("data-z") is not None)
    assert driver.find_element(By.ID, "status").text == ""


def _severe_console_messages(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.browser
def test_in_the_browser_moving_a_slider_changes_the_decoded_image(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, server)
    sliders = browser.find_elements(By.CSS_SELECTOR, "input[type=range]")
    assert [int(s.get_attribute("data-dim")) for s in sliders] == server.explorer.order.tolist()
    decoded = browser.find_element(By.ID, "decoded")
    assert browser.execute_script("return arguments[0].naturalWidth", decoded) == 8
    before, opened_on = _pixels(browser, "decoded"), decoded.get_attribute("data-z")

    sliders[0].send_keys(Keys.END)
    dim, top = server.explorer.order[0], float(sliders[0].get_attribute("value"))
    assert top == server.explorer.high[server.explorer.order[0]]

    def decodes_the_moved_code(driver) -> bool:
        z = decoded.get_attribute("data-z")
        return z != opened_on and float(z.split(",")[dim]) == top

    _wait(browser, decodes_the_moved_code)
    assert _pixels(browser, "decoded") != before
    assert _severe_console_messages(browser) == []


@pytest.mark.browser
def test_in_the_browser_the_page_opens_on_a_dataset_image_with_no_empty_picture(browser, server):
    """The first load decodes the code of a random dataset image (not z = 0), shows that
    image and the first latent's strip, and no <img> is displayed without a picture."""
    from selenium.webdriver.common.by import By

    _open(browser, server)
    caption = browser.find_element(By.ID, "observation-caption")
    _wait(browser, lambda d: caption.is_displayed() and caption.text.startswith("dataset image"))
    index = int(caption.text.split()[-1])
    with torch.no_grad():
        expected = server.explorer.run.model.encode(server.explorer.run.dataset.observations([index]))[0].numpy()
    decoded = browser.find_element(By.ID, "decoded")
    _wait(browser, lambda d: decoded.get_attribute("data-z") != ZEROS)
    np.testing.assert_allclose([float(v) for v in decoded.get_attribute("data-z").split(",")], expected, rtol=1e-6)
    pixels = np.array(_pixels(browser, "decoded")).reshape(-1, 4)
    assert pixels[:, :3].max() > pixels[:, :3].min()  # not a blank square
    strip = browser.find_element(By.ID, "traversal")
    _wait(browser, lambda d: strip.get_attribute("data-dim") == str(server.explorer.order[0]))
    unfilled = browser.execute_script(
        """return [...document.images].filter((img) => img.offsetParent !== null
            && !(img.complete && img.naturalWidth > 0)).map((img) => img.id);""")
    assert unfilled == []
    assert _severe_console_messages(browser) == []


@pytest.mark.browser
def test_in_the_browser_pointing_at_a_slider_shows_its_traversal_strip(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _open(browser, server)
    dim = int(server.explorer.order[1])
    ActionChains(browser).move_to_element(browser.find_element(By.ID, f"z{dim}")).perform()
    strip = browser.find_element(By.ID, "traversal")
    _wait(browser, lambda d: strip.get_attribute("data-dim") == str(dim))
    assert browser.execute_script("return arguments[0].naturalWidth", strip) == TRAVERSAL_COLUMNS * (8 + 2) + 2
    assert f"z{dim} from" in browser.find_element(By.ID, "traversal-caption").text
    assert _severe_console_messages(browser) == []


@pytest.mark.browser
def test_in_the_browser_a_random_image_sets_the_sliders_to_its_code(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, server)
    caption = browser.find_element(By.ID, "observation-caption")
    _wait(browser, lambda d: caption.is_displayed() and caption.text.startswith("dataset image"))
    decoded = browser.find_element(By.ID, "decoded")
    opened_on = decoded.get_attribute("data-z")
    slider = browser.find_elements(By.CSS_SELECTOR, "input[type=range]")[0]
    slider.send_keys(Keys.END)  # away from any image's code, so that only the click brings one back
    _wait(browser, lambda d: decoded.get_attribute("data-z") != opened_on)
    browser.find_element(By.ID, "random").click()

    def decodes_the_captioned_image(driver) -> bool:
        index = int(caption.text.split()[-1])
        with torch.no_grad():
            expected = server.explorer.run.model.encode(server.explorer.run.dataset.observations([index]))[0].numpy()
        shown = [float(v) for v in decoded.get_attribute("data-z").split(",")]
        return np.allclose(shown, expected, rtol=1e-6, atol=0)

    _wait(browser, decodes_the_captioned_image)
    index = int(caption.text.split()[-1])
    with torch.no_grad():
        expected = server.explorer.run.model.encode(server.explorer.run.dataset.observations([index]))[0].numpy()
    shown = np.array([float(v) for v in _slider_code(browser).split(",")])
    inside = (expected >= server.explorer.low) & (expected <= server.explorer.high)
    np.testing.assert_allclose(shown[inside], expected[inside], atol=0.006)  # sliders step by 0.01
    assert _severe_console_messages(browser) == []
