#!/usr/bin/env python3
"""`loom chat` through a real pseudo-terminal (tmux), as a person uses it: the prompt,
streamed replies, Ctrl-C during a reply (the prompt comes back and the next message works),
/set, /save and /load, the history file, and Ctrl-D or Ctrl-C on an empty line leaving with
status 0.

Environment: LOOM_BIN (the loom binary), LOOM_SHARED_DIR (the test data)."""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

LOOM = os.environ["LOOM_BIN"]
SHARED = os.environ["LOOM_SHARED_DIR"]
# A tmux server of our own: other tmux users (and parallel runs) are never touched.
SOCKET = f"loom-chat-test-{os.getpid()}"


if shutil.which("tmux") is None:
    sys.exit("chat_terminal_test: tmux is not installed (scripts/setup.sh --tests installs it)")


def tmux(*args):
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True,
                          text=True).stdout


class Pane:
    """One tmux session running one command; always killed by close()."""

    def __init__(self, name, argv, env, status_file):
        self.name = name
        self.status_file = status_file
        command = " ".join(shlex.quote(a) for a in ["env", *[f"{k}={v}" for k, v in env.items()],
                                                    *argv])
        # bash writes loom's exit status down. (bash, unlike dash, goes on after a child
        # that handled Ctrl-C itself.)
        script = f"{command}; echo $? > {shlex.quote(status_file)}; sleep 600"
        tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", "bash", "-c", script)

    def text(self):
        return tmux("capture-pane", "-p", "-J", "-t", self.name, "-S", "-2000")

    def exit_status(self):
        """loom's exit status, or None while it runs."""
        try:
            with open(self.status_file, encoding="utf-8") as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def keys(self, *keys):
        tmux("send-keys", "-t", self.name, *keys)

    def type(self, text):
        tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, predicate, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.text()
            if predicate(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen:\n{self.text()}")

    def wait_prompt(self, after, what):
        """Waits until the screen ends with an empty prompt and has grown past `after`."""

        def ready(text):
            lines = text.rstrip("\n").split("\n")
            return len(text) > after and lines[-1] == "> "

        return self.wait_for(ready, what)

    def wait_exit(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.exit_status()
            if status is not None:
                return status
            time.sleep(0.1)
        raise AssertionError(f"loom did not exit; the screen:\n{self.text()}")

    def close(self):
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", self.name],
                       capture_output=True)


def main(work):
    model = os.path.join(work, "tinyllama-2layers.gguf")
    # A real-size vocabulary and layer width, two layers: replies take seconds, so Ctrl-C
    # surely arrives while one is being generated.
    subprocess.run([LOOM, "synth", "--shape", "tinyllama-1.1b", "--type", "q4_0", "--layers", "2",
                    "--tokenizer", f"{SHARED}/tokenizer-tests/ggml-vocab-llama-spm.gguf",
                    "-o", model], check=True, capture_output=True)
    state = os.path.join(work, "state")
    env = {"XDG_STATE_HOME": state, "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    session = f"loom-chat-test-{os.getpid()}"
    command = [LOOM, "chat", "-m", model, "-t", "1", "-c", "1024", "-n", "600", "--ignore-eos",
               "--temp", "0"]
    pane = Pane(session, command, env, os.path.join(work, "status1"))
    try:
        text = pane.wait_prompt(0, "the first prompt")
        assert "/help" in text, text

        # A short reply (a setting changed for it), streamed, and the prompt again.
        pane.type("/set n-predict 8")
        pane.keys("Enter")
        before = len(pane.wait_prompt(len(text), "/set"))
        pane.type("Hello there")
        pane.keys("Enter")
        text = pane.wait_prompt(before, "the first reply")
        reply = text[text.rindex("> Hello there") + len("> Hello there"):].strip()
        assert reply and not reply.startswith(">"), text

        # A bad value is an error naming it; the chat goes on.
        pane.type("/set temp warm")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/set temp warm")
        assert "temp warm" in text and "error" in text, text

        # Ctrl-C during a long reply stops it; the prompt comes back.
        pane.type("/set n-predict 600")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/set n-predict")
        pane.type("Tell me a long story")
        pane.keys("Enter")
        start = len(text)
        pane.wait_for(lambda t: len(t.rstrip()) > start + len("Tell me a long story") + 20,
                      "the reply to start")
        pane.keys("C-c")
        text = pane.wait_prompt(start, "the prompt after Ctrl-C")
        assert "[interrupted]" in text, text
        assert pane.exit_status() is None, text

        # The next message works, and the conversation has all three turns.
        pane.type("/set n-predict 4")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/set")
        pane.type("And then?")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "the reply after the interrupted one")
        saved = os.path.join(work, "conversation.json")
        pane.type(f"/save {saved}")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/save")
        assert "saved 6 messages" in text, text
        pane.type("/reset")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/reset")
        pane.type(f"/load {saved}")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/load")
        assert "loaded 6 messages (3 turns)" in text, text
        pane.type("/stats")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/stats")
        assert "context used" in text, text

        # Ctrl-C with text typed drops the text; Ctrl-D on an empty line leaves with 0.
        pane.type("not sent")
        pane.keys("C-c")
        text = pane.wait_prompt(len(text), "the prompt after Ctrl-C on a line")
        assert pane.exit_status() is None, text
        pane.keys("C-d")
        assert pane.wait_exit() == 0, pane.text()
    finally:
        pane.close()

    # The history file has the lines typed, not the one dropped by Ctrl-C.
    history = open(os.path.join(state, "loom", "chat_history"), encoding="utf-8").read()
    assert "Hello" in history and "And" in history, history
    assert "not sent" not in history and "not\\040sent" not in history, history

    # Ctrl-C on an empty prompt leaves with status 0 too; an unwritable history is no error.
    env["XDG_STATE_HOME"] = "/proc/loom-cannot-write-here"
    pane = Pane(session + "-2", command, env, os.path.join(work, "status2"))
    try:
        text = pane.wait_prompt(0, "the first prompt")
        pane.type("/set n-predict 2")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "/set")
        pane.type("Hi")
        pane.keys("Enter")
        text = pane.wait_prompt(len(text), "a reply with history not writable")
        pane.keys("C-c")
        assert pane.wait_exit() == 0, pane.text()
    finally:
        pane.close()
    print("ok")


if __name__ == "__main__":
    work_dir = tempfile.mkdtemp(prefix="loom_chat_terminal_")
    try:
        main(work_dir)
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        socket_dir = os.path.join(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}")
        if os.path.exists(os.path.join(socket_dir, SOCKET)):
            os.remove(os.path.join(socket_dir, SOCKET))
