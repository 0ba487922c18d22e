"""The tracking API: :func:`start_run`, :func:`resume_run` and the live :class:`Run` handle.

``run.log`` only appends to a bounded in-memory buffer; a background thread turns the
buffer into columns and commits them in one transaction every ``flush_interval`` seconds or
every ``flush_every`` calls. ``run.flush()`` returns once everything logged before it is
committed. See docs/tracking.md for what a crash can lose.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from . import plugins
from .buffer import Entry, to_columns
from .errors import StoreError
from .ids import new_run_id
from .interfaces import Store
from .model import FINAL_STATUSES, Artifact, RunRecord, heartbeat_timeout
from .source import capture_source
from .spool import Journal
from .stores import open_store
from .validation import (
    artifact_name,
    check_key,
    check_step,
    check_tags,
    merge_params,
    metric_value,
    plain_param,
)

log = logging.getLogger("aquarium")

_FAST_TYPES = frozenset({float})
_DIRECTIONS = ("min", "max")


class SpoolError(StoreError):
    """The store is unreachable and the offline journal cannot be written either."""


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives while a run is active.

    A ``SystemExit`` (exit code 128 + signal number), so an uncaught one ends the process
    quietly after every active run is flushed and marked ``killed``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class Run:
    """A live run. Create it with :func:`start_run` or :func:`resume_run`.

    Use it as a context manager, or call :meth:`finish`. Only the handle that created the
    run sets its final status; a resumed handle only adds data.
    """

    def __init__(
        self,
        store: Store,
        record: RunRecord,
        *,
        owner: bool,
        first_step: int = 0,
        flush_interval: float = 1.0,
        flush_every: int = 50_000,
        max_buffer: int = 1_000_000,
        spool_after: float = 10.0,
    ) -> None:
        _check_buffering(flush_interval, flush_every, max_buffer)
        self.store = store
        self.record = record
        self.owner = owner
        self._step = first_step - 1
        self._keys: set[str] = set()
        self._buffer: collections.deque[Entry] = collections.deque()
        self._flush_every = flush_every
        self._max_buffer = max_buffer
        self._interval = flush_interval
        self._heartbeat_every = min(10.0, heartbeat_timeout() / 4)
        self._writer_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._seq = 0
        self._pending: list[tuple[int, dict]] = []  # batches not yet committed, oldest first
        self._beats = record.heartbeat is not None
        self._journal = Journal.for_writer(record.id, self._writer_id)
        self._spool_after = spool_after
        self._failing_since: float | None = None
        self._io = threading.Lock()
        self._wake = threading.Event()
        self._drained = threading.Event()
        self._closed = False
        self._last_error: BaseException | None = None
        self._last_beat = time.time()
        # Timestamps never decrease: the wall clock once, then a monotonic clock.
        self._t0 = time.time() - time.monotonic()
        self._thread = threading.Thread(target=self._flush_loop, name=f"aquarium-flush-{record.id}",
                                        daemon=True)
        self._thread.start()
        _activate(self)

    # -- identity -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def status(self) -> str:
        return self.record.status

    def __repr__(self) -> str:
        return f"<aquarium.Run {self.record.name!r} id={self.id} status={self.status}>"

    # -- the hot path ---------------------------------------------------------------------
    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values at ``step`` (default: the previous call's step + 1, 0 first).

        Values are numbers (int, float, bool, numpy or torch scalars, one-element arrays);
        NaN and ±inf are kept. Anything else raises ``TypeError`` naming the key, and nothing
        of the call is logged. Blocks only when the buffer is full.
        """
        if self._closed:
            raise RuntimeError(f"run {self.id} is finished; start or resume a run to log more")
        if step is None:
            step = self._step + 1
        elif type(step) is not int or step < 0:
            step = check_step(step)
        try:
            if _FAST_TYPES.issuperset(map(type, metrics.values())):
                metrics = dict(metrics)
            else:
                metrics = {k: metric_value(k, v) for k, v in metrics.items()}
        except AttributeError:
            raise TypeError(f"run.log expects a mapping of metric keys to numbers, "
                            f"got {type(metrics).__name__}") from None
        if not self._keys.issuperset(metrics):
            for key in metrics:
                check_key(key)
            self._keys.update(metrics)
        if not metrics:
            return
        buffer = self._buffer
        buffer.append((step, self._t0 + time.monotonic(), metrics))
        self._step = step
        if len(buffer) >= self._flush_every:
            with _signals_deferred():  # a signal's exception inside Event.set can strand the waiter
                self._wake.set()
            if len(buffer) >= self._max_buffer:
                self._wait_for_room()

    def _wait_for_room(self) -> None:
        while len(self._buffer) >= self._max_buffer and self._thread.is_alive():
            with _signals_deferred():
                self._drained.clear()
                self._wake.set()
            self._drained.wait(0.1)

    # -- writing --------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:  # the closing thread writes what is left itself: no hand-off to wait for
                return
            try:
                self._write()
            except Exception as error:  # keep training; the batch stays pending for the next try
                if self._last_error is None or str(error) != str(self._last_error):
                    log.warning("aquarium: cannot write run %s to %s yet (%s); will retry",
                                self.id, self.store.uri, error)
                self._last_error = error
            else:
                self._last_error = None

    def _write(self) -> None:
        """Drain the buffer and commit, oldest first: the journal, then pending batches.

        While the store fails, batches stay pending; once it has failed for ``spool_after``
        seconds they go to the journal (fsynced) and the run goes on. Holds the I/O lock.
        """
        with self._io, _signals_deferred():
            buffer = self._buffer
            count = len(buffer)
            if count:
                entries = [buffer.popleft() for _ in range(count)]
                self._drained.set()
                self._pending.append((self._seq, to_columns(entries)))
                self._seq += 1
            try:
                self._commit()
            except Exception:
                now = time.monotonic()
                self._failing_since = self._failing_since or now
                if self._pending and now - self._failing_since >= self._spool_after:
                    try:
                        self._spool()
                    except OSError as error:  # neither the store nor the journal takes it
                        raise SpoolError(f"run {self.id}: store {self.store.uri} unreachable and the journal "
                                         f"{self._journal.path} cannot be written: {error}") from error
                raise
            self._failing_since = None

    def _commit(self) -> None:
        if self._journal.exists():
            replayed = self._journal.replay(self.store)
            log.warning("aquarium: store %s is back; replayed %d spooled records of run %s",
                        self.store.uri, replayed, self.id)
        now = time.time()
        beat = now if self._beats and self.record.status == "running" else None
        if not self._pending and beat and now - self._last_beat >= self._heartbeat_every:
            self.store.update_run(self.id, heartbeat=now)
            self._last_beat = now
        while self._pending:
            seq, columns = self._pending[0]
            self.store.write_batch(self.id, self._writer_id, seq, columns, heartbeat=beat)
            self._pending.pop(0)
            self._last_beat = now

    def _spool(self) -> None:
        if not self._journal.exists():
            log.warning("aquarium: store %s unreachable for %.0f s; spooling run %s to %s",
                        self.store.uri, self._spool_after, self.id, self._journal.path)
        uri = self.store.connect_uri or self.store.uri
        while self._pending:
            seq, columns = self._pending[0]
            self._journal.append_batch(uri, self.id, self._writer_id, seq, columns, None)
            self._pending.pop(0)

    def flush(self) -> None:
        """Return once everything logged so far is durable: committed to the store or, when
        the store has been unreachable for ``spool_after`` seconds, written to the journal
        (replayed when the store answers again, or by ``aquarium sync``)."""
        delay = 0.05
        while True:
            try:
                self._write()
                return
            except SpoolError:
                raise
            except Exception as error:
                if not self._pending:  # everything is safe in the journal
                    return
                if self._failing_since is None:  # not the store
                    raise StoreError(f"run {self.id}: could not write to {self.store.uri}: {error}") from error
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    # -- everything else is rare and written at once ----------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Add params (nested dicts allowed). A param logged again with another value raises
        ``ValueError`` naming it; the same value again is a no-op."""
        plain = {check_key(k, "param key"): plain_param(k, v) for k, v in params.items()}
        stored = self.store.get_run(self.id).params  # another process may have added some
        merged = merge_params(stored, plain)
        if merged != stored:
            self.store.update_run(self.id, params=merged)
        self.record.params = merged

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags (str → str); existing keys are overwritten."""
        tags = check_tags(tags)
        self.store.update_run(self.id, tags=tags)
        self.record.tags.update(tags)

    def set_notes(self, notes: str) -> None:
        """Replace the run's notes (free text, Markdown welcome)."""
        if not isinstance(notes, str):
            raise TypeError(f"notes must be a str, not {type(notes).__name__}")
        self.store.update_run(self.id, notes=notes)
        self.record.notes = notes

    def set_direction(self, key: str, direction: str) -> None:
        """Say whether ``key`` is better when smaller (``"min"``) or larger (``"max"``)."""
        check_key(key)
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction for {key!r} must be 'min' or 'max', not {direction!r}")
        self.store.update_run(self.id, directions={key: direction})
        self.record.directions[key] = direction

    def log_artifact(self, path: str | os.PathLike, name: str | None = None, *,
                     metadata: Mapping[str, Any] | None = None, kind: str = "file") -> list[Artifact]:
        """Copy a file (or every file of a folder) into the store; the stored name defaults to
        the file's name. Returns what was stored, with sizes and sha256."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"artifact file {path!r} does not exist")
        name = artifact_name(name if name is not None else os.path.basename(os.path.normpath(path)))
        meta = {k: plain_param(k, v) for k, v in (metadata or {}).items()}
        if os.path.isdir(path):
            files = sorted(
                (os.path.join(root, f), f"{name}/{os.path.relpath(os.path.join(root, f), path)}")
                for root, _, names in os.walk(path) for f in names
            )
        else:
            files = [(path, name)]
        stored = [self.store.put_artifact(self.id, Artifact(n.replace(os.sep, "/"), 0, "", kind, meta), p)
                  for p, n in files]
        self.record.artifacts.extend(stored)
        return stored

    def log_model(self, path: str | os.PathLike, framework: str | None = None, name: str | None = None, *,
                  metadata: Mapping[str, Any] | None = None) -> list[Artifact]:
        """Store a model file or folder as an artifact of kind ``"model"`` with its framework."""
        meta = dict(metadata or {})
        if framework is not None:
            meta["framework"] = framework
        return self.log_artifact(path, name, metadata=meta, kind="model")

    # -- ending ---------------------------------------------------------------------------
    def finish(self, status: str = "completed", error: str | None = None) -> None:
        """Flush, stop the flush thread and (for the creating handle) store the final status."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"status {status!r} must be one of {', '.join(FINAL_STATUSES)}")
        if not self._close():
            return
        try:
            self.flush()
        finally:
            try:
                if self.owner:
                    ended = time.time()
                    self._update_or_spool(status=status, ended=ended, error=error)
                    self.record.status, self.record.ended, self.record.error = status, ended, error
                    plugins.notify("aquarium_run_finished", run=self.record)
            finally:
                _deactivate(self)  # our signal handlers stay until the last write is done

    def _update_or_spool(self, **fields: Any) -> None:
        """Store the final fields; behind spooled batches, or when the store is away, journal them."""
        if not self._journal.exists():
            try:
                self.store.update_run(self.id, **fields)
                return
            except Exception as error:
                if self._failing_since is None:
                    raise
                log.warning("aquarium: store %s unreachable: %s", self.store.uri, error)
        self._journal.append_update(self.store.connect_uri or self.store.uri, self.id, **fields)
        log.warning("aquarium: run %s ended while its store %s was away; its last records wait in %s: "
                    "run `aquarium sync` when the store is back", self.id, self.store.uri, self._journal.path)

    def detach(self) -> None:
        """Flush and let go of the run without ending it: it stays ``running`` for another
        handle (``resume_run``) or ``aquarium track end`` to finish."""
        if self._close():
            try:
                self.flush()
            finally:
                _deactivate(self)

    def _close(self) -> bool:
        """Stop the flush thread once; False when already closed."""
        if self._closed:
            return False
        self._closed = True
        with _signals_deferred():
            self._wake.set()
        self._thread.join()
        return True

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        status, error = _outcome(exc)
        self.finish(status, error)


