"""A process of our own that runs calls for the event loop, one at a time and in order,
behind two plain pipes: no threads, no queues, no locks.

Each call goes to the process as one pickle, (function, arguments), the function by
reference (the process imports it), after an 8-byte length; its answer comes back the same
way, its result or its exception. The event loop writes the calls without blocking
(whatever the pipe does not take at once is written when it can) and reads the answers
when their pipe is readable (`loop.add_reader`): a call, however long, never holds it. The
answers' pipe is asked to hold a megabyte, so an answer (an invoice's documents: tens of
kilobytes) goes in one write and wakes the loop once or twice.

The process is spawned (a fork of the running event loop and its threads would inherit
their locks) at a lower CPU priority and deaf to Ctrl-C. When it dies, the end of its
answers' pipe and its sentinel tell the event loop: the calls in hand fail with
ProcessLost, and the process is waited for (no zombie). `stop` kills it at once, whatever
it runs, without waiting. Only the worker holds the writing end of the calls' pipe: should
the worker die without stopping it, the process reads the pipe's end and exits; and, on
Linux, the kernel kills it should the worker die while a call runs (one that hangs would
otherwise outlive the worker for good).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import multiprocessing
import os
import pickle
import signal
import struct
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from worker.parent_death import die_with_parent

HEADER = struct.Struct("!Q")
"""The length of the pickle that follows."""
PIPE_BYTES = 1 << 20
"""Asked of the answers' pipe (Linux grants unprivileged processes up to a megabyte)."""
MAX_REPR_CHARACTERS = 10_000
"""Of an exception that cannot be sent back as itself, in the RemoteError sent instead."""
IOV_MAX = 1024
"""Buffers one writev takes at most (Linux's IOV_MAX): more, and the write fails whole."""
REAP_RETRY_SECONDS = 0.005
"""Between looks at whether a process whose pipes closed has become waitable."""


class ProcessLost(Exception):
    """The process died running the call, or before it could be sent the call."""


class RemoteError(Exception):
    """What the call raised or returned could not be sent back as itself: its repr."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in the process, as its cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


# The process's side.


def serve_calls(requests: Connection, answers: Connection, niceness: int) -> None:
    """The process's body: runs each call read from `requests` and writes its answer to
    `answers`, until the worker closes its end (or dies)."""
    # lower priority; and deaf to Ctrl-C, which a terminal sends its whole process group:
    # the worker stops its processes itself
    os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_the_worker()
    incoming, outgoing = requests.fileno(), answers.fileno()
    while (length := _read_bytes(incoming, HEADER.size)) is not None:
        request = _read_bytes(incoming, HEADER.unpack(length)[0])
        if request is None:
            return
        answer = _answer(request)
        try:
            _write_all(outgoing, HEADER.pack(len(answer)), answer)
        except BrokenPipeError:  # the worker is gone
            return


def _end_with_the_worker() -> None:
    """Killed by the kernel should the worker die: the end of the calls' pipe is not read
    while a call runs, and a rendering that hangs would outlive the worker for good."""
    die_with_parent(signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before we asked
        os._exit(0)


def _answer(request: bytearray) -> bytes:
    """(True, result) or (False, exception, its traceback), pickled."""
    failure: BaseException | None = None
    try:
        function, arguments = pickle.loads(request)
        result = function(*arguments)
    except BaseException as error:
        failure = error
    try:
        if failure is None:
            return pickle.dumps((True, result), pickle.HIGHEST_PROTOCOL)
        return pickle.dumps((False, failure, _traceback_of(failure)), pickle.HIGHEST_PROTOCOL)
    except Exception as unsent:
        if failure is None:
            kept = RemoteError(f"the result could not be sent back: {unsent!r}")
            described = _traceback_of(unsent)
        else:
            kept = RemoteError(_repr_of(failure))
            described = _traceback_of(failure)
        return pickle.dumps((False, kept, described), pickle.HIGHEST_PROTOCOL)


def _repr_of(error: BaseException) -> str:
    """Its repr, or its type's name should its repr fail (an argument's __repr__ raising)."""
    try:
        return repr(error)[:MAX_REPR_CHARACTERS]
    except Exception as unrepresentable:
        return f"{type(error).__qualname__} (its repr failed: {type(unrepresentable).__name__})"


def _traceback_of(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def _read_bytes(fd: int, size: int) -> bytearray | None:
    """`size` bytes read from the blocking `fd`; None at its end."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        read = os.readv(fd, [view[done:]])
        if read == 0:
            return None
        done += read
    return buffer


def _write_all(fd: int, *parts: bytes) -> None:
    """All of `parts` written to the blocking `fd`, in as few writes as it takes."""
    views = [memoryview(part) for part in parts]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if views:
            views[0] = views[0][written:]


# The worker's side.


