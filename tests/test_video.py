"""Frame sources: video files (decord and the OpenCV fallback), image folders, streams, the reader thread."""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from aetrack.errors import AetrackError
from aetrack.io import sources_file
from aetrack.io.sources_folder import natural_key
from aetrack.io.video import (Frame, FrameSource, ImageFolder, Reconnect, ThreadedReader, VideoFile,
                              open_source, source_kind)
from helpers_stream import BLOCK, H, W, MjpegServer, numbered_image

FRAMES, FPS = 30, 10.0


def read_number(image: np.ndarray) -> int:
    """The number `numbered_image` wrote into `image`."""
    centres = [image[4:12, bit * BLOCK + 4:bit * BLOCK + 12].mean() for bit in range(8)]
    return sum(1 << bit for bit, c in enumerate(centres) if c > 128)


def numbers(frames: Iterable[Frame]) -> list[int]:
    return [read_number(f.image) for f in frames]


def write_video(path: Path, fourcc: str, count: int = FRAMES, fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for i in range(count):
        writer.write(numbered_image(i))
    writer.release()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {"mp4v": write_video(folder / "clip.mp4", "mp4v"), "MJPG": write_video(folder / "clip.avi", "MJPG")}


def read_all(source: FrameSource) -> list[Frame]:
    with source:
        return list(source)


# ---- video files --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", ["mp4v", "MJPG"])
def test_decord_and_opencv_give_the_same_frames(videos: dict[str, Path], codec: str) -> None:
    with VideoFile(videos[codec]) as fast, VideoFile(videos[codec], decoder="opencv") as fallback:
        assert fast.decoder == "decord" and fallback.decoder == "opencv"
        for source in (fast, fallback):
            assert (source.size, source.fps, source.frame_count, source.is_live) == ((W, H), FPS, FRAMES, False)
        a, b = list(fast), list(fallback)
    for frames in (a, b):
        assert numbers(frames) == [f.index for f in frames] == list(range(FRAMES))
        assert [f.time for f in frames] == pytest.approx([i / FPS for i in range(FRAMES)], abs=1e-4)
        assert all(f.image.shape == (H, W, 3) and f.image.dtype == np.uint8 for f in frames)
        assert all(f.image[-8, W // 2, 0] > 200 and f.image[-8, W // 2, 2] < 50 for f in frames)
    assert max(np.abs(x.image.astype(int) - y.image.astype(int)).mean() for x, y in zip(a, b)) < 1.0


@pytest.mark.parametrize("decoder", ["auto", "opencv"])
@pytest.mark.parametrize("start, end, expected", [
    ("5", "12", range(5, 12)),
    ("0.5s", "1.2s", range(5, 12)),
    (2.0, None, range(20, FRAMES)),  # a float is seconds
    (None, 3, range(0, 3)),
    (28, 500, range(28, FRAMES)),
])
def test_start_and_end(videos: dict[str, Path], decoder: str, start, end, expected: range) -> None:
    source = VideoFile(videos["mp4v"], start=start, end=end, decoder=decoder, batch=4)
    frames = read_all(source)
    assert numbers(frames) == [f.index for f in frames] == list(expected)
    assert source.frame_count == len(expected)


@pytest.mark.parametrize("start, end, message", [
    ("5x", None, "neither a frame number"),
    (-1, None, "at least 0"),
    ("5", "0.3s", "not after start"),
    (FRAMES, None, "past the end"),
])
def test_bad_start_and_end(videos: dict[str, Path], start, end, message: str) -> None:
    with pytest.raises(AetrackError, match=message):
        VideoFile(videos["mp4v"], start=start, end=end)


class FailingReader:
    """A decord reader that fails from frame `fail_at` on, as decord does on streams it cannot decode."""

    def __init__(self, reader, fail_at: int) -> None:
        self.reader, self.fail_at = reader, fail_at

    def get_batch(self, indices: list[int]):
        if max(indices) >= self.fail_at:
            raise RuntimeError("decoding failed")
        return self.reader.get_batch(indices)


def test_decord_failing_part_way_continues_with_opencv(videos: dict[str, Path]) -> None:
    source = VideoFile(videos["mp4v"], batch=4)
    source._decord = FailingReader(source._decord, fail_at=13)
    frames = read_all(source)
    assert source.decoder == "opencv"
    assert numbers(frames) == [f.index for f in frames] == list(range(FRAMES))
    assert [f.time for f in frames] == pytest.approx([i / FPS for i in range(FRAMES)], abs=1e-4)


def test_decord_crashing_in_the_probe_leaves_opencv(videos: dict[str, Path], monkeypatch) -> None:
    monkeypatch.setattr(sources_file, "PROBE_CODE", "import os; os.abort()")
    source = VideoFile(videos["MJPG"])
    assert source.decoder == "opencv"
    assert numbers(read_all(source)) == list(range(FRAMES))


def test_truncated_avi_stops_at_the_last_good_frame_and_warns_once(videos: dict[str, Path], tmp_path: Path,
                                                                   caplog) -> None:
    data = videos["MJPG"].read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) * 6 // 10])
    with caplog.at_level(logging.WARNING):
        frames = read_all(open_source(cut))
    assert 5 < len(frames) < FRAMES
    assert numbers(frames) == list(range(len(frames)))
    assert [r.getMessage() for r in caplog.records].count(
        f"cut.avi: stopped at frame {len(frames)} of {FRAMES}; the rest cannot be decoded (truncated or damaged file?)"
    ) == 1


def test_vp9_clip_is_read_through_the_fallback(shared: Path) -> None:
    path = shared / "data" / "videos" / "sports2d_demo.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    capture = cv2.VideoCapture(str(path))
    count = 0
    with VideoFile(path) as source:
        assert (source.size, source.fps, source.frame_count) == ((1768, 994), 30.0, 230)
        for frame in source:  # decord 0.6 decodes a batch or none, by chance, then fails: OpenCV goes on
            ok, image = capture.read()
            assert ok and np.array_equal(frame.image, image)
            assert (frame.index, frame.time) == (count, pytest.approx(count / 30, abs=1e-3))
            count += 1
    capture.release()
    assert count == 230
    import decord
    if decord.__version__ == "0.6.0":  # the version this clip defeats; a later one may decode it
        assert source.decoder == "opencv"


# ---- bad input: one clear error, quickly --------------------------------------------------------------------

def bad_inputs(folder: Path, videos: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """name -> (spec, the error's gist) for each kind of input that must fail cleanly."""
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video at all\n")
    (folder / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    data = videos["mp4v"].read_bytes()  # OpenCV writes the index (moov) last: a cut file has none
    (folder / "truncated.mp4").write_bytes(data[:len(data) * 6 // 10])
    (folder / "no_images").mkdir()
    (folder / "no_images" / "notes.txt").write_text("no images here")
    (folder / "bad_images").mkdir()
    (folder / "bad_images" / "frame1.jpg").write_text("not an image")
    return {
        "missing": (str(folder / "nope.mp4"), "no such file"),
        "empty": (str(folder / "empty.mp4"), "empty"),
        "text": (str(folder / "text.mp4"), "not a video"),
        "noise": (str(folder / "noise.avi"), "not a video"),
        "truncated": (str(folder / "truncated.mp4"), "cut short"),
        "no images": (str(folder / "no_images"), "holds no images"),
        "bad images": (str(folder / "bad_images"), "can be read"),
        "camera": ("57", "camera 57 cannot be opened"),
        "url": ("rtsp://127.0.0.1:9/none", "cannot open stream"),
    }


@pytest.mark.parametrize("name", ["missing", "empty", "text", "noise", "truncated", "no images", "bad images",
                                  "camera", "url"])
def test_bad_input_gives_one_clear_error(name: str, tmp_path: Path, videos: dict[str, Path]) -> None:
    spec, gist = bad_inputs(tmp_path, videos)[name]
    started = time.monotonic()
    with pytest.raises(AetrackError, match=gist) as caught:
        open_source(spec)
    assert time.monotonic() - started < 5
    assert "\n" not in str(caught.value)


def test_silent_server_fails_within_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # listens, never answers
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(AetrackError, match="no video within 1 s"):
            open_source(f"rtsp://127.0.0.1:{port}/live", timeout=1.0)
        assert time.monotonic() - started < 4


def test_password_stays_out_of_messages() -> None:
    with pytest.raises(AetrackError) as caught:
        open_source("rtsp://user:secret@127.0.0.1:9/none")
    assert "secret" not in str(caught.value) and "user:***@" in str(caught.value)


def test_source_kind(tmp_path: Path, videos: dict[str, Path]) -> None:
    assert [source_kind(s) for s in (0, "1", "rtsp://cam/1", "http://x/y.mjpg", tmp_path, videos["MJPG"])] == [
        "camera", "camera", "url", "url", "folder", "file"]


# ---- image folders ------------------------------------------------------------------------------------------

def test_image_folder_in_natural_order_skipping_unreadable_images(tmp_path: Path, caplog) -> None:
    for n, suffix in [(1, ".png"), (2, ".jpg"), (3, ".bmp"), (10, ".png"), (11, ".webp")]:
        cv2.imwrite(str(tmp_path / f"frame{n}{suffix}"), numbered_image(n))
    (tmp_path / "frame5.jpg").write_text("not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING):
        source = open_source(tmp_path, fps=5)
        frames = read_all(source)
    assert numbers(frames) == [1, 2, 3, 10, 11]
    assert [f.index for f in frames] == [0, 1, 2, 4, 5]  # frame5.jpg keeps its place in the numbering
    assert [f.time for f in frames] == pytest.approx([0, 0.2, 0.4, 0.8, 1.0])
    assert (source.size, source.fps, source.frame_count, source.is_live) == ((W, H), 5, 6, False)
    assert any("frame5.jpg" in r.getMessage() for r in caplog.records)
    assert numbers(read_all(ImageFolder(tmp_path, start=1, end="0.6s", fps=5))) == [2, 3]


def test_natural_key() -> None:
    names = ["frame10.png", "frame2.png", "Frame1.png", "frame2b.png", "a.png"]
    assert sorted(names, key=natural_key) == ["a.png", "Frame1.png", "frame2.png", "frame2b.png", "frame10.png"]


# ---- network streams: a loopback MJPEG server ---------------------------------------------------------------

def test_stream_reconnects_after_the_server_restarts(caplog) -> None:
    first = MjpegServer(range(0, 8))
    seen: list[Frame] = []
    with caplog.at_level(logging.WARNING):
        with open_source(first.url, timeout=2.0, reconnect=Reconnect(attempts=4, delay=0.1)) as source:
            assert source.is_live and source.frame_count is None and source.size == (W, H)
            for frame in source:
                seen.append(frame)
                if len(seen) == 8:  # the first server has hung up: start another on the same port
                    assert first.closed.wait(5)
                    second = MjpegServer(range(100, 108), port=first.port)
    assert second.closed.wait(5)
    assert numbers(seen) == [*range(8), *range(100, 108)]
    assert [f.index for f in seen] == list(range(16))
    assert all(b.time >= a.time >= 0 for a, b in zip(seen, seen[1:]))
    messages = [r.getMessage() for r in caplog.records]
    assert f"{first.url} stopped; reconnecting" in messages
    assert f"{first.url} ended: 4 reconnection attempts failed" in messages


def test_realtime_stream_keeps_the_newest_frames() -> None:
    server = MjpegServer(range(40), interval=0.01)
    with open_source(server.url, realtime=True, reconnect=Reconnect(attempts=0)) as source:
        assert isinstance(source, ThreadedReader)
        seen = [next(source)]
        time.sleep(0.8)  # the consumer falls behind the stream
        seen += list(source)
    got = numbers(seen)
    assert got == sorted(got) and got[-1] == 39
    assert source.dropped > 0 and source.dropped + len(seen) == 40


def test_stream_start_and_end() -> None:
    server = MjpegServer(range(8))
    with open_source(server.url, start=2, end="5", reconnect=Reconnect(attempts=0), queue_size=0) as source:
        frames = list(source)
    assert numbers(frames) == [f.index for f in frames] == [2, 3, 4]


def test_reconnect_waits_grow_up_to_the_cap() -> None:
    assert list(Reconnect(attempts=5, delay=0.5, backoff=2.0, max_delay=3.0).delays()) == [0.5, 1, 2, 3, 3]
    assert list(Reconnect(attempts=0).delays()) == []


# ---- the reader thread --------------------------------------------------------------------------------------

class Counting(FrameSource):
    """A fake live source: `count` tiny frames, `delay` seconds apart, then `error` if given."""

    def __init__(self, count: int, error: Exception | None = None, delay: float = 0.0) -> None:
        super().__init__("counting", fps=30.0, size=(4, 2), frame_count=None, is_live=True)
        self.count, self.error, self.delay = count, error, delay

    def _frames(self) -> Iterator[Frame]:
        for i in range(self.count):
            yield Frame(i, i / 30, np.full((2, 4, 3), i % 256, np.uint8))
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error


def test_reader_thread_passes_frames_in_order_then_raises_its_error() -> None:
    seen = []
    with pytest.raises(AetrackError, match="camera unplugged"):
        with ThreadedReader(Counting(20, AetrackError("camera unplugged")), maxsize=3) as reader:
            for frame in reader:
                seen.append(frame.index)
    assert seen == list(range(20)) and reader.dropped == 0


def test_reader_thread_dropping_old_frames_keeps_the_newest() -> None:
    with ThreadedReader(Counting(200), maxsize=1, drop_old=True) as reader:
        seen = [next(reader).index]
        time.sleep(0.3)
        seen += [f.index for f in reader]
    assert seen == sorted(seen) and seen[-1] == 199
    assert reader.dropped > 0 and reader.dropped + len(seen) == 200


@pytest.mark.parametrize("how", ["close", "interrupt", "generator"])
def test_closing_stops_the_reader_thread_promptly(how: str) -> None:
    source = Counting(10**9, delay=0.001)
    reader = ThreadedReader(source, maxsize=4)

    def frames() -> Iterator[Frame]:
        with reader:
            yield from reader

    started = time.monotonic()
    if how == "close":
        next(reader)
        reader.close()
    elif how == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            with reader:
                next(reader)
                raise KeyboardInterrupt
    else:
        gen = frames()
        next(gen)
        gen.close()
    assert time.monotonic() - started < 1.0
    assert not reader._thread.is_alive() and source._closed
