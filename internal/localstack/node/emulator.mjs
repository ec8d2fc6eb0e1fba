// Starts one emulator (fauxqs or dynalite) on a unix socket in a folder only
// its user can enter, and prints {"ready":true} on stdout once it listens. No
// TCP port is opened: the Go side serves each emulator on 127.0.0.1 behind a
// front that checks every request's signature. SIGTERM closes the server
// (dynalite then closes its LevelDB store) before exiting.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// dynalite's LevelDB files hold imported rows: readable by their owner only.
process.umask(0o077);
const [kind, socketPath, dataPath] = process.argv.slice(2);

async function startFauxqs() {
  const { buildApp } = await import("fauxqs");
  // fauxqs's exports map hides SqsStore; a file URL reaches it. The version is pinned.
  const storeURL = new URL("./node_modules/fauxqs/dist/sqs/sqsStore.js", import.meta.url);
  const { SqsStore } = await import(storeURL.href);
  const sqsStore = new SqsStore();
  // An empty host makes queue URLs use the request's Host header:
  // http://127.0.0.1:PORT/000000000000/Name instead of sqs.<region>.localhost.
  sqsStore.host = "";
  const app = buildApp({ logger: false, stores: { sqsStore } });
  await app.listen({ path: socketPath });
  return { close: () => app.close() };
}

function startDynalite() {
  closeIteratorsOnReturn();
  const dynalite = require("dynalite");
  // A new table is CREATING for createTableMs, as on AWS; Start waits until it
  // is ACTIVE. Tests lengthen the delay to check that wait.
  const createTableMs = Number(process.env.SEGPORT_DYNALITE_CREATE_TABLE_MS || 0);
  const server = dynalite({ path: dataPath, createTableMs, deleteTableMs: 0, updateTableMs: 0 });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      const close = () =>
        new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections(); // keep-alive clients would hold close open
        });
      resolve({ close });
    });
  });
}

// dynalite ends the LevelDB iterator behind each Query and Scan stream with
// iterator.return(), which abstract-level's iterators do not have, so every
// query left its iterator open until the process ended. An open iterator pins
// the LevelDB files of its moment: compaction could never delete any, and the
// data folder grew with everything ever written (gigabytes for a 24 MB import),
// to shrink back at the next start. return() closes the iterator.
function closeIteratorsOnReturn() {
  const { AbstractKeyIterator, AbstractValueIterator } = require("abstract-level");
  for (const Iterator of [AbstractKeyIterator, AbstractValueIterator]) {
    Iterator.prototype.return ??= function () {
      return this.close();
    };
  }
}

const starters = { fauxqs: startFauxqs, dynalite: startDynalite };
if (!starters[kind]) {
  console.error("usage: node emulator.mjs fauxqs|dynalite SOCKET [data path]");
  process.exit(2);
}

let server;
try {
  server = await starters[kind]();
} catch (err) {
  console.error(`start ${kind}: ${err.stack || err}`);
  process.exit(1);
}
console.log(JSON.stringify({ ready: true }));

function shutdown() {
  setTimeout(() => process.exit(0), 3000).unref();
  server.close().then(() => process.exit(0), () => process.exit(1));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
