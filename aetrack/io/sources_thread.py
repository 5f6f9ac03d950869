"""A reader thread in front of a frame source, so that decoding overlaps the work done on each frame."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from aetrack.io.sources import Frame, FrameSource

_END = object()  # put by the reader thread after the last frame
_POLL = 0.1  # seconds between checks for a stop request while waiting on the queue


class ThreadedReader(FrameSource):
    """Reads `source` in a thread into a queue of at most `maxsize` frames; closing it closes `source`.

    With `drop_old`, a full queue loses its oldest frame rather than hold the reader back (counted in
    `dropped`): a live source is then never read late. An error in the reader is raised at the next frame.
    """

    def __init__(self, source: FrameSource, maxsize: int = 8, *, drop_old: bool = False) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        super().__init__(source.name, fps=source.fps, size=source.size, frame_count=source.frame_count,
                         is_live=source.is_live)
        self.source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize)
        self._drop_old = drop_old
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _frames(self) -> Iterator[Frame]:
        self._thread = threading.Thread(target=self._read, daemon=True, name=f"aetrack-reader {self.name}")
        self._thread.start()
        while True:
            item = self._get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop the reader thread (within about 0.1 s unless it waits on the source) and close the source."""
        self._stop.set()
        self.source.interrupt()
        super().close()
        if self._thread is None:
            self.source.close()
        else:
            self._thread.join(timeout=2.0)  # a read blocked in a driver ends on its own timeout, then closes

    def _read(self) -> None:
        """The thread: put every frame, then the end mark or the error, and close the source."""
        try:
            for frame in self.source:
                if not self._put(frame, droppable=self._drop_old):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)
        finally:
            self.source.close()

    def _put(self, item: object, droppable: bool = False) -> bool:
        """Queue `item`, dropping the oldest frame if `droppable` and full; False when asked to stop first."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, block=not droppable, timeout=None if droppable else _POLL)
                return True
            except queue.Full:
                if droppable:
                    self._drop_oldest()
        return False

    def _drop_oldest(self) -> None:
        """Remove the oldest queued frame (only frames can be queued before the end mark)."""
        try:
            self._queue.get_nowait()
            self.dropped += 1
        except queue.Empty:  # the consumer took it first
            pass

    def _get(self) -> object:
        """The next queued item; waits in short steps so that Ctrl-C is noticed on every platform."""
        while True:
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self._thread is not None and not self._thread.is_alive() and self._queue.empty():
                    return _END  # the thread was stopped without an end mark
