// peer.mjs - interop check with a third-party BEP 15 client: two
// bittorrent-tracker Clients announce one torrent to the tracker URL given as
// argv[2]; each must learn the other's address. Prints PASS and exits 0, or
// FAIL and exits 1 (after 10 s at most).
import pkg from 'bittorrent-tracker'
import crypto from 'crypto'

const Client = pkg.Client ?? pkg
const announce = [process.argv[2]]
const infoHash = crypto.randomBytes(20).toString('hex')
const make = (port) => new Client({ infoHash, peerId: crypto.randomBytes(20), announce, port })
const clients = { a: make(6881), b: make(6882) }
const seen = { a: false, b: false }

const timer = setTimeout(() => {
  console.log('interop: FAIL: peers did not find each other in 10 s')
  process.exit(1)
}, 10000)

for (const [name, client] of Object.entries(clients)) {
  client.on('error', (e) => console.log(`interop: ${name} error: ${e.message}`))
  client.on('warning', (e) => console.log(`interop: ${name} warning: ${e.message}`))
  client.on('peer', (peer) => {
    const other = name === 'a' ? '6882' : '6881'
    if (peer.endsWith(':' + other)) seen[name] = true
    if (seen.a && seen.b) {
      clearTimeout(timer)
      clients.a.destroy()
      clients.b.destroy()
      console.log('interop: PASS: both bittorrent-tracker clients got each other as peers')
      process.exit(0)
    }
  })
}
clients.a.start()
setTimeout(() => {
  clients.b.start()
  setTimeout(() => clients.a.update(), 500)
}, 500)
