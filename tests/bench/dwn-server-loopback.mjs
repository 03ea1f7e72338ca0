// Runs @web5/dwn-server 0.6.1 unchanged (its dist/esm/src/main.js, given as
// the argument) but bound to 127.0.0.1: 0.6.1 listens on every interface
// (DS_PORT only), and the benchmarks stay on loopback.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number') args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
await import(pathToFileURL(process.argv[2]).href);
