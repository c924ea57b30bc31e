"""macOS runs what Linux runs: no Linux-only API in the tuner package, the Lambdas or the examples.

Read with ``ast`` (nothing is imported): every ``os.x``, ``signal.x``, ... reached through an
``import`` (aliases and ``from m import x`` included), every import of a Linux-only module, and every
string naming a Linux-only path (``/proc``, ``/sys``, ``/dev/shm``, ``libc.so.6``). A use guarded by
``hasattr(module, "name")``, by a ``sys.platform`` test, or inside ``try: ... except
AttributeError`` is a portable fallback and passes. Each finding names ``file:line`` and the
portable alternative. POSIX calls macOS has (``os.killpg``, ``start_new_session``,
``preexec_fn=os.setpgrp``, ``signal.SIGKILL``) are fine (docs/training-scripts.md, Platforms).

The table lists what the Python documentation marks "Availability: Linux" (or says is not
available on macOS) among the modules this code base could plausibly reach for.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.builders import ROOT

SCANNED = (ROOT / "layers" / "tuner" / "python" / "tuner", ROOT / "lambdas", ROOT / "examples")

_NO_HANDLE = "no portable equivalent: do without it, behind hasattr(...)"

# qualified name (fnmatch pattern) -> the portable alternative
LINUX_ONLY: dict[str, str] = {
    "os.sched_getaffinity": "os.cpu_count() (os.process_cpu_count() on Python 3.13+)",
    "os.sched_setaffinity": "leave CPU placement to the OS; bound the thread pools (OMP_NUM_THREADS)",
    "os.pidfd_open": "subprocess.Popen.wait()/poll(), or os.waitpid",
    "os.memfd_create": "tempfile.TemporaryFile / tempfile.SpooledTemporaryFile",
    "os.posix_fadvise": "drop the hint (a plain read)",
    "os.posix_fallocate": "os.ftruncate, or write the bytes",
    "os.eventfd*": "os.pipe(), or threading.Event",
    "os.pipe2": "os.pipe() then os.set_blocking / os.set_inheritable",
    "os.splice": "shutil.copyfileobj",
    "os.copy_file_range": "shutil.copyfile",
    "os.getrandom": "os.urandom / secrets",
    "os.fdatasync": "os.fsync",
    "os.[gs]etxattr": "a side file (or " + _NO_HANDLE + ")",
    "os.listxattr": "a side file (or " + _NO_HANDLE + ")",
    "os.removexattr": "a side file (or " + _NO_HANDLE + ")",
    "os.[gs]etres[ug]id": "os.getuid / os.geteuid / os.setuid",
    "os.unshare": _NO_HANDLE,
    "os.setns": _NO_HANDLE,
    "os.O_DIRECT": "drop the flag (buffered I/O)",
    "os.O_TMPFILE": "tempfile.TemporaryFile",
    "os.O_NOATIME": "drop the flag",
    "os.O_PATH": "os.open without it, or pathlib",
    "os.O_LARGEFILE": "drop the flag (Python opens large files anyway)",
    "os.MFD_*": "tempfile.TemporaryFile",
    "os.EFD_*": "os.pipe(), or threading.Event",
    "os.SPLICE_F_*": "shutil.copyfileobj",
    "os.POSIX_FADV_*": "drop the hint",
    "os.GRND_*": "os.urandom / secrets",
    "os.XATTR_*": _NO_HANDLE,
    "os.RWF_*": "os.pread / os.pwrite without flags",
    "os.CLONE_*": _NO_HANDLE,
    "os.SCHED_BATCH": "os.nice",
    "os.SCHED_IDLE": "os.nice",
    "os.SCHED_RESET_ON_FORK": "drop the flag",
    "select.epoll": "selectors.DefaultSelector (kqueue on macOS, epoll on Linux)",
    "select.EPOLL*": "selectors.EVENT_READ / EVENT_WRITE",
    "signal.SIGRTMIN": "signal.SIGUSR1 / SIGUSR2",
    "signal.SIGRTMAX": "signal.SIGUSR1 / SIGUSR2",
    "signal.SIGPWR": "signal.SIGTERM",
    "signal.SIGSTKFLT": "drop it",
    "signal.SIGPOLL": "signal.SIGIO",
    "signal.SIGCLD": "signal.SIGCHLD",
    "signal.sigtimedwait": "signal.sigwait, or a handler that sets a threading.Event",
    "signal.sigwaitinfo": "signal.sigwait, or a handler that sets a threading.Event",
    "signal.pidfd_send_signal": "os.kill / os.killpg",
    "resource.prlimit": "resource.setrlimit in the process itself (or preexec_fn of its child)",
    "resource.RLIMIT_MSGQUEUE": "drop the limit (macOS has none)",
    "resource.RLIMIT_NICE": "os.nice / os.setpriority",
    "resource.RLIMIT_RTPRIO": "drop the limit (macOS has none)",
    "resource.RLIMIT_RTTIME": "resource.RLIMIT_CPU",
    "resource.RLIMIT_SIGPENDING": "drop the limit (macOS has none)",
    "resource.RLIMIT_LOCKS": "drop the limit (macOS has none)",
    "time.CLOCK_BOOTTIME": "time.monotonic()",
    "time.CLOCK_TAI": "time.time()",
    "socket.SOCK_NONBLOCK": "sock.setblocking(False)",
    "socket.SOCK_CLOEXEC": "nothing: Python's sockets are not inherited by default (PEP 446)",
    "socket.AF_PACKET": _NO_HANDLE,
    "socket.AF_NETLINK": _NO_HANDLE,
    "socket.SO_PEERCRED": "socket.LOCAL_PEERCRED on macOS (behind hasattr)",
    "socket.TCP_KEEPIDLE": "socket.TCP_KEEPALIVE on macOS (behind hasattr)",
    "fcntl.F_[GS]ETPIPE_SZ": "drop it (the default pipe size)",
    "fcntl.F_OFD_*": "fcntl.lockf / fcntl.flock",
    "fcntl.F_ADD_SEALS": "tempfile, without seals",
    "fcntl.F_GET_SEALS": "tempfile, without seals",
    "fcntl.F_SEAL_*": "tempfile, without seals",
    "fcntl.F_[GS]ETLEASE": "fcntl.flock",
    "fcntl.F_NOTIFY": "polling os.stat, or the watchdog package",
    "fcntl.DN_*": "polling os.stat, or the watchdog package",
    "mmap.MAP_POPULATE": "drop the flag",
}
# modules only Linux has
LINUX_MODULES: dict[str, str] = {
    "prctl": "drop it (process names: setproctitle is portable)",
    "inotify": "polling os.stat, or the watchdog package",
    "inotify_simple": "polling os.stat, or the watchdog package",
    "pyinotify": "polling os.stat, or the watchdog package",
    "pyudev": _NO_HANDLE,
    "systemd": _NO_HANDLE,
}
LINUX_PATHS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/proc(/|$)"), "os / resource / psutil calls (os.getpid, resource.getrusage, os.cpu_count)"),
    (re.compile(r"^/sys(/|$)"), "os.cpu_count / platform; no /sys on macOS"),
    (re.compile(r"^/dev/shm(/|$)"), "tempfile.gettempdir(), or multiprocessing.shared_memory"),
    (re.compile(r"libc\.so\.6"), 'ctypes.util.find_library("c")'),
]
GUARD_ERRORS = {"AttributeError", "ImportError", "ModuleNotFoundError", "OSError", "NotImplementedError"}


def _alternative(name: str) -> str | None:
    for pattern, alternative in LINUX_ONLY.items():
        if fnmatchcase(name, pattern):
            return alternative
    return None


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything else (a call, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _mentions(test: ast.AST, attr: str) -> bool:
    """The test is a portability check for ``attr``: ``hasattr(m, "attr")`` or a ``sys.platform``
    / ``os.name`` / ``platform.system()`` comparison."""
    for node in ast.walk(test):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            if len(node.args) == 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == attr:
                return True
        dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
        if dotted in (["sys", "platform"], ["os", "name"], ["platform", "system"]):
            return True
    return False


def _guarded(parents: list[ast.AST], attr: str) -> bool:
    for parent in parents:
        if isinstance(parent, ast.If | ast.IfExp | ast.While) and _mentions(parent.test, attr):
            return True
        if isinstance(parent, ast.Try):
            for handler in parent.handlers:
                caught = handler.type
                names = [caught] if not isinstance(caught, ast.Tuple) else list(caught.elts)
                if any(isinstance(n, ast.Name) and n.id in GUARD_ERRORS for n in names):
                    return True
    return False


def findings_in(source: str, label: str) -> list[str]:
    """``label:line: what -- portable: alternative`` for each Linux-only use in ``source``."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> qualified name (a module, or a module's member)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name != "*":
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    out: list[str] = []

    def visit(node: ast.AST, parents: list[ast.AST]) -> None:
        line = getattr(node, "lineno", 0)
        found: tuple[str, str] | None = None
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in LINUX_MODULES and not _guarded(parents, top):
                    out.append(f"{label}:{line}: import {name} (Linux-only module) -- portable: {LINUX_MODULES[top]}")
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    qualified = f"{node.module}.{a.name}"
                    alternative = _alternative(qualified)
                    if alternative and not _guarded(parents, a.name):
                        found = (qualified, alternative)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            dotted = _dotted(node)
            if dotted and dotted[0] in aliases:
                qualified = ".".join([aliases[dotted[0]], *dotted[1:]])
                alternative = _alternative(qualified)
                if alternative and not _guarded(parents, dotted[-1]):
                    found = (qualified, alternative)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not (parents and isinstance(parents[0], ast.Expr)):  # a docstring (or a bare string)
                for pattern, alternative in LINUX_PATHS:
                    if pattern.search(node.value) and not _guarded(parents, ""):
                        found = (repr(node.value), alternative)
                        break
        if found:
            out.append(f"{label}:{line}: {found[0]} is Linux-only -- portable: {found[1]}")
        for child in ast.iter_child_nodes(node):
            visit(child, [node, *parents])

    visit(tree, [])
    return out


