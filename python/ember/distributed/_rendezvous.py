"""Rendezvous for init_process_group: init_method URLs to stores.

env:// reads MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE; tcp://host:port
names rank 0's store server; file:///path names a directory every rank can
see. Both URL forms take ?rank=..&world_size=.. as torch's do.
"""

import os
import socket
from urllib.parse import parse_qs, urlparse

from ember._ember import _distributed as _C


def _error(method, message):
    return ValueError("Error initializing ember.distributed using " + method +
                      " rendezvous: " + message)


def _env_int(name, method):
    value = os.environ.get(name)
    if value is None:
        raise _error(method, "environment variable " + name + " expected, but not set")
    try:
        return int(value)
    except ValueError:
        raise _error(method, "environment variable " + name + " must be an integer, got " +
                     repr(value)) from None


def _query_int(query, name, current):
    if name in query:
        return int(query[name][0])
    return current


def local_address(master_addr):
    """The address of this host that the master (and so the other ranks) can
    reach: loopback for a loopback master, else the source address of a
    route to it (no packet is sent). GLOO_SOCKET_IFNAME overrides (the
    engine picks the interface then)."""
    if os.environ.get("GLOO_SOCKET_IFNAME"):
        return ""
    if not master_addr:
        return "127.0.0.1"
    try:
        infos = socket.getaddrinfo(master_addr, None, proto=socket.IPPROTO_UDP)
    except OSError:
        return "127.0.0.1"
    for family, _, _, _, sockaddr in infos:
        host = sockaddr[0]
        if host.startswith("127.") or host == "::1":
            return "127.0.0.1"
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((host, 9))
                return probe.getsockname()[0]
        except OSError:
            continue
    return "127.0.0.1"


def rendezvous(init_method, rank, world_size, timeout):
    """(store, rank, world_size, engine address) for `init_method`."""
    url = urlparse(init_method)
    query = parse_qs(url.query)
    rank = _query_int(query, "rank", rank)
    world_size = _query_int(query, "world_size", world_size)
    if url.scheme == "env":
        method = "env://"
        if rank < 0:
            rank = _env_int("RANK", method)
        if world_size < 0:
            world_size = _env_int("WORLD_SIZE", method)
        host = os.environ.get("MASTER_ADDR")
        if not host:
            raise _error(method, "environment variable MASTER_ADDR expected, but not set")
        port = _env_int("MASTER_PORT", method)
    elif url.scheme == "tcp":
        method = "tcp://"
        host, port = url.hostname, url.port
        if not host or port is None:
            raise _error(method, "port number missing in " + repr(init_method))
    elif url.scheme == "file":
        method = "file://"
        path = url.path
        if not path:
            raise _error(method, "no path in " + repr(init_method))
    else:
        raise ValueError("No rendezvous handler for " + url.scheme + "://")
    if rank < 0:
        raise _error(method, "rank parameter missing")
    if world_size < 1:
        raise _error(method, "world size parameter missing")
    if rank >= world_size:
        raise ValueError("Invalid rank " + str(rank) + " for world size " + str(world_size))
    if url.scheme == "file":
        store = _C.file_store(path, timeout)
        return store, rank, world_size, local_address(os.environ.get("MASTER_ADDR"))
    store = _C.tcp_store(host, port, rank == 0, timeout)
    return store, rank, world_size, local_address(host)
