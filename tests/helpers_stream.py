"""Test helpers for live streams: numbered frames and a loopback MJPEG-over-HTTP server that sends them."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

W, H = 128, 96  # 8 blocks of 16 pixels: a frame number up to 255 survives mp4v and JPEG compression
BLOCK = 16


def numbered_image(number: int) -> np.ndarray:
    """A (H, W, 3) BGR image with `number` written as 8 black or white blocks along its top, blue below."""
    image = np.full((H, W, 3), 96, np.uint8)
    image[H // 2:] = (255, 0, 0)  # BGR blue: shows a reader that returns RGB
    for bit in range(8):
        value = 255 if number >> bit & 1 else 0
        image[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = value
    return image


class MjpegServer:
    """An HTTP server on loopback sending `values` as an MJPEG stream to one client, then closing for good."""

    def __init__(self, values: Iterable[int], port: int = 0, interval: float = 0.005) -> None:
        self.closed = threading.Event()
        jpegs = [cv2.imencode(".jpg", numbered_image(n))[1].tobytes() for n in values]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for jpeg in jpegs:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                     % (len(jpeg), jpeg))
                    time.sleep(interval)
                self.wfile.write(b"--frame--\r\n")
                threading.Thread(target=server.stop).start()  # later connections are refused

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.http.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.closed.set()
