"""One network namespace per compose service, joined by a bridge, like a compose network.

Each service gets a namespace named ``lv<run>-<service>`` with ``lo`` and ``eth0`` (a veth whose other
end is on the run's bridge), an address in a private /24, and no default route: nothing can
leave the bridge. The harness reaches services from the host through the bridge's own address.
The hosts file every namespace gets maps each service's name (and its aliases) to its address,
so ``0.0.0.0:4318`` binds and short host names resolve exactly as on a compose network.
"""

import ipaddress
import subprocess

from util import log


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def used_networks():
    out = ip("-4", "route", "show", "table", "all", check=False).stdout
    nets = []
    for line in out.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("local", "broadcast"):
            word = line.split()[1]
        try:
            nets.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            pass
    return nets


class Network:
    def __init__(self, run_id):
        self.run_id = run_id
        self.bridge = f"lvbr{run_id}"
        self.namespaces = {}  # service -> (netns, address)
        self.links = []
        self.subnet = None
        self.next_host = 10
        self.created_bridge = False

    def netns_name(self, service):
        # Named after the service, with the run's id so that two runs on one host never collide.
        return f"lv{self.run_id}-{service}"

    def setup(self):
        used = used_networks()
        for third in range(213, 254):
            cand = ipaddress.ip_network(f"10.{third}.0.0/24")
            if not any(cand.overlaps(u) for u in used if u.prefixlen > 0):
                self.subnet = cand
                break
        if self.subnet is None:
            raise RuntimeError("no free private /24 for the bridge")
        hosts = list(self.subnet.hosts())
        self.host_ip = str(hosts[0])
        ip("link", "add", self.bridge, "type", "bridge")
        self.created_bridge = True
        ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        log(f"network: bridge {self.bridge} {self.subnet}")

    def add(self, service):
        """Create the namespace of a service; returns its address."""
        if service in self.namespaces:
            return self.namespaces[service][1]
        ns = self.netns_name(service)
        existing = ip("netns", "list", check=False).stdout.split()
        if ns in existing:
            # A namespace left by an earlier run that died without cleaning up.
            self._kill_netns_pids(ns)
            ip("netns", "del", ns, check=False)
        ip("netns", "add", ns)
        idx = self.next_host
        self.next_host += 1
        addr = str(list(self.subnet.hosts())[idx - 1])
        host_end, ns_end = f"lv{self.run_id}{idx}h", f"lv{self.run_id}{idx}c"
        ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        self.links.append(host_end)
        ip("link", "set", ns_end, "netns", ns)
        ip("link", "set", host_end, "master", self.bridge)
        ip("link", "set", host_end, "up")
        ip("-n", ns, "link", "set", ns_end, "name", "eth0")
        ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        self.namespaces[service] = (ns, addr)
        return addr

    def address(self, service):
        return self.namespaces[service][1]

    def set_link(self, service, up):
        """Take a service's interface down (it vanishes from the network) or back up."""
        ns, _ = self.namespaces[service]
        ip("-n", ns, "link", "set", "eth0", "up" if up else "down")

    def hosts_file(self, names):
        """names: service -> list of host names it answers to."""
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        for service, aliases in sorted(names.items()):
            if service in self.namespaces:
                lines.append(f"{self.namespaces[service][1]}\t" + " ".join(dict.fromkeys(aliases)))
        return "\n".join(lines) + "\n"

    def _kill_netns_pids(self, ns):
        pids = ip("netns", "pids", ns, check=False).stdout.split()
        for pid in pids:
            subprocess.run(["kill", "-KILL", pid], capture_output=True)

    def teardown(self):
        for service, (ns, _) in list(self.namespaces.items()):
            self._kill_netns_pids(ns)
            ip("netns", "del", ns, check=False)
        for link in self.links:
            ip("link", "del", link, check=False)
        if self.created_bridge:
            ip("link", "del", self.bridge, check=False)
        self.namespaces.clear()
