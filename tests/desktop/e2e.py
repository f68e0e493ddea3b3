#!/usr/bin/env python3
"""End-to-end tests of the real, built Switchboard desktop app (run by scripts/desktop-e2e.sh).

They need an X display (Xvfb), a private D-Bus session with an unlocked gnome-keyring
(scripts/with-keychain.sh), tauri-driver + WebKitWebDriver, an XEmbed tray host (trayer) and
xdotool. Everything listens on 127.0.0.1; the app gets a temporary config, data dir, log dir and
XDG config dir, so the user's own files are never touched.

  LaunchTest   the app started as at login (--hidden): proxy-ready time, idle RSS with the window
               hidden, no window shown, a second launch shows the running one and exits, SIGTERM
               stops the proxy and quits.
  NotificationTest  an invalid config is notified naming its line (seen on the session bus), and
               saving a fixed file starts the proxy.
  WindowTest   through WebDriver: the window shows the running state and address; /health and a
               chat request through the app's gateway reach the mock upstream; the request is
               listed; Copy puts the base URL on the clipboard; Stop in the window closes the
               port, Start brings it back on the same port; a key saved in the window lands in
               the OS keychain; start at login is off and toggles a login item (`--hidden`); the
               tray menu opens and its Stop/Start work; the dashboard window
               opens, connects with the admin token and cannot call the app's commands; closing
               the windows leaves the app in the tray, and the tray shows the window again.

Environment: SWITCHBOARD_APP_BIN, SWITCHBOARD_MOCK_BIN, SWITCHBOARD_TAURI_DRIVER,
SWITCHBOARD_ARTIFACTS (screenshots and metrics), optionally SWITCHBOARD_NATIVE_DRIVER.
Helpers live in harness.py.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

from harness import (
    APP, ARTIFACTS, MOCK, NATIVE_DRIVER, TAURI_DRIVER, MockUpstream, app_env, app_pid,
    close_like_a_window_manager, comm, config_text, free_port, http, log, memory_kib,
    process_tree, quit_driver, read, refused, screen_shot, stop_process, visible_windows,
    wait_until, window_name,
)


class LaunchTest(unittest.TestCase):
    """The app as the login item starts it, without WebDriver."""

    def test_hidden_start_budget_single_instance_and_sigterm(self):
        tmp = tempfile.mkdtemp(prefix="sb-launch-")
        port = free_port()
        env = app_env(tmp, config_text(f"127.0.0.1:{port}"))
        stderr = open(os.path.join(ARTIFACTS, "launch-app.log"), "w")
        started = time.monotonic()
        app = subprocess.Popen([APP, "--hidden"], env=env, stderr=stderr)
        try:
            wait_until(
                "the proxy to answer /health",
                lambda: not refused(port) and http("GET", f"http://127.0.0.1:{port}/health")[0] == 200,
                timeout=30,
                interval=0.005,
            )
            ready = time.monotonic() - started
            log(f"start to proxy-ready: {ready:.3f} s")

            time.sleep(5)  # let the hidden window's page load and settle
            self.assertEqual(visible_windows("^Switchboard$"), [], "the window shows at a login start")
            tree = process_tree(app.pid)
            rss = {p: memory_kib(p, "VmRSS") for p in tree}
            pss = {p: memory_kib(p, "Pss") for p in tree}
            names = {p: comm(p) for p in tree}
            metrics = {
                "start_to_proxy_ready_s": round(ready, 3),
                "idle_rss_mib_total": round(sum(rss.values()) / 1024, 1),
                "idle_pss_mib_total": round(sum(pss.values()) / 1024, 1),
                "processes": [
                    {"pid": p, "name": names[p], "rss_mib": round(rss[p] / 1024, 1),
                     "pss_mib": round(pss[p] / 1024, 1)}
                    for p in tree
                ],
            }
            with open(os.path.join(ARTIFACTS, "desktop-metrics.json"), "w") as f:
                json.dump(metrics, f, indent=2)
            log(f"idle memory with the window hidden: {json.dumps(metrics)}")

            # A second launch hands over to the running app (which shows its window) and exits.
            second = subprocess.run([APP], env=env, timeout=20, capture_output=True, text=True)
            self.assertEqual(second.returncode, 0, second.stderr)
            wait_until("the running app to show its window", lambda: visible_windows("^Switchboard$"), timeout=10)
            stderr.flush()
            wait_until("the window's page", lambda: "window page loaded" in read(stderr.name), timeout=15)
            time.sleep(1.5)  # its first paint
            screen_shot("00-second-launch-shows-window")
            self.assertIsNone(app.poll(), "the first instance must keep running")
            self.assertEqual(http("GET", f"http://127.0.0.1:{port}/health")[0], 200)

            app.send_signal(signal.SIGTERM)
            self.assertEqual(app.wait(15), 0)
            self.assertTrue(refused(port), "the port is still open after quitting")
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
            stderr.close()
            shutil.rmtree(tmp, ignore_errors=True)


class NotificationTest(unittest.TestCase):
    """Desktop notifications, observed on the session bus (Xvfb runs no notification daemon)."""

    def test_an_invalid_config_is_notified_with_its_line_and_fixing_it_starts(self):
        tmp = tempfile.mkdtemp(prefix="sb-notify-")
        port = free_port()
        env = app_env(tmp, '[server]\nlisten = "127.0.0.1:%d"\n[models.x]\nprovider = "nobody"\n' % port)
        monitor_log = os.path.join(ARTIFACTS, "notifications.log")
        with open(monitor_log, "w") as out:
            monitor = subprocess.Popen(
                ["dbus-monitor", "--session",
                 "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        stderr = open(os.path.join(ARTIFACTS, "notify-app.log"), "w")
        app = None
        try:
            time.sleep(0.5)  # the monitor is listening
            app = subprocess.Popen([APP, "--hidden"], env=env, stderr=stderr)
            notified = wait_until("a Notify call naming the line", lambda: "(line 4)" in read(monitor_log),
                                  timeout=20)
            text = read(monitor_log)
            self.assertIn("Switchboard could not start the proxy", text)
            self.assertIn("unknown provider", text)
            log("notification seen on the bus: " + " ".join(
                line.strip() for line in text.splitlines() if "string" in line)[:300])
            self.assertTrue(notified and refused(port))

            # Saving a fixed config starts the proxy without a click.
            with open(env["SWITCHBOARD_CONFIG"], "w") as f:
                f.write(config_text(f"127.0.0.1:{port}"))
            wait_until("the proxy to start after the fix", lambda: not refused(port), timeout=15)
            self.assertEqual(http("GET", f"http://127.0.0.1:{port}/health")[0], 200)
        finally:
            if app is not None:
                app.send_signal(signal.SIGTERM)
                try:
                    app.wait(15)
                except subprocess.TimeoutExpired:
                    app.kill()
            stop_process(monitor)
            stderr.close()
            shutil.rmtree(tmp, ignore_errors=True)


class WindowTest(unittest.TestCase):
    """The real app through tauri-driver + WebKitWebDriver, with a tray host."""

    @classmethod
    def setUpClass(cls):
        # Class cleanups run even when this set-up fails half way: no process is left behind.
        cls.tmp = tempfile.mkdtemp(prefix="sb-e2e-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.mock = MockUpstream()
        cls.addClassCleanup(cls.mock.stop)
        cls.tray_host = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
             "--height", "32", "--SetDockType", "false", "--expand", "false",
             "--transparent", "false", "--tint", "0x333333"],
            stderr=subprocess.DEVNULL,
        )
        cls.addClassCleanup(stop_process, cls.tray_host)
        env = app_env(cls.tmp, config_text("127.0.0.1:0", cls.mock.url))
        driver_port, native_port = free_port(), free_port()
        cls.driver_log = open(os.path.join(ARTIFACTS, "tauri-driver.log"), "w")
        cls.addClassCleanup(cls.driver_log.close)
        cls.tauri_driver = subprocess.Popen(
            [TAURI_DRIVER, "--port", str(driver_port), "--native-port", str(native_port),
             "--native-driver", NATIVE_DRIVER],
            env=env, stdout=cls.driver_log, stderr=subprocess.STDOUT,
        )
        cls.addClassCleanup(stop_process, cls.tauri_driver)
        # tauri-driver starts WebKitWebDriver itself: both must listen before a session.
        wait_until("tauri-driver", lambda: not refused(driver_port) and not refused(native_port), timeout=20)
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": APP})
        cls.driver = webdriver.Remote(f"http://127.0.0.1:{driver_port}", options=options)
        cls.addClassCleanup(quit_driver, cls.driver)
        cls.main_handle = cls.driver.current_window_handle

    # -- helpers --------------------------------------------------------------------------------

    def el(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css):
        # textContent, not WebDriver's "visible text" heuristics (which can come back empty).
        return (self.el(css).get_attribute("textContent") or "").strip()

    def wait_state(self, state, timeout=20):
        try:
            WebDriverWait(self.driver, timeout).until(
                lambda d: d.find_element(By.ID, "state").get_attribute("data-state") == state
            )
        except TimeoutException:
            self.shot("failure-wait-state")
            raise AssertionError(
                f"window never showed `{state}`; it shows "
                f"{self.el('#state').get_attribute('data-state')!r}: {self.text('#status-line')!r}"
            )

    def shot(self, name):
        time.sleep(0.5)  # the first frame after a change can be stale
        path = os.path.join(ARTIFACTS, f"{name}-window.png")
        self.driver.save_screenshot(path)
        log(f"screenshot {path}")
        return screen_shot(name)

    def address(self):
        text = self.text("#address")
        self.assertRegex(text, r"^127\.0\.0\.1:\d+$")
        return int(text.rsplit(":", 1)[1])

    def tray_menu(self, action, downs=1):
        """Opens the tray menu with a click on the icon, then activates the `downs`-th enabled
        item with the keyboard (the status line is not selectable, and the menu enables only what
        makes sense: Stop while running, Start while stopped)."""
        icons = wait_until(
            "the tray icon in the tray host",
            lambda: subprocess.run(["xdotool", "search", "--classname", "tray-icon tray app"],
                                   capture_output=True, text=True).stdout.split(),
        )
        subprocess.run(["xdotool", "mousemove", "--window", icons[0], "16", "15", "click", "1"], check=True)
        time.sleep(0.8)
        menus = subprocess.run(["xdotool", "search", "--onlyvisible", "--classname", "switchboard-app"],
                               capture_output=True, text=True).stdout.split()
        geometry = [subprocess.run(["xdotool", "getwindowgeometry", w], capture_output=True, text=True).stdout
                    for w in menus]
        self.assertTrue(any("Geometry" in g for g in geometry), "no menu window appeared")
        path = screen_shot(f"tray-menu-before-{action}")
        for _ in range(downs):
            subprocess.run(["xdotool", "key", "Down"], check=True)
            time.sleep(0.2)
        screen_shot(f"tray-menu-{action}-selected")
        subprocess.run(["xdotool", "key", "Return"], check=True)
        return path

    # -- tests (run in name order; each leaves the proxy running) -------------------------------

    def test_1_window_shows_running_state_and_the_proxy_works(self):
        self.wait_state("running")
        port = self.address()
        self.assertIn(f"Running on 127.0.0.1:{port}", self.text("#status-line"))
        self.assertEqual(self.text("#openai-url"), f"http://127.0.0.1:{port}/v1")
        self.shot("01-running")

        status, body = http("GET", f"http://127.0.0.1:{port}/health")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok")

        status, body = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello from the e2e test"}],
        })
        self.assertEqual(status, 200, body)
        reply = json.loads(body)
        self.assertTrue(reply["choices"][0]["message"]["content"])
        seen = self.mock.requests()
        self.assertEqual(len(seen), 1, seen)
        self.assertIn("mock-small", json.dumps(seen[0]))

        WebDriverWait(self.driver, 15).until(
            lambda d: "gpt-4o-mini" in self.text("#requests tbody")
        )
        self.assertIn("mock", self.text("#requests tbody tr"))
        self.shot("02-request-listed")

        # "Copy" puts the OpenAI base URL on the clipboard.
        self.el("#copy-url").click()
        WebDriverWait(self.driver, 10).until(lambda d: self.text("#copy-url") == "Copied")
        clipboard = subprocess.run(["xclip", "-o", "-selection", "clipboard"],
                                   capture_output=True, text=True, timeout=10)
        self.assertEqual(clipboard.stdout, f"http://127.0.0.1:{port}/v1")

    def test_2_stop_in_the_window_closes_the_port_and_start_reopens_it(self):
        self.wait_state("running")
        port = self.address()
        self.el("#stop").click()
        self.wait_state("stopped")
        self.assertTrue(refused(port), "the port still accepts connections after Stop")
        self.assertEqual(self.text("#address"), "—")
        self.shot("03-stopped")

        self.el("#start").click()
        self.wait_state("running")
        self.assertEqual(self.address(), port, "Start brings the proxy back on the same port")
        self.assertEqual(http("GET", f"http://127.0.0.1:{port}/health")[0], 200)
        self.shot("04-started-again")

    def test_3_a_key_saved_in_the_window_lands_in_the_os_keychain(self):
        name, secret = f"e2e-{os.getpid()}", "nv-e2e-secret-value"
        self.el("#key-name").clear()
        self.el("#key-name").send_keys(name)
        self.el("#key-value").send_keys(secret)
        self.el("#key-save").click()
        WebDriverWait(self.driver, 15).until(
            lambda d: "Saved" in self.text("#key-message")
            or "bad" in (d.find_element(By.ID, "key-message").get_attribute("class") or "")
        )
        self.assertIn("Saved", self.text("#key-message"))
        self.assertEqual(self.el("#key-value").get_attribute("value"), "", "the key stays in the form")
        self.el(f'#key-list li[data-name="{name}"]')
        lookup = subprocess.run(["secret-tool", "lookup", "service", "switchboard", "username", name],
                                capture_output=True, text=True)
        self.assertEqual(lookup.returncode, 0, lookup.stderr)
        self.assertEqual(lookup.stdout, secret)
        self.shot("05-key-saved")

        self.el(f'#key-list li[data-name="{name}"] button').click()
        WebDriverWait(self.driver, 15).until(
            lambda d: not d.find_elements(By.CSS_SELECTOR, f'#key-list li[data-name="{name}"]')
        )
        lookup = subprocess.run(["secret-tool", "lookup", "service", "switchboard", "username", name],
                                capture_output=True, text=True)
        self.assertNotEqual(lookup.returncode, 0, "the key is still in the keychain after Remove")

    def test_3b_start_at_login_is_off_by_default_and_toggles_a_login_item(self):
        autostart_dir = os.path.join(self.tmp, "home", ".config", "autostart")
        entries = lambda: sorted(os.listdir(autostart_dir)) if os.path.isdir(autostart_dir) else []
        box = self.el("#autostart")
        self.assertFalse(box.is_selected(), "start at login must be off by default")
        self.assertEqual(entries(), [])
        box.click()
        wait_until("a login item", entries, timeout=10)
        with open(os.path.join(autostart_dir, entries()[0])) as f:
            item = f.read()
        self.assertIn(APP, item)
        self.assertIn("--hidden", item, "a login start keeps the window hidden")
        WebDriverWait(self.driver, 10).until(lambda d: d.find_element(By.ID, "autostart").is_selected())
        self.el("#autostart").click()
        wait_until("the login item to go", lambda: not entries(), timeout=10)

    def test_4_tray_menu_opens_and_stop_and_start_work(self):
        self.wait_state("running")
        port = self.address()
        self.tray_menu("stop")
        self.wait_state("stopped")
        self.assertTrue(refused(port), "the port still accepts connections after the tray's Stop")
        screen_shot("06-stopped-from-tray")

        self.tray_menu("start")
        self.wait_state("running")
        self.assertEqual(self.address(), port)
        self.assertEqual(http("GET", f"http://127.0.0.1:{port}/health")[0], 200)
        screen_shot("07-started-from-tray")

    def test_5_the_dashboard_window_opens_with_the_admin_token(self):
        self.wait_state("running")
        port = self.address()
        self.el("#open-dashboard").click()
        wait_until("the dashboard window", lambda: visible_windows("dashboard"), timeout=15)
        handles = wait_until("a second WebDriver window",
                             lambda: [h for h in self.driver.window_handles if h != self.main_handle])
        self.driver.switch_to.window(handles[0])
        try:
            url = self.driver.current_url
            self.assertTrue(url.startswith(f"http://127.0.0.1:{port}/ui/"), "not the gateway's dashboard")
            # The token came in the URL fragment (the page then removes it from the address); the
            # live connection needs it, so connected means it was accepted.
            WebDriverWait(self.driver, 15).until(
                lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "live"
            )
            # The gateway's page gets no access to the app's commands (no capability for it).
            outcome = self.driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const ipc = window.__TAURI_INTERNALS__;
                if (!ipc) { done('no ipc'); return; }
                ipc.invoke('list_keys').then(() => done('allowed'), (e) => done('refused: ' + e));
            """)
            log(f"a command from the dashboard page: {outcome}")
            self.assertNotEqual(outcome, "allowed")
            time.sleep(1)
            screen_shot("08-dashboard")
        finally:
            self.driver.switch_to.window(self.main_handle)

    def test_6_closing_the_windows_leaves_the_app_in_the_tray(self):
        self.wait_state("running")
        port = self.address()
        app = app_pid(os.path.join(self.tmp, "config.toml"))
        webviews = lambda: [p for p in process_tree(app) if comm(p).startswith("WebKitWebProces")]
        self.assertTrue(webviews(), "no WebKit web process while the window is open")
        rss_open = sum(memory_kib(p, "VmRSS") for p in process_tree(app)) / 1024
        # As the title bar's close button does (WebDriver's close would end the whole browser).
        app_windows = "^Switchboard($| — )"  # the main and dashboard windows (search ignores case)
        for window in visible_windows(app_windows):
            close_like_a_window_manager(int(window))
        try:
            wait_until("the windows to close", lambda: not visible_windows(app_windows), timeout=10)
        except AssertionError:
            left = [window_name(w) for w in visible_windows(app_windows)]
            raise AssertionError(f"windows still open after WM_DELETE_WINDOW: {left}")
        wait_until("the web processes to end", lambda: not webviews(), timeout=15)
        time.sleep(1)
        closed = {f"{comm(p)}[{p}]": round(memory_kib(p, "VmRSS") / 1024) for p in process_tree(app)}
        rss_closed = sum(closed.values())
        log(f"app memory (RSS, all processes): window open {rss_open:.0f} MiB, "
            f"after closing it {rss_closed:.0f} MiB {closed}")
        self.assertEqual(http("GET", f"http://127.0.0.1:{port}/health")[0], 200,
                         "the proxy stopped with the window")
        screen_shot("09-windows-closed-tray-only")

        # "Show window" (4th enabled item while running: Stop, Open dashboard, Copy base URL, Show).
        self.tray_menu("show-window", downs=4)
        wait_until("the window to come back", lambda: visible_windows("^Switchboard$"), timeout=15)
        time.sleep(2)
        screen_shot("10-window-shown-from-tray")


if __name__ == "__main__":
    os.makedirs(ARTIFACTS, exist_ok=True)
    unittest.main(verbosity=2)