def _check_buffering(flush_interval: float, flush_every: int, max_buffer: int) -> None:
    if not flush_interval > 0:
        raise ValueError(f"flush_interval {flush_interval!r} must be > 0")
    if not 1 <= flush_every <= max_buffer:
        raise ValueError(f"need 1 <= flush_every ({flush_every}) <= max_buffer ({max_buffer})")


def _outcome(exc: BaseException | None) -> tuple[str, str | None]:
    if exc is None:
        return ("killed", None) if _signalled else ("completed", None)
    if isinstance(exc, (KeyboardInterrupt, Terminated)) or _signalled:
        return "killed", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return "completed", None
    return "failed", "".join(traceback.format_exception_only(type(exc), exc)).strip()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """In the main thread, hold SIGINT and SIGTERM until the block ends, so a signal's
    exception can't strike between taking points off the buffer and queueing them.

    While a run is active our handlers only note a signal that arrives in the block; it is
    raised again when the block ends. (Blocking the signals with ``pthread_sigmask`` does not
    work: the kernel hands them to the flush thread and CPython still runs the Python handler,
    and its exception, in the main thread.)
    """
    global _holding
    if _holding or threading.current_thread() is not threading.main_thread():
        yield
        return
    _held.clear()
    _holding = True
    try:
        yield
    finally:
        _holding = False
        for signum in dict.fromkeys(_held):
            signal.raise_signal(signum)  # runs the handler (and raises its exception) right here


