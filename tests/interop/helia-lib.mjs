// Shared by the interop scripts that run a Helia 7 peer (bitswap-helia.mjs,
// ipns-dht.mjs).  p2p_npm (p2p-lib.bash) copies it into the npm directory
// beside those scripts' copies, so its imports resolve from there.
//
// helia's index imports @helia/libp2p's and @helia/http's defaults
// (websockets, http: undici 8, which needs Node 22): the Helia class and the
// libp2p router come from their own files, and withOwnLibp2p is @helia/libp2p's
// withLibp2pLight without those defaults.  So Helia has no HTTP routers or
// gateways: nothing leaves this machine.

// libp2p 3 uses Promise.withResolvers (Node 22); this machine has Node 20.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

const nodeModules = new URL('./node_modules/', import.meta.url)
const { Helia } = await import(new URL('helia/dist/src/helia.js', nodeModules))
const { libp2pRouting } = await import(new URL('@helia/libp2p/dist/src/routing.js', nodeModules))
const { createLibp2p } = await import(new URL('libp2p/dist/src/index.js', nodeModules))

// A Helia without libp2p yet (withOwnLibp2p adds it).
export const createHeliaLight = (init) => new Helia({ name: 'helia', version: '7', ...init })

// Gives helia a libp2p node made from opts when it starts, with the libp2p router.
export function withOwnLibp2p (helia, opts) {
  let node
  Object.defineProperty(helia, 'libp2p', {
    configurable: true,
    enumerable: true,
    get () {
      if (node == null) throw new Error('libp2p not started')
      return node
    }
  })
  helia.addMixin({
    name: 'libp2p',
    start: async (h) => {
      node ??= await createLibp2p({ ...opts, datastore: h.datastore })
      if (!h.hasRouter('libp2p-router')) h.addRouter(libp2pRouting(node))
      await node.start()
    },
    stop: async () => { await node?.stop() }
  })
  return helia
}