class PipedProcess:
    """One spawned process running calls, and the event loop's ends of its pipes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, niceness: int, name: str) -> None:
        self._loop = loop
        self.lost = False
        """Dead, killed or about to be: it runs no call any more."""
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        """A future for each call sent whose answer is still to come, in order."""
        self._unsent: list[memoryview] = []
        self._length = bytearray(HEADER.size)
        self._answer: bytearray | None = None
        self._received = 0
        context = multiprocessing.get_context("spawn")
        requests_read, requests_write = context.Pipe(duplex=False)
        answers_read, answers_write = context.Pipe(duplex=False)
        _enlarge(answers_write.fileno())  # a call is a few kilobytes, its answer tens
        self.process = context.Process(
            target=serve_calls,
            args=(requests_read, answers_write, niceness),
            name=name,
            daemon=True,  # killed, not waited for, should the worker exit without stopping it
        )
        try:
            self.process.start()
        except BaseException:
            for end in (requests_read, requests_write, answers_read, answers_write):
                end.close()
            raise
        requests_read.close()
        answers_write.close()
        self._requests, self._answers = requests_write, answers_read
        self._requests_fd, self._answers_fd = requests_write.fileno(), answers_read.fileno()
        os.set_blocking(self._requests_fd, False)
        os.set_blocking(self._answers_fd, False)
        self._sentinel = self.process.sentinel
        loop.add_reader(self._answers_fd, self._readable)
        loop.add_reader(self._sentinel, self._exited)

    @property
    def pid(self) -> int | None:
        return None if self.lost else self.process.pid

    def call(self, function: Callable[..., Any], *arguments: Any) -> asyncio.Future[Any]:
        """Sends the call; its answer comes in the future returned (cancelling the future
        lets the call run, its answer thrown away). BrokenPipeError: the process was dead
        before it could be sent the call, which never started."""
        if self.lost:
            raise BrokenPipeError("the process is gone")
        request = pickle.dumps((function, arguments), pickle.HIGHEST_PROTOCOL)
        answer = self._loop.create_future()
        self._waiting.append(answer)
        try:
            self._send(memoryview(HEADER.pack(len(request))), memoryview(request))
        except BrokenPipeError:
            self._waiting.pop()
            self.stop()
            raise
        except OSError as error:
            self.stop(error)
            raise ProcessLost(f"the call could not be sent: {error!r}") from error
        return answer

    def stop(self, cause: BaseException | None = None) -> None:
        """Kills the process (if alive) and fails the calls in hand with ProcessLost; never
        waits: the process is waited for once its sentinel says it has exited."""
        if not self.lost:
            self.lost = True
            with contextlib.suppress(ValueError):  # already closed
                self.process.kill()
            self._loop.remove_reader(self._answers_fd)
            if self._unsent:
                self._loop.remove_writer(self._requests_fd)
                self._unsent = []
            self._requests.close()
            self._answers.close()
        waiting, self._waiting = self._waiting, collections.deque()
        for answer in waiting:
            if not answer.done():
                lost = ProcessLost("the process ended before it answered")
                lost.__cause__ = cause
                answer.set_exception(lost)

    def _send(self, *parts: memoryview) -> None:
        if not self._unsent:
            try:
                written = os.writev(self._requests_fd, parts)
            except (BlockingIOError, InterruptedError):  # full: calls sent, not yet read
                written = 0
            views = list(parts)
            while views and written >= len(views[0]):
                written -= len(views.pop(0))
            if not views:
                return
            views[0] = views[0][written:]
            self._unsent = views
            self._loop.add_writer(self._requests_fd, self._writable)
        else:
            self._unsent.extend(parts)

    def _writable(self) -> None:
        try:
            written = os.writev(self._requests_fd, self._unsent[:IOV_MAX])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self.stop(error)
            return
        while self._unsent and written >= len(self._unsent[0]):
            written -= len(self._unsent.pop(0))
        if self._unsent:
            self._unsent[0] = self._unsent[0][written:]
        else:
            self._loop.remove_writer(self._requests_fd)

    def _readable(self, *, drain: bool = False) -> None:
        """Reads the next answer, or what the pipe holds of it, and hands it over once
        complete; with `drain`, every answer the pipe holds."""
        while not self.lost:
            if self._answer is None:
                buffer = self._length
                wanted = HEADER.size
            else:
                buffer = self._answer
                wanted = len(buffer)
            try:
                read = os.readv(self._answers_fd, [memoryview(buffer)[self._received :]])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self.stop(error)
                return
            if read == 0:  # the process is gone
                self.stop()
                return
            self._received += read
            if self._received < wanted:
                return
            self._received = 0
            if self._answer is None:
                self._answer = bytearray(HEADER.unpack(self._length)[0])
            else:
                answer, self._answer = self._answer, None
                self._answered(answer)
                if not drain:  # the loop calls again while the pipe holds more
                    return

    def _answered(self, answer: bytearray) -> None:
        if not self._waiting:
            self.stop(RuntimeError("an answer to no call"))
            return
        waiting = self._waiting.popleft()
        if waiting.done():  # cancelled: its answer is thrown away
            return
        try:
            answered = pickle.loads(answer)
        except Exception as error:
            unread = RemoteError(f"the answer could not be read: {error!r}")
            unread.__cause__ = error
            waiting.set_exception(unread)
            return
        if answered[0]:
            waiting.set_result(answered[1])
        else:
            raised: BaseException = answered[1]
            if not isinstance(raised, Exception) or isinstance(raised, StopIteration):
                # not to be raised here as it was there (SystemExit, KeyboardInterrupt, ...)
                raised = RemoteError(_repr_of(raised))
            raised.__cause__ = RemoteTraceback(answered[2])
            waiting.set_exception(raised)

    def _exited(self) -> None:
        """The process has ended: its last answers read, the calls still in hand lost, and
        the process waited for."""
        self._loop.remove_reader(self._sentinel)
        if not self.lost:
            self._readable(drain=True)
        self.stop()
        self._reap()

    def _reap(self) -> None:
        # its pipes close before it becomes waitable: a moment, in which to look again
        if self.process.exitcode is not None:
            self.process.close()
        elif not self._loop.is_closed():
            self._loop.call_later(REAP_RETRY_SECONDS, self._reap)


def _enlarge(fd: int) -> None:
    """As large a pipe as granted, up to PIPE_BYTES: best effort."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
