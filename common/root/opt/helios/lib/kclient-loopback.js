// Helios: make every TCP server of this Node.js process listen on the loopback
// interface only. Preloaded into kclient (`node --require <this file>`), whose
// code listens on port 6900 of all interfaces: behind nginx it must not be
// reachable from the network. HELIOS_KCLIENT_HOST overrides the address.
'use strict';

const net = require('net');

const host = process.env.HELIOS_KCLIENT_HOST || '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (isPort(first) && typeof args[1] !== 'string') {
    // listen(port[, backlog][, callback]) -> listen(port, host[, backlog][, callback])
    args.splice(1, 0, host);
  } else if (first && typeof first === 'object' && !Array.isArray(first) &&
             first.path === undefined && first.host === undefined &&
             first.fd === undefined && first.handle === undefined && first._handle === undefined) {
    args[0] = Object.assign({}, first, { host });
  }
  return originalListen.apply(this, args);
};
