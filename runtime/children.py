"""`referrals` sub-commands run as child processes: stream workers, the SQL sink, the feed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from runtime import signals
from streams.errors import RetryableError
from streams.settings import Settings

# Long enough for a Faust worker to commit its offsets and leave its group.
STOP_GRACE_S = 15.0


class Child:
    """A ``referrals`` sub-command (a stream worker, the SQL sink, the feed) in a child
    process of its own session, so a Ctrl-C in the terminal reaches only the parent, which
    stops it in order. Its output goes to ``<log_dir>/<name>.log``, or without a folder to
    the parent's stderr."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        log_dir: Path | None,
        command: str = "worker",
        *,
        args: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        self.command = command
        self.name = name or command
        self.log_path = log_dir / f"{self.name}.log" if log_dir is not None else None
        self.argv = [sys.executable, "-m", "referrals", command, "--broker", f"kafka://{bootstrap}"]
        self.argv += args
        self.env = {**os.environ, **settings_env(settings)}
        self.started_at = 0.0
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # deferred: a signal between the fork and the assignment would orphan the process
        with signals.deferred(), contextlib.ExitStack() as files:
            log = files.enter_context(self.log_path.open("ab")) if self.log_path else None
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else sys.stderr,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            return self.process

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self.process.poll()

    def restart(self) -> None:
        self.stop()
        self._spawn()

    def check(self) -> None:
        if self.process.poll() is not None:
            where = f"; see {self.log_path}" if self.log_path else ""
            raise RetryableError(
                f"the {self.command} process exited with status {self.process.returncode}{where}"
            )

    def stop(self, grace: float = STOP_GRACE_S, give_up: Callable[[], bool] | None = None) -> None:
        """SIGTERM (and SIGCONT, should it be stopped) to let it commit and leave its group;
        SIGKILL after ``grace`` seconds, or as soon as ``give_up()``. Always reaps, so its
        PID is gone after."""
        with signals.deferred():
            if self.process.poll() is None:
                self.ask_to_stop()
                deadline = time.monotonic() + grace
                while self.process.poll() is None:
                    if time.monotonic() > deadline or (give_up is not None and give_up()):
                        self.kill()
                    else:
                        time.sleep(0.05)

    def ask_to_stop(self) -> None:
        """SIGTERM, and SIGCONT so that a stopped process wakes up to act on it."""
        self._signal(signal.SIGTERM)
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no handler runs, nothing is flushed."""
        with signals.deferred():
            self.process.kill()
            self.process.wait()

    def _signal(self, sig: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the REFERRALS_* environment a child process reads them from."""
    values = asdict(settings)
    return {
        f"REFERRALS_{name.upper()}": str(value)
        for name, value in values.items()
        if value is not None and name != "broker"
    }
