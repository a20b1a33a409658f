"""Hardware encoders are found by a test encode, not by listing: a listed encoder that fails is skipped."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from providers.errors import ConfigurationError
from providers.media.encoders import choose_encoder, encoder_setup, hardware_encoders, listed_encoders, try_encode
from providers.media.process import ffmpeg_exe

# A stand-in ffmpeg for a machine with a working VAAPI GPU and a listed but broken NVENC: it lists
# both, and runs the real ffmpeg with h264_vaapi swapped for libx264 (so that a real file comes out).
FAKE = """#!{python}
import os, sys
real = {real!r}
args = sys.argv[1:]
if "-encoders" in args:
    print(" V....D libx264  libx264 H.264\\n V....D h264_nvenc  NVIDIA NVENC\\n V....D h264_vaapi  VAAPI H.264")
    sys.exit(0)
out = []
skip = 0
for i, a in enumerate(args):
    if skip:
        skip -= 1
        continue
    if a == "-vaapi_device" or a in ("-rc_mode", "-qp"):
        skip = 1
        continue
    out.append(a.replace("h264_vaapi", "libx264").replace(",format=nv12,hwupload", ""))
os.execv(real, [real, *out])
"""


@pytest.fixture
def fake_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "ffmpeg"
    path.write_text(FAKE.format(python=sys.executable, real=ffmpeg_exe()))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    hardware_encoders.cache_clear()
    listed_encoders.cache_clear()
    return str(path)


def test_software_encoders_pass_the_test_encode() -> None:
    assert try_encode("libx264")
    assert not try_encode("no_such_encoder")


def test_a_listed_encoder_that_fails_its_test_encode_is_not_used(fake_ffmpeg: str) -> None:
    assert {"h264_nvenc", "h264_vaapi"} <= listed_encoders(fake_ffmpeg)
    assert hardware_encoders("h264", fake_ffmpeg) == ("h264_vaapi",)  # nvenc is listed but has no GPU here
    assert choose_encoder("h264", "auto", fake_ffmpeg) == "h264_vaapi"
    assert choose_encoder("h264", "software", fake_ffmpeg) == "libx264"
    with pytest.raises(ConfigurationError, match="test encode failed"):
        choose_encoder("h264", "h264_nvenc", fake_ffmpeg)


def test_without_hardware_auto_falls_back_to_software() -> None:
    if not hardware_encoders("h264"):
        assert choose_encoder("h264", "auto") == "libx264"
        assert choose_encoder("hevc", "auto") == "libx265"
    with pytest.raises(ConfigurationError, match="unknown encoder"):
        choose_encoder("h264", "h264_bogus")


def test_encoder_arguments_force_a_clean_last_key_frame() -> None:
    x264 = encoder_setup("libx264", "veryfast", 23, frames=100)
    assert x264.output_args[:6] == ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    assert "expr:eq(n,99)" in x264.output_args
    x265 = encoder_setup("libx265", "medium", 24, frames=10)
    assert "hvc1" in x265.output_args and "-forced-idr" in x265.output_args
    nvenc = encoder_setup("h264_nvenc", "veryfast", 23, frames=10)
    assert nvenc.output_args[nvenc.output_args.index("-cq") + 1] == "23" and "-forced-idr" in nvenc.output_args
    vaapi = encoder_setup("h264_vaapi", "veryfast", 23, frames=10)
    assert vaapi.input_args[0] == "-vaapi_device" and vaapi.filter_tail.endswith("hwupload")