# -- process-wide bookkeeping: active runs, SIGTERM, exit ----------------------------------------
_active: weakref.WeakSet[Run] = weakref.WeakSet()
_lock = threading.Lock()
_signalled: int | None = None
_previous_sigterm: Any = None
_previous_sigint: Any = None
_holding = False  # the main thread is inside _signals_deferred()
_held: list[int] = []  # signals that arrived meanwhile
_installed = False
_uncaught: BaseException | None = None


def _on_sigterm(signum: int, frame: Any) -> None:
    global _signalled
    if _holding:
        _held.append(signum)
        return
    previous = _previous_sigterm
    if previous is signal.SIG_IGN:  # the program chose to ignore SIGTERM: so do we
        return
    _signalled = signum
    if callable(previous):  # chain to a scheduler's or framework's handler first
        previous(signum, frame)
    raise Terminated(signum)


def _on_sigint(signum: int, frame: Any) -> None:
    if _holding:
        _held.append(signum)
        return
    previous = _previous_sigint
    if callable(previous):  # Python's default: raise KeyboardInterrupt
        previous(signum, frame)
    else:
        raise KeyboardInterrupt


def _excepthook(exc_type: Any, exc: BaseException, tb: Any) -> None:
    global _uncaught
    _uncaught = exc
    _previous_excepthook(exc_type, exc, tb)


