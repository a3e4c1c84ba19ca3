"""Network namespaces for tests that cut links (you are root): a bridge in its own namespace
PREFIX-br and one namespace PREFIX-<member> per member, each joined to the bridge by a veth
pair on 10.77.0.0/24. Nothing is added to the host's own namespace, and teardown removes
every namespace it made.

scripts/cluster.sh (CLUSTER_NETNS=PREFIX) uses the same names: node-<i> in PREFIX-n<i> on
10.77.0.<i>, the broker in PREFIX-k on 10.77.0.200; the client here is PREFIX-c on
10.77.0.100.

Cuts:
- link(m, False): the member's veth is down: it reaches nobody and nobody reaches it;
- drop(src, dst): packets from src to dst are dropped where they arrive (an iptables rule in
  dst's namespace), so the sender sees nothing wrong: a one-way cut. Both directions make a
  cut between two members that leaves the others' links alone;
- heal(): every rule gone, every link up."""
import os
import subprocess

BROKER, CLIENT = "k", "c"


def sh(*args):
    out = subprocess.run(list(args), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), out.stderr.strip()))


def node_member(node_id):
    """scripts/cluster.sh's node-<i> lives in member n<i>."""
    return "n" + node_id.rsplit("-", 1)[1]


def cluster_members(nodes):
    """The members of a cluster of `nodes` sagad processes, the broker and the client."""
    m = {"n%d" % i: i for i in range(1, nodes + 1)}
    m[BROKER] = 200
    m[CLIENT] = 100
    return m


def default_prefix():
    return "saga%d" % (os.getpid() % 100000)


class Net:
    def __init__(self, prefix, members):
        self.prefix = prefix
        self.members = dict(members)  # name -> last octet of its address
        self.cut_links = set()
        self.rules = set()  # (src, dst)

    def ns(self, m):
        return "%s-%s" % (self.prefix, m)

    def ip(self, m):
        return "10.77.0.%d" % self.members[m]

    def exec_in(self, m):
        """The command prefix that runs a program in the member's namespace."""
        return ["ip", "netns", "exec", self.ns(m)]

    def setup(self):
        br = self.ns("br")
        try:
            sh("ip", "netns", "add", br)
            sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", br, "link", "set", "br0", "up")
            for m, octet in sorted(self.members.items()):
                name = self.ns(m)
                sh("ip", "netns", "add", name)
                sh("ip", "-n", name, "link", "set", "lo", "up")
                # One veth pair, made in the member's namespace, its peer moved to the bridge's.
                sh("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name",
                   "vb%d" % octet, "netns", br)
                sh("ip", "-n", name, "addr", "add", self.ip(m) + "/24", "dev", "eth0")
                sh("ip", "-n", name, "link", "set", "eth0", "up")
                sh("ip", "-n", br, "link", "set", "vb%d" % octet, "master", "br0")
                sh("ip", "-n", br, "link", "set", "vb%d" % octet, "up")
        except BaseException:  # a signal during setup too
            self.teardown()
            raise
        return self

    def teardown(self):
        """Kills whatever still runs in the namespaces (a run that was itself killed leaves
        nodes and a broker there, and a namespace lives as long as its processes), then
        removes them."""
        names = [self.ns(m) for m in self.members] + [self.ns("br")]
        for name in names:
            out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
            for pid in out.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)

    def link(self, m, up):
        sh("ip", "-n", self.ns("br"), "link", "set", "vb%d" % self.members[m], "up" if up else "down")
        (self.cut_links.discard if up else self.cut_links.add)(m)

    def drop(self, src, dst):
        sh(*self.exec_in(dst), "iptables", "-w", "-A", "INPUT", "-s", self.ip(src), "-j", "DROP")
        self.rules.add((src, dst))

    def heal(self):
        for m in sorted(self.cut_links):
            self.link(m, True)
        for dst in sorted({d for _, d in self.rules}):
            sh(*self.exec_in(dst), "iptables", "-w", "-F", "INPUT")
        self.rules.clear()
