// Helios: make kclient's web server listen on a unix socket instead of a TCP port. Preloaded into
// kclient (`node --require <this file>`), whose code listens on TCP port 6900. A TCP port, even
// on the loopback, belongs to the network namespace, which with `docker run --network host` is
// the host's: every program of the host could reach kclient without nginx's checks. A socket in
// a directory that only the desktop user and nginx's workers may enter (svc-kclient makes it)
// can be reached by nothing else. HELIOS_KCLIENT_SOCKET names the socket; it is made readable and
// writable by its group (the directory's, nginx's workers), by no one else.
'use strict';

const net = require('net');

const socketPath = process.env.HELIOS_KCLIENT_SOCKET;
if (!socketPath) {
  throw new Error('HELIOS_KCLIENT_SOCKET is not set: kclient would listen on a TCP port');
}
const originalListen = net.Server.prototype.listen;

// listen(port[, host][, backlog][, callback]) or listen({port, host, ...}[, callback]).
function isTcp(first) {
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) return true;
  return Boolean(first) && typeof first === 'object' && first.path === undefined &&
    first.fd === undefined && first.handle === undefined && first._handle === undefined;
}

net.Server.prototype.listen = function listenOnTheSocket(...args) {
  if (!isTcp(args[0])) return originalListen.apply(this, args);
  const callback = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
  // The socket file is made while listen() runs: owner and group may read and write it.
  const previous = process.umask(0o117);
  try {
    return callback ? originalListen.call(this, socketPath, callback) : originalListen.call(this, socketPath);
  } finally {
    process.umask(previous);
  }
};