_previous_excepthook = sys.excepthook


def _activate(run: Run) -> None:
    global _installed, _previous_sigterm, _previous_sigint
    with _lock:
        _active.add(run)
        if not _installed:
            _installed = True
            atexit.register(_finish_all)
            sys.excepthook = _excepthook
        if threading.current_thread() is threading.main_thread() and _previous_sigterm is None:
            current = signal.getsignal(signal.SIGTERM)
            if current is not _on_sigterm:
                _previous_sigterm = signal.SIG_DFL if current is None else current
                signal.signal(signal.SIGTERM, _on_sigterm)
        if threading.current_thread() is threading.main_thread() and _previous_sigint is None:
            current = signal.getsignal(signal.SIGINT)
            if callable(current) and current is not _on_sigint:  # SIG_DFL/SIG_IGN: nothing to hold
                _previous_sigint = current
                signal.signal(signal.SIGINT, _on_sigint)


def _deactivate(run: Run) -> None:
    global _previous_sigterm, _previous_sigint
    with _lock:
        _active.discard(run)
        if not _active and _previous_sigterm is not None and not _signalled \
                and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, _previous_sigterm)
            _previous_sigterm = None
        if not _active and _previous_sigint is not None and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is _on_sigint:
                signal.signal(signal.SIGINT, _previous_sigint)
            _previous_sigint = None


