// An SSE client that none of us wrote, pointed at sluice: the npm package
// `eventsource` (pinned in package.json; v4 is the newest line that runs on
// Node 20). Run by internal/httpapi/eventsource_test.go.
//
//   node client.mjs URL N [K]        (or SSE_URL, SSE_COUNT, SSE_RESUME_AFTER)
//
// Prints every message as one line "<lastEventId> <data>" on stdout and exits
// 0 after N of them. Resuming is the library's own: the server ends the
// response (the test asks for ?limit=K), the library reconnects to the same
// URL by itself and sends Last-Event-ID. The fetch passed to the library only
// watches the requests it makes (it changes nothing) and reports each one on
// stderr as "connect <i> Last-Event-ID: <id|none>". With K, the script also
// checks that the second connection came after exactly K messages and carried
// the id of the K-th message; it exits 1 if not.
import { EventSource } from 'eventsource'

const url = process.argv[2] ?? process.env.SSE_URL
const want = Number(process.argv[3] ?? process.env.SSE_COUNT)
const resumeAfter = Number(process.argv[4] ?? process.env.SSE_RESUME_AFTER ?? 0)
const timeoutMs = Number(process.env.SSE_TIMEOUT_MS ?? 45000)
if (!url || !Number.isInteger(want) || want < 1 || !Number.isInteger(resumeAfter) || resumeAfter < 0) {
  console.error('usage: node client.mjs URL N [K]')
  process.exit(64)
}

let received = 0
let lastId = ''
const ids = [] // lastEventId of every message, in order
const connects = [] // [messages received before it, Last-Event-ID sent or null]

function fail (msg) {
  console.error(`client: ${msg} (after ${received} message(s), last id ${lastId || 'none'})`)
  process.exit(1)
}

const es = new EventSource(url, {
  fetch: (input, init) => {
    const sent = new Headers(init?.headers).get('Last-Event-ID')
    connects.push([received, sent])
    console.error(`connect ${connects.length} Last-Event-ID: ${sent ?? 'none'}`)
    return fetch(input, init)
  }
})

es.addEventListener('open', () => console.error(`open ${connects.length}`))

es.addEventListener('error', (e) => {
  // A closed connection is reported as an error and retried; only a closed
  // EventSource (non-200 status, wrong content type) is the end.
  console.error(`error event: ${e.message || e.data || "(no message: the connection ended)"} (code ${e.code ?? '-'}, readyState ${es.readyState})`)
  if (es.readyState === EventSource.CLOSED) fail('the library gave up')
})

es.onmessage = (e) => {
  received++
  lastId = e.lastEventId
  ids.push(lastId)
  process.stdout.write(`${e.lastEventId} ${e.data}\n`)
  if (received < want) return
  es.close()
  if (resumeAfter > 0) {
    const again = connects[1]
    if (!again) fail(`no reconnect; expected one after ${resumeAfter} message(s)`)
    if (again[0] !== resumeAfter) fail(`reconnected after ${again[0]} message(s), expected ${resumeAfter}`)
    if (again[1] !== ids[resumeAfter - 1]) fail(`reconnected with Last-Event-ID ${again[1]}, expected ${ids[resumeAfter - 1]}`)
  }
  process.stdout.write('', () => process.exit(0))
}

// Not unref'd: it also keeps the script from ending quietly, short of N.
setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs)