def python_files() -> Iterator[Path]:
    for root in SCANNED:
        yield from sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_package_lambdas_and_examples_use_no_linux_only_api() -> None:
    files = list(python_files())
    # the scan reads what it claims to: the package, every handler, every example script
    assert len(files) > 100
    assert {p.parent.name for p in files if p.name == "handler.py"} == {
        d.name for d in (ROOT / "lambdas").iterdir() if (d / "handler.py").is_file()
    }
    assert ROOT / "examples" / "retuning" / "run.py" in files
    found = [f for p in files for f in findings_in(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert not found, "Linux-only APIs (macOS lacks them):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source, expected",
    [
        (
            "import os\nn = len(os.sched_getaffinity(0))",
            "<m>:2: os.sched_getaffinity is Linux-only -- portable: os.cpu_count()",
        ),
        ("import os as _os\n_os.sched_setaffinity(0, {0})", "os.sched_setaffinity"),
        ("from os import sched_getaffinity\n", "<m>:1: os.sched_getaffinity"),
        ("from os import sched_getaffinity as cpus\n", "os.sched_getaffinity"),
        ("import os\nfd = os.pidfd_open(1)", "os.pidfd_open"),
        ("import os\nfd = os.memfd_create('x')", "tempfile.TemporaryFile"),
        ("import os\nos.posix_fadvise(0, 0, 0, os.POSIX_FADV_DONTNEED)", "os.posix_fadvise"),
        ("import os\nf = os.open('x', os.O_RDONLY | os.O_DIRECT)", "os.O_DIRECT"),
        ("import select\ne = select.epoll()", "selectors.DefaultSelector"),
        ("import signal\nsignal.signal(signal.SIGRTMIN + 1, print)", "signal.SIGRTMIN"),
        ("import resource\nresource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))", "resource.RLIMIT_RTPRIO"),
        ("import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE)", "resource.prlimit"),
        ("import fcntl\nfcntl.fcntl(3, fcntl.F_SETPIPE_SZ, 1 << 20)", "fcntl.F_SETPIPE_SZ"),
        ("import socket\ns = socket.socket(type=socket.SOCK_STREAM | socket.SOCK_NONBLOCK)", "setblocking"),
        ("import prctl\n", "import prctl (Linux-only module)"),
        ("from inotify_simple import INotify\n", "import inotify_simple"),
        ("open('/proc/self/status').read()", "'/proc/self/status' is Linux-only"),
        ("from pathlib import Path\nPath('/proc') / 'meminfo'", "'/proc'"),
        ("d = f'/dev/shm/{1}'", "multiprocessing.shared_memory"),
        ("import ctypes\nlibc = ctypes.CDLL('libc.so.6')", "find_library"),
    ],
)
def test_the_scan_names_the_line_and_the_portable_alternative(source: str, expected: str) -> None:
    found = findings_in(source, "<m>")
    assert found and expected in "\n".join(found), found


@pytest.mark.parametrize(
    "source",
    [
        # POSIX, which macOS has
        "import os, signal\nos.killpg(1, signal.SIGTERM)",
        "import os, subprocess\nsubprocess.Popen(['x'], start_new_session=True, preexec_fn=os.setpgrp)",
        "import os\nn = os.cpu_count() or 1",
        "import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))",
        "import select\ns = select.select([], [], [], 0)",
        # fallbacks: guarded by hasattr, a platform test, or an AttributeError handler
        "import os\nn = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()",
        "import os, sys\nif sys.platform == 'linux':\n    os.sched_setaffinity(0, {0})",
        "import os\ntry:\n    n = len(os.sched_getaffinity(0))\nexcept AttributeError:\n    n = os.cpu_count()",
        "import os\nf = getattr(os, 'memfd_create', None)",
        # a docstring or a name that only contains the words
        '"""Reads nothing from /proc/self."""\nPROC = "procedure"',
        # an attribute of something that is not the module
        "class C:\n    sched_getaffinity = 1\nC.sched_getaffinity",
    ],
)
def test_portable_code_passes_the_scan(source: str) -> None:
    assert findings_in(source, "<m>") == []
