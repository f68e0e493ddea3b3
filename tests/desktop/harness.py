"""Helpers of the desktop end-to-end tests (tests/desktop/e2e.py): loopback HTTP, waiting,
screenshots, the app's environment and processes, X11 windows, and the mock upstream.
Environment: see e2e.py."""

import ctypes
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

APP = os.environ["SWITCHBOARD_APP_BIN"]
MOCK = os.environ["SWITCHBOARD_MOCK_BIN"]
TAURI_DRIVER = os.environ["SWITCHBOARD_TAURI_DRIVER"]
NATIVE_DRIVER = os.environ.get("SWITCHBOARD_NATIVE_DRIVER", "/usr/bin/WebKitWebDriver")
ARTIFACTS = os.environ["SWITCHBOARD_ARTIFACTS"]

# Loopback only, never through a proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(message):
    print(f"[desktop-e2e] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def http(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with HTTP.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_until(what, check, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def screen_shot(name):
    """The whole X screen (window and tray), as a user would see it."""
    path = os.path.join(ARTIFACTS, f"{name}.png")
    # WebKit repaints the X window a moment after the DOM changes (software rendering under
    # Xvfb): without a pause the screen shows the previous state.
    time.sleep(0.8)
    subprocess.run(["import", "-window", "root", path], check=True)
    log(f"screenshot {path}")
    return path


def config_text(listen, mock_url=None):
    text = f'[server]\nlisten = "{listen}"\n'
    if mock_url:
        text += (
            f'\n[providers.mock]\napi = "openai"\nbase_url = "{mock_url}/v1"\n'
            '\n[models."gpt-4o-mini"]\nprovider = "mock"\nmodel = "mock-small"\n'
        )
    return text


def app_env(tmp, config):
    path = os.path.join(tmp, "config.toml")
    with open(path, "w") as f:
        f.write(config)
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ)
    env.update(
        SWITCHBOARD_CONFIG=path,
        SWITCHBOARD_DATA_DIR=os.path.join(tmp, "data"),
        # The app's log dir lives under XDG_DATA_HOME; the login item ("start at login") goes to
        # $HOME/.config/autostart whatever XDG_CONFIG_HOME says, so the app gets its own HOME
        # (only the app and its WebDriver: the test runner keeps the real one).
        XDG_DATA_HOME=os.path.join(tmp, "xdg-data"),
        XDG_CONFIG_HOME=os.path.join(tmp, "xdg-config"),
        HOME=home,
        SWITCHBOARD_LOG="info",
    )
    return env


def process_tree(pid):
    """pid and all its descendants (the WebKit web and network processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def memory_kib(pid, field):
    source = "status" if field == "VmRSS" else "smaps_rollup"
    try:
        with open(f"/proc/{pid}/{source}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def visible_windows(name_regex):
    out = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name_regex],
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


class MockUpstream:
    def __init__(self):
        self.proc = subprocess.Popen(
            [MOCK, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise AssertionError(f"mock-upstream did not start: {line!r}")
        self.url = match.group(1)

    def requests(self):
        status, body = http("GET", f"{self.url}/_mock/requests")
        assert status == 200, body
        return json.loads(body)

    def stop(self):
        stop_process(self.proc)


def read(path):
    with open(path) as f:
        return f.read()


def window_name(window):
    return subprocess.run(["xdotool", "getwindowname", window], capture_output=True, text=True).stdout.strip()


def close_like_a_window_manager(window):
    """Sends WM_DELETE_WINDOW to an X window, as a window manager does when its close button is
    clicked (Xvfb runs none). Plain Xlib through ctypes: no extra dependency."""
    x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                    ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
                    ("data", ctypes.c_long * 5)]

    class Event(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(Event)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    if not display:
        raise AssertionError("cannot open the X display")
    try:
        event = Event()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        event.xclient.data[1] = 0  # CurrentTime
        if not x11.XSendEvent(display, window, 0, 0, ctypes.byref(event)):
            raise AssertionError(f"XSendEvent to window {window} failed")
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)


def stop_process(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def quit_driver(driver):
    try:
        driver.quit()
    except Exception as err:  # the windows may be closed already (test_6)
        log(f"ending the WebDriver session: {err.__class__.__name__}")


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def app_pid(config_path):
    """The app process started (by WebKitWebDriver) with this config."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and comm(int(entry)) == "switchboard-app":
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if f"SWITCHBOARD_CONFIG={config_path}".encode() in f.read().split(b"\0"):
                        return int(entry)
            except OSError:
                pass
    raise AssertionError("cannot find the app's process")


