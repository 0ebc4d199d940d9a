"""What the `aistack serve` test modules share: starting the server on a free port, its log, and
stopping it. The `tool` fixture (the aistack program) is in conftest.py."""
import signal
import subprocess
import tempfile


def start(tool, repo, *extra, scheme="http"):
    """Starts `aistack serve` on 127.0.0.1 with --port 0; returns (process, "host:port") once it
    printed its listening line."""
    # stderr (the access log) into a file: a pipe nobody reads would fill and block the server
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([tool, "serve", "--model-repository", repo, "--port", "0", "--threads",
                          "2", *extra], stdout=subprocess.PIPE, stderr=err, text=True)
    p.err = err
    line = p.stdout.readline()
    if not line.startswith(f"listening on {scheme}://"):
        p.kill()
        p.wait()
        raise AssertionError(f"no listening line: {line!r} {log(p)}")
    return p, line.split("://")[1].strip()


def log(p):
    """Everything the server wrote to stderr so far (the access log, errors)."""
    p.err.seek(0)
    return p.err.read()


def stop(p):
    """SIGTERM, then the server must exit 0 within 30 s."""
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    assert rc == 0, log(p)
