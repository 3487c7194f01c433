"""The launcher of a kernel forked from a zygote (``zygote.py``): what jupyter_client starts and watches.

Run as ``python -I -S launch_kernel.py SOCKET REQUEST``, so that it starts in a few milliseconds and
nothing in the working folder (the student's) or the environment shapes it: the standard library only.
It hands the zygote the request and its own stdout and stderr (the kernel's log), forwards the
signals jupyter_client sends, and exits with the kernel's status. The zygote kills the sandbox when
this process ends, as bubblewrap's --die-with-parent does.
"""
import signal
import socket
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def launch(socket_path: str, request: str) -> int:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    socket.send_fds(conn, [request.encode()], [1, 2])
    for number in FORWARDED:
        signal.signal(number, lambda n, _frame: conn.sendall(f"signal {n}\n".encode()))
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = conn.recv(64)
        if not chunk:
            return 1
        reply += chunk
    return int(reply.split()[-1])


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1], sys.argv[2]))
