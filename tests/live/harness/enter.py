"""Enter a service's container-like environment and exec its program.

Run as root by the harness, already inside the service's network namespace (``ip netns exec``,
which also gives a mount namespace of its own):

    python3 enter.py SPEC.json

SPEC (written by runner.py) says what the container looks like:

- ``scratch``: a host directory; a tmpfs is mounted there holding the overlay's upper layer and
  the new root (the host's root file system, read-only underneath, is the lower layer), so
  mount points the image would have (``/etc/otelcol-contrib``) exist in the container without
  touching the host;
- ``host_paths``: host directories the harness's programs are started from (the repository, the
  tools' cache), bound read-only at the same paths if the container's own /tmp or /run hides them;
- ``mounts``: ``[{source, target, kind: dir|file, read_only}]`` bind mounts at container paths
  (volumes are host directories, configs host files);
- ``files``: ``{path: text}`` written into the container's root before it may become read-only
  (``/etc/passwd`` and ``/etc/group`` with the image's users, the hosts file);
- ``read_only``: remount the root read-only (compose ``read_only: true``; volumes stay writable);
- ``user``, ``gid``, ``groups``: numeric ids (``setpriv``); ``drop_caps``, ``no_new_privs``;
- ``env``, ``argv``, ``cwd``.

Everything set up here disappears with the process's mount namespace.
"""

import json
import os
import subprocess
import sys


def sh(*args):
    subprocess.run(list(args), check=True)


def ensure(path, kind):
    if kind == "file":
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.lexists(path):
            open(path, "a").close()
    else:
        os.makedirs(path, exist_ok=True)


def main():
    spec = json.load(open(sys.argv[1]))
    sh("mount", "--make-rprivate", "/")
    scratch = spec["scratch"]
    sh("mount", "-t", "tmpfs", "-o", "size=256m,mode=0755", "lv-scratch", scratch)
    upper, work, root = (os.path.join(scratch, d) for d in ("upper", "work", "root"))
    for d in (upper, work, root):
        os.mkdir(d)
    sh("mount", "-t", "overlay", "lv-root", "-o", f"lowerdir=/,upperdir={upper},workdir={work}", root)
    for sub in ("proc", "sys", "dev"):
        sh("mount", "--rbind", "/" + sub, os.path.join(root, sub))
    for mp in ("tmp", "run"):
        # A container's /tmp and /run are its own.
        p = os.path.join(root, mp)
        os.makedirs(p, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", "size=256m,mode=1777", "lv-" + mp, p)
    for path in spec.get("host_paths", []):
        # The harness's own files (the repository, the tools' cache) stay visible at their host
        # paths when they live under /tmp or /run, which the container gets fresh: a checkout in
        # /tmp must run as one anywhere else. Read-only, like the rest of the host underneath.
        if any(path == mp or path.startswith(mp + "/") for mp in ("/tmp", "/run")):
            dest = root + path
            os.makedirs(dest, exist_ok=True)
            sh("mount", "--bind", path, dest)
            sh("mount", "-o", "remount,bind,ro", dest)
    for path, text in spec.get("files", {}).items():
        dest = root + path
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.islink(dest):
            os.unlink(dest)
        with open(dest, "w") as f:
            f.write(text)
    for path, (uid, gid, mode) in spec.get("image_dirs", {}).items():
        dest = root + path
        os.makedirs(dest, exist_ok=True)
        os.chown(dest, uid, gid)
        os.chmod(dest, mode)
    for m in spec.get("mounts", []):
        dest = root + m["target"]
        ensure(dest, m["kind"])
        sh("mount", "--bind", m["source"], dest)
        if m.get("read_only"):
            sh("mount", "-o", "remount,bind,ro", dest)
    if spec.get("read_only"):
        sh("mount", "-o", "remount,bind,ro", root)
    os.chroot(root)
    os.chdir(spec.get("cwd") or "/")
    argv = ["setpriv"]
    if spec.get("user") is not None:
        argv += ["--reuid", str(spec["user"]), "--regid", str(spec["gid"])]
        groups = spec.get("groups") or []
        argv += ["--groups", ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    if spec.get("drop_caps"):
        argv += ["--inh-caps=-all", "--bounding-set=-all"]
    if spec.get("no_new_privs"):
        argv += ["--no-new-privs"]
    argv += ["--", *spec["argv"]]
    os.execve("/usr/bin/setpriv", argv, spec["env"])


if __name__ == "__main__":
    main()
