"""`referrals` sub-commands run as child processes: stream workers, the SQL sink."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from streams.errors import RetryableError
from streams.settings import Settings


class Child:
    """A ``referrals`` sub-command (a stream worker, the SQL sink) in a child process,
    its output in ``<log_dir>/<command>.log``."""

    def __init__(
        self, settings: Settings, bootstrap: str, log_dir: Path, command: str = "worker"
    ) -> None:
        self.command = command
        self.log_path = log_dir / f"{command}.log"
        self.argv = [sys.executable, "-m", "referrals", command, "--broker", f"kafka://{bootstrap}"]
        self.env = {**os.environ, **settings_env(settings)}
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def restart(self) -> None:
        self.stop()
        self.process = self._spawn()

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RetryableError(
                f"the {self.command} process exited with status {self.process.returncode}; "
                f"see {self.log_path}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no handler runs, nothing is flushed."""
        self.process.kill()
        self.process.wait()


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the REFERRALS_* environment a child process reads them from."""
    values = asdict(settings)
    return {
        f"REFERRALS_{name.upper()}": str(value)
        for name, value in values.items()
        if value is not None and name != "broker"
    }