def _finish_all() -> None:
    """At exit: flush and close every run the program left open."""
    status, error = _outcome(_uncaught)
    for run in list(_active):
        try:
            run.finish(status, error)
        except Exception as exc:  # at exit there is nobody left to raise to
            log.error("aquarium: could not finish run %s: %s", run.id, exc)


# -- public constructors ------------------------------------------------------------------------
def start_run(
    name: str | None = None,
    experiment: str | None = None,
    group: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    notes: str = "",
    store: str | os.PathLike | Store | None = None,
    *,
    parent: str | None = None,
    capture_source: bool = True,
    flush_interval: float = 1.0,
    flush_every: int = 50_000,
    max_buffer: int = 1_000_000,
    spool_after: float = 10.0,
    heartbeat: bool = True,
) -> Run:
    """Create a run in ``store`` (default: ``AQUARIUM_STORE`` or ``./.aquarium``) and return its
    live handle. ``heartbeat=False`` is for runs driven from the shell, which never go stale.
    When the store fails for ``spool_after`` seconds, batches go to the offline spool."""
    _check_buffering(flush_interval, flush_every, max_buffer)
    target = open_store(store)
    now = time.time()
    run_id = new_run_id()
    record = RunRecord(
        id=run_id,
        name=_text("name", name) if name is not None else time.strftime("run-%Y%m%d-%H%M%S"),
        experiment=_text("experiment", experiment) if experiment is not None
        else os.environ.get("AQUARIUM_EXPERIMENT", "default"),
        group=_text("group", group) if group is not None else None,
        status="running", created=now, started=now, heartbeat=now if heartbeat else None,
        parent=parent,
        params={check_key(k, "param key"): plain_param(k, v) for k, v in (params or {}).items()},
        tags=check_tags(tags or {}),
        notes=_text("notes", notes, empty=True),
        source=_source() if capture_source else None,
    )
    target.create_run(record)
    run = Run(target, record, owner=True, flush_interval=flush_interval, flush_every=flush_every,
              max_buffer=max_buffer, spool_after=spool_after)
    plugins.notify("aquarium_run_started", run=record)
    return run


def resume_run(run_id: str, store: str | os.PathLike | Store | None = None, **options: Any) -> Run:
    """Attach to an existing run (another rank, a restarted job) to log more into it.

    Steps continue after the largest last step stored; the final status stays with the
    handle that created the run.
    """
    target = open_store(store)
    record = target.get_run(run_id)
    first = max((s.last_step for s in record.summaries.values()), default=-1) + 1
    return Run(target, record, owner=False, first_step=first, **options)


def _text(what: str, value: Any, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not empty and not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _source() -> Any:
    try:
        return capture_source()
    except Exception as error:  # never let bookkeeping stop a training run
        log.warning("aquarium: source capture failed: %s", error)
        return None
