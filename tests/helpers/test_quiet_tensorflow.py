"""TensorFlow's start-up log lines stay out of the CLI's stderr (helpers.quiet_tensorflow).

The notebooks are checked in a real browser by tests/instructor/test_browser.py (no stderr boxes).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.quiet_tensorflow import ABSL_BANNER, filter_log_text, filtered_stderr, log_level

# Lines as TensorFlow 2.21 prints them on a CPU-only machine (the input of the filter).
BANNER = f"WARNING: {ABSL_BANNER} is called are written to STDERR\n"
ONEDNN = ("I0000 00:00:1795922910.570762    5144 port.cc:153] oneDNN custom operations are on. "
          "You may see slightly different numerical results.\n")
CUDA_DRIVERS = ("I0000 00:00:1795922910.578649    5144 cudart_stub.cc:31] Could not find cuda "
                "drivers on your machine, GPU will not be used.\n")
CPU_GUARD = ("I0000 00:00:1795922927.262286    5279 cpu_feature_guard.cc:227] This TensorFlow "
             "binary is optimized to use available CPU instructions.\n"
             "To enable the following instructions: AVX2 FMA, rebuild TensorFlow.\n")
CUINIT = ("E0000 00:00:1795922930.428818    5279 cuda_platform.cc:52] failed call to cuInit: "
          "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
WARN = "W0000 00:00:1795922930.428818    5279 op_kernel.cc:1840] something to look at\n"
REAL_ERROR = "E0000 00:00:1795922930.428818    5279 status.cc:12] Op failed: out of memory\n"
FATAL = "F0000 00:00:1795922930.428818    5279 check.cc:9] Check failed: x > 0\n"
NOISE = BANNER + ONEDNN + CUDA_DRIVERS + CPU_GUARD + BANNER + ONEDNN + CUDA_DRIVERS + CUINIT
NOISE_MARKERS = ("absl::InitializeLog", "Could not find cuda drivers", "cuInit", "oneDNN custom operations")


def test_level_2_drops_every_startup_line_and_keeps_real_errors():
    text = "python says hi\n" + NOISE + WARN + REAL_ERROR + FATAL
    assert filter_log_text(text, 2) == "python says hi\n" + REAL_ERROR + FATAL


def test_level_1_keeps_warnings_level_3_drops_errors_but_not_fatal():
    assert filter_log_text(NOISE + WARN + REAL_ERROR, 1) == WARN + REAL_ERROR
    assert filter_log_text(NOISE + WARN + REAL_ERROR + FATAL, 3) == FATAL


def test_level_0_shows_everything():
    assert filter_log_text(NOISE + WARN, 0) == NOISE + WARN


def test_continuation_lines_follow_their_record():
    # The second line of cpu_feature_guard's message goes with it.
    assert filter_log_text(CPU_GUARD + REAL_ERROR + "  detail of the error\n", 2) \
        == REAL_ERROR + "  detail of the error\n"


@pytest.mark.parametrize("value, level", [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("9", 3),
                                          ("-1", 0), ("verbose", 0)])
def test_log_level_reads_tf_cpp_min_log_level(value, level):
    assert log_level({"TF_CPP_MIN_LOG_LEVEL": value}) == level


def test_filtered_stderr_works_on_the_file_descriptor(capfd):
    os.write(2, b"before\n")
    with filtered_stderr(2):
        os.write(2, b"kept line\n" + NOISE.encode())
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nkept line\nafter\n"


def test_python_stderr_bypasses_the_filter():
    """A Python warning printed after a dropped record must not be taken for its continuation."""
    code = ("import os, sys, warnings\n"
            "from helpers.quiet_tensorflow import filtered_stderr\n"
            "with filtered_stderr(2):\n"
            f"    os.write(2, {ONEDNN.encode()!r})\n"
            "    warnings.warn('a real python warning')\n"
            "    print('python line', file=sys.stderr)\n"
            "print('after', file=sys.stderr)\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert any("UserWarning: a real python warning" in line for line in lines), proc.stderr
    assert "python line" in lines and lines[-1] == "after" and "oneDNN" not in proc.stderr


def test_filtered_stderr_writes_back_even_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError):
        with filtered_stderr(2):
            os.write(2, CUINIT.encode() + REAL_ERROR.encode())
            raise RuntimeError("import failed")
    assert capfd.readouterr().err == REAL_ERROR


def _run(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=300)


@pytest.mark.slow
def test_songrec_train_stderr_has_no_tensorflow_noise(tmp_path):
    """The console script, as a user runs it: stderr holds songrec's own lines only."""
    songrec = Path(sys.executable).with_name("songrec")
    cmd = [str(songrec)] if songrec.exists() else [sys.executable, "-m", "helpers"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([*cmd, "train", "--synthetic", "--out", str(tmp_path / "run"),
                           "--epochs", "1", "--dim", "8", "--batch-size", "256"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "saved run to" in proc.stderr
    noisy = [line for line in proc.stderr.splitlines() if any(m in line for m in NOISE_MARKERS)]
    assert not noisy, f"TensorFlow noise in songrec's stderr: {noisy}"


@pytest.mark.slow
def test_keras_import_after_helpers_is_quiet_and_level_0_still_shows_the_lines():
    code = "import helpers, keras, tensorflow as tf; tf.constant(1.0) + 1.0; print('ran')"
    quiet = _run(code, TF_CPP_MIN_LOG_LEVEL="2")
    assert quiet.returncode == 0 and quiet.stdout.strip() == "ran", quiet.stderr
    assert not [m for m in NOISE_MARKERS if m in quiet.stderr], quiet.stderr
    raw = _run("import tensorflow as tf; tf.constant(1.0) + 1.0", TF_CPP_MIN_LOG_LEVEL="0")
    loud = _run(code, TF_CPP_MIN_LOG_LEVEL="0")
    # Whatever this TensorFlow build prints on start-up reaches the user at level 0.
    assert [m for m in NOISE_MARKERS if m in loud.stderr] == [m for m in NOISE_MARKERS if m in raw.stderr]
