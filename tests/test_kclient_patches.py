"""kclient as step 7 patches it, on the real kclient tree of the pinned commit.

The pages ask only for scripts that exist; the microphone button is wired to the pipe PulseAudio
reads, and only on the interactive page; the file manager ships only with file_transfer = true.
The trees come from the input mirror's bundle (see tests/test_web_client.py), which the tests
skip without, saying so. tests/test_kclient_runtime.py runs the patched server for real.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import COMMON_BUILD, VERSIONS, patched_kclient

KCLIENT = VERSIONS["kclient"]
PULSE_SCRIPT = COMMON_BUILD.parents[1] / "common/root/etc/helios/pulse/default.pa"


def script_sources(html: str) -> Iterator[str]:
    yield from re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", html)


def ejs_branches(html: str) -> tuple[str, str]:
    """The page as the interactive and as the view-only route render it (kclient's ejs `viewonly`).

    Only the `<% if(viewonly){ %> a <% } else { %> b <% } %>` and `<% if(!viewonly){ %> ... <% } %>`
    forms the patches use are understood; anything else fails the test that calls this.
    """
    pattern = re.compile(r"<% if\((!?)viewonly\)\{ %>(.*?)(?:<% \} else \{ %>(.*?))?<% \} %>", re.S)

    def render(viewonly: bool) -> str:
        def pick(match: re.Match[str]) -> str:
            negated, then, otherwise = match.group(1) == "!", match.group(2), match.group(3) or ""
            return then if viewonly != negated else otherwise

        return pattern.sub(pick, html)

    return render(False), render(True)


@pytest.mark.parametrize("file_transfer", [False, True], ids=["default", "file-transfer"])
def test_patched_pages_reference_no_missing_script(tmp_path: Path, file_transfer: bool) -> None:
    tree = patched_kclient(tmp_path, file_transfer=file_transfer)
    server = (tree / "index.js").read_text()
    # socket.io serves its client script under each socket's path; everything else is a file that
    # the /public route serves from the tree.
    socket_paths = set(re.findall(r"SUBFOLDER\s*\+\s*'([^']*socket\.io)'", server))
    assert socket_paths, "no socket.io path found in kclient's index.js"
    pages = sorted((tree / "public").glob("*.html"))
    assert pages
    missing = []
    for page in pages:
        for src in script_sources(page.read_text()):
            if src.removesuffix("/socket.io.js") in socket_paths:
                continue
            if re.match(r"^[a-z]+:|^//", src) or not (tree / src.split("?")[0]).is_file():
                missing.append(f"{page.name}: {src}")
    assert not missing, f"pages ask for scripts that do not exist: {missing}"
    for page in pages:  # every icon of the control bar exists too
        for src in re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", page.read_text()):
            assert (tree / src).is_file(), f"{page.name}: {src}"


def test_the_microphone_button_is_wired_on_the_interactive_page_only(tmp_path: Path) -> None:
    tree = patched_kclient(tmp_path)
    interactive, view_only = ejs_branches((tree / "public/index.html").read_text())
    button = re.search(r"<img\b[^>]*\bid=\"micButton\"[^>]*>", interactive)
    assert button, "the interactive page has no microphone button"
    assert 'onclick="mic()"' in button.group(0)
    assert 'id="audioButton"' in interactive and 'id="audioButton"' in view_only
    assert "micButton" not in view_only, "the view-only page must not offer the microphone"
    client = (tree / "public/js/kclient.js").read_text()
    assert re.search(r"^function mic\(\)", client, re.M)
    assert "navigator.mediaDevices.getUserMedia" in client
    assert "window.isSecureContext" in client, "an insecure page must say why there is no microphone"
    assert "socket.emit('micdata'" in client
    server = (tree / "index.js").read_text()
    assert "socket.on('micdata', micData)" in server
    assert "process.env.MIC_SOCKET" in server
    # The view-only page's socket is served with the microphone refused.
    assert re.search(r"audioServer\(SUBFOLDER \+ 'view-only/audio/socket\.io', false\)", server)


def pipe_source_format() -> dict[str, str]:
    line = next(line for line in PULSE_SCRIPT.read_text().splitlines() if "module-pipe-source" in line)
    return dict(re.findall(r"(\w+)=(\S+)", line))


def test_the_client_sends_the_format_the_pulseaudio_pipe_reads(tmp_path: Path) -> None:
    """The browser's samples must be what module-pipe-source is told to read: rate, mono, S16LE."""
    tree = patched_kclient(tmp_path)
    client = (tree / "public/js/kclient.js").read_text()
    pulse = pipe_source_format()
    assert pulse["format"] == "s16le" and pulse["channels"] == "1"
    rate = re.search(r"^var MIC_RATE = (\d+);", client, re.M)
    assert rate and rate.group(1) == pulse["rate"]
    assert "Int16Array" in client  # 16-bit samples, little-endian on every browser platform


def resample(tree: Path, rate: int, blocks: list[list[float]]) -> list[int]:
    """Run the patched client's own micResampler (cut out of kclient.js) under node."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    client = (tree / "public/js/kclient.js").read_text()
    start = client.index("var MIC_RATE")
    source = client[start : client.index("\nfunction micOff")]
    program = (
        f"{source}\nconst r = micResampler({rate}); const out = [];\n"
        f"for (const b of {json.dumps(blocks)}) out.push(...r(Float32Array.from(b)));\n"
        "console.log(JSON.stringify(out));"
    )
    result = subprocess.run(["node", "-"], input=program, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_microphone_samples_are_resampled_to_the_pipe_rate_across_blocks(tmp_path: Path) -> None:
    tree = patched_kclient(tmp_path)
    rate, tone, seconds = 48000, 440.0, 0.5
    signal = [0.5 * math.sin(2 * math.pi * tone * n / rate) for n in range(int(rate * seconds))]
    blocks = [signal[i : i + 1024] for i in range(0, len(signal), 1024)]
    out = resample(tree, rate, blocks)
    assert abs(len(out) - 44100 * seconds) <= 2, len(out)
    # Sample k is the tone at k / 44100 s, block boundaries included (linear interpolation error).
    worst = max(abs(v - 0.5 * 32767 * math.sin(2 * math.pi * tone * k / 44100)) for k, v in enumerate(out))
    assert worst < 0.002 * 32767, worst
    # Full scale and beyond is clipped, not wrapped around.
    assert resample(tree, 44100, [[1.5, -1.5, 1.0, -1.0]])[:3] == [32767, -32768, 32767]


FILE_SERVER_FILES = ("public/filebrowser.html", "public/js/filebrowser.js", "public/css/filebrowser.css")


def test_no_file_server_ships_by_default(tmp_path: Path) -> None:
    tree = patched_kclient(tmp_path)
    for name in (*FILE_SERVER_FILES, "public/css/files.svg"):
        assert not (tree / name).exists(), name
    server = (tree / "index.js").read_text()
    assert "files/socket.io" not in server and "'/files'" not in server and "FM_HOME" not in server
    assert "fileButton" not in (tree / "public/index.html").read_text()


def test_file_transfer_brings_the_file_manager_back_for_the_home_only(tmp_path: Path) -> None:
    tree = patched_kclient(tmp_path, file_transfer=True)
    for name in (*FILE_SERVER_FILES, "public/css/files.svg"):
        assert (tree / name).is_file(), name
    server = (tree / "index.js").read_text()
    assert "SUBFOLDER + 'files/socket.io'" in server
    assert "process.env.FM_HOME || process.env.HOME" in server
    interactive, view_only = ejs_branches((tree / "public/index.html").read_text())
    assert 'id="fileButton"' in interactive and 'id="files_frame"' in interactive
    assert "fileButton" not in view_only and "files_frame" not in view_only
    page = (tree / "public/js/filebrowser.js").read_text()
    assert "attr('onclick'" not in page, "rows must not build onclick code from file names"
    assert "transports: ['websocket']" in page
